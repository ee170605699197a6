"""``gridwatch process`` (the engine offline, over a log) and ``gridwatch cap-xml``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from streams.cli.common import err, load_settings
from streams.core.cap_xml import XSD_ENV_VAR


@click.command()
@click.argument("log", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--assets",
    "assets_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="GeoJSON registry (env GRIDWATCH_ASSETS_FILE); without one every asset is unknown.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    default=Path("-"),
    show_default=True,
    help="Alerts as JSON Lines.",
)
@click.option(
    "--risk-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the final risk picture (latest risk state per asset).",
)
def process(log: Path, assets_file: Path | None, out: Path, risk_out: Path | None) -> None:
    """Run the risk logic over an event log offline, deterministically."""
    from streams.core.eventlog import read_log
    from streams.core.offline import process_log, write_risk
    from streams.engine.config import load_config
    from streams.engine.registry import AssetRegistry
    from streams.engine.registry_file import load_registry

    settings = load_settings()
    registry_path = assets_file or settings.assets_file
    registry = AssetRegistry([])
    if registry_path is not None:
        registry, problems = load_registry(registry_path)
        for problem in problems:
            err.print(f"[yellow]registry:[/] {problem}", highlight=False)
    else:
        err.print("[yellow]no --assets given: every asset is unknown, no case can be matched[/]")
    config = load_config(settings.engine_config)
    with click.open_file(str(out), "wb") as alerts_out:
        summary = process_log(
            read_log(log),
            registry,
            config,
            alerts_out,
            max_message_bytes=settings.max_message_bytes,
            invalid_out=sys.stderr,
        )
    if risk_out is not None:
        with risk_out.open("wb") as handle:
            write_risk(summary, handle)
    invalid = sum(summary.invalid.values())
    alerts = ", ".join(f"{k} {v}" for k, v in sorted(summary.alerts.items())) or "none"
    err.print(
        f"{summary.lines} lines: {summary.events} events, {invalid} invalid, "
        f"{summary.duplicates} duplicates, {summary.late} late, {summary.unmatched} unmatched "
        f"cases, {summary.unknown_asset} for unknown assets; alerts: {alerts}",
        highlight=False,
    )


@click.command("cap-xml")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
    default=None,
    help="Write one <identifier>.xml per alert into DIR (created if missing) and print the paths.",
)
@click.option(
    "--validate/--no-validate",
    default=False,
    show_default=True,
    help=f"Validate each document against the OASIS CAP 1.2 schema (env {XSD_ENV_VAR}).",
)
def cap_xml_command(out_dir: Path | None, validate: bool) -> None:
    """Render alerts (JSON or JSON Lines on stdin) as CAP 1.2 XML documents.

    Without --out-dir the documents are written to stdout, one after the
    other. Lines that are not valid alerts are reported on stderr with their
    line number and the command exits 1 after rendering the rest; with
    --validate, invalid documents are reported (and not written) and the
    command exits 1. Exit 2: --validate was given but the schema is missing.
    """
    from lxml import etree

    from schemas import Alert, DecodeError, decode_model
    from streams.core.cap_xml import (
        alert_records,
        cap_xsd_candidate,
        cap_xsd_path,
        load_cap_schema,
        render_cap_xml,
        validate_cap_xml,
        xml_file_name,
    )

    errors_out = Console(stderr=True, highlight=False, soft_wrap=True)
    xsd: Path | None = None
    if validate:
        xsd = cap_xsd_path()
        if xsd is None:
            where = cap_xsd_candidate()
            looked = f" (looked for {where})" if where is not None else ""
            errors_out.print(
                f"error: the CAP 1.2 schema was not found{looked}; "
                f"set {XSD_ENV_VAR} to the path of CAP-v1.2.xsd",
                markup=False,
            )
            sys.exit(2)
        try:
            load_cap_schema(xsd)  # load (and cache) the schema once, up front
        except (OSError, etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
            errors_out.print(f"error: cannot use the CAP schema {xsd}: {exc}", markup=False)
            sys.exit(2)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    failed = False
    taken: set[str] = set()
    for number, raw in alert_records(click.get_binary_stream("stdin").read()):
        try:
            alert = decode_model(raw, Alert)
        except DecodeError as exc:
            errors_out.print(f"line {number}: {exc.reason.value}: {exc.detail}", markup=False)
            failed = True
            continue
        document = render_cap_xml(alert)
        if xsd is not None:
            errors = validate_cap_xml(document, xsd)
            if errors:
                failed = True
                errors_out.print(
                    f"line {number}: alert {alert.identifier!r} is not valid CAP 1.2:",
                    markup=False,
                )
                for error in errors:
                    errors_out.print(f"  {error}", markup=False)
                continue
        if out_dir is None:
            sys.stdout.buffer.write(document)
            sys.stdout.buffer.flush()
        else:
            path = out_dir / xml_file_name(alert.identifier, taken)
            try:
                path.write_bytes(document)
            except OSError as exc:
                errors_out.print(f"error: cannot write {path}: {exc}", markup=False)
                sys.exit(1)
            click.echo(str(path))
    if failed:
        sys.exit(1)
