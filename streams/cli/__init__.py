"""The ``gridwatch`` command line: one module per command group, each thin (parse, call, print)."""

from streams.cli.main import main

__all__ = ["main"]
