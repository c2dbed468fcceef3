"""``svcnet preflight``: check every file and folder a profile will read before its first job starts."""

from __future__ import annotations

import json
from pathlib import Path

import typer

CONFIG_HELP = "Config file(s); later files are merged over earlier ones."


def register(app: typer.Typer) -> None:
    @app.command("preflight")
    def preflight_cmd(
        config: list[Path] = typer.Option([Path("config/config.yaml")], "--config", "-c", help=CONFIG_HELP),
        profile: str = typer.Option(None, "--profile", "-p", help="Profile to apply (default: the file's `profile:`)."),
        fetch_root: Path = typer.Option(
            Path("."), help="Folder `svcnet fetch` puts registry entries under (as its --dest)."
        ),
        allow_missing: bool = typer.Option(
            False,
            "--allow-missing",
            envvar="SVCNET_ALLOW_MISSING",
            help="Print what is missing as a warning and exit 0 (run what can run); also $SVCNET_ALLOW_MISSING=1 "
            "(for dvc repro).",
        ),
        inputs: bool = typer.Option(
            False, "--inputs", help="Print the paths each stage reads as JSON (stage -> paths) instead of checking."
        ),
        record_file: Path = typer.Option(
            None,
            "--record",
            help="Also write FILE: JSON {stage: {path: fingerprint}} for every DAG stage (sha256 of registry-verified "
            "files, else size / file count and bytes); written atomically, also with --allow-missing.",
        ),
    ) -> None:
        """List every dataset, weight file and folder the profile's stages read (registry entries and configured
        paths), check presence and sha256 where the registry publishes it, and print ONE list of everything missing
        with the `svcnet fetch NAME` or manual step of each. Exit 2 when a required item is missing."""
        from svcnet.config import load_config
        from svcnet.errors import SvcnetError
        from svcnet.preflight import format_missing, missing_requirements, record, required_inputs, requirements

        cfg = load_config(config, profile)
        if inputs:
            typer.echo(json.dumps(required_inputs(cfg, fetch_root), indent=2))
            return
        missing = missing_requirements(cfg, fetch_root)
        required = [r for r in missing if not r.optional]
        if record_file is not None and (allow_missing or not required):
            from svcnet.data.atomic import write_text_atomic

            write_text_atomic(record_file, json.dumps(record(cfg, fetch_root), indent=2, sort_keys=True) + "\n")
        total = sum(not r.optional for r in requirements(cfg, fetch_root))
        if not missing:
            typer.echo(f"preflight {cfg.profile}: all {total} required files and folders are in place")
            return
        typer.echo(format_missing(missing), err=True)
        optional = len(missing) - len(required)
        summary = f"preflight {cfg.profile}: {len(required)} of {total} required item(s) missing" + (
            f" (and {optional} optional)" if optional else ""
        )
        if not required:
            typer.echo(f"preflight {cfg.profile}: all {total} required item(s) in place, {optional} optional missing")
            return
        if allow_missing:
            typer.echo(f"{summary}; --allow-missing: continuing, the stages that need them will fail", err=True)
            return
        raise SvcnetError(f"{summary}; nothing was started (get them, or pass --allow-missing)")
