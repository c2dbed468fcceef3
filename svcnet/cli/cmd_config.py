"""``svcnet config``: the resolved configuration (profile merged over the defaults) as YAML."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("config")
    def config_cmd(
        config: list[Path] = typer.Option(None, "--config", "-c", help="Config file(s) (default config/config.yaml)."),
        profile: str = typer.Option(None, "--profile", "-p", help="Profile to apply (default: the file's `profile:`)."),
        out: Path = typer.Option(None, "--out", "-o", help="Write the YAML to this file (default: print it)."),
    ) -> None:
        """Print (or write to OUT) the configuration every stage reads: the profile merged over the defaults, without
        the `profiles` section. DVC reads its stages' parameters from this file (results/<profile>/config.yaml)."""
        import yaml

        from svcnet.config import DEFAULT_CONFIG, load_raw, resolve
        from svcnet.data.atomic import write_text_atomic

        paths = config or [DEFAULT_CONFIG]
        resolved = resolve(load_raw(paths), profile, ", ".join(map(str, paths)))
        text = yaml.safe_dump(resolved, sort_keys=False)
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_text_atomic(out, text)
