"""What every command shares: the consoles, failing with a message, settings, common flags."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
from pydantic import ValidationError
from rich.console import Console

from streams.core.settings import Settings

err = Console(stderr=True)
out = Console()


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with the flags that were given (None = not given)."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        fail(f"invalid settings:\n{exc}", 2)


bootstrap_option = click.option(
    "--bootstrap", default=None, help="Kafka servers (env GRIDWATCH_BOOTSTRAP)."
)
web_port_option = click.option(
    "--web-port", type=int, default=None, help="HTTP port (env GRIDWATCH_WEB_PORT)."
)
