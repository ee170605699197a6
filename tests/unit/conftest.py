from __future__ import annotations

from datetime import datetime

import pytest

from schemas import InputLimits
from tests.constants import NOW


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def limits() -> InputLimits:
    return InputLimits()
