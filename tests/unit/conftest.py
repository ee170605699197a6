from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas import InputLimits

# The worker clock in unit tests: an hour after the factories' base time.
NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def limits() -> InputLimits:
    return InputLimits()
