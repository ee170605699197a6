"""The ``gridwatch`` command group: every command module registered in one place."""

from __future__ import annotations

import click

from streams.cli.bench import bench
from streams.cli.kafka import kafka, topics
from streams.cli.lab import evaluate_command, simulate
from streams.cli.logs import record, replay
from streams.cli.process import cap_xml_command, process
from streams.cli.worker import assets, demo, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """gridwatch: a megacity's sensor, hotline and inspection events, joined per asset."""


for command in (
    kafka,
    topics,
    worker,
    assets,
    process,
    cap_xml_command,
    bench,
    evaluate_command,
    replay,
    record,
    simulate,
    demo,
):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="gridwatch")
