"""``svcnet fetch``: download registry sources (datasets/sources.yaml) with verification, or print the manual step."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("fetch")
    def fetch_cmd(
        names: list[str] = typer.Argument(None, help="Source names (see --list)."),
        dest: Path = typer.Option(
            Path("."), "--dest", help="Root folder: files go to their registry paths under it (weights/, resources/)."
        ),
        list_: bool = typer.Option(False, "--list", help="List the sources: name, kind, access, size, licence."),
        timeout: float = typer.Option(60.0, help="Seconds to wait for a connection or for more data."),
        delete_archive: bool = typer.Option(False, "--delete-archive", help="Remove an archive once it is unpacked."),
        no_verify: bool = typer.Option(False, "--no-verify", help="Skip the sha256/size checks (not recommended)."),
    ) -> None:
        """Download direct sources (sha256 verified, archives unpacked safely); print the manual step for the rest."""
        from svcnet.errors import SvcnetError
        from svcnet.sources import fetch_source, format_size, load_registry

        if list_:
            rows = [("name", "kind", "access", "size", "licence")]
            rows += [(s.name, s.kind, s.access, format_size(s.size), s.licence) for s in load_registry().values()]
            widths = [max(len(r[i]) for r in rows) for i in range(4)]
            for row in rows:
                typer.echo("  ".join(c.ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
            return
        if not names:
            raise SvcnetError("name at least one source to fetch (see `svcnet fetch --list`)")
        missing = []
        for name in names:
            result = fetch_source(name, dest, timeout=timeout, verify=not no_verify, delete_archive=delete_archive)
            if result.status == "manual":
                missing.append(result.name)
                typer.echo(f"{result.name}: manual step needed (no direct download):")
                typer.echo("  " + "\n  ".join(_wrap(result.detail)))
            else:
                typer.echo(f"{result.name}: {result.detail}")
        if missing:
            raise SvcnetError(
                f"{len(missing)} source(s) need the manual step printed above, then re-run this command: "
                + ", ".join(missing)
            )


def _wrap(text: str, width: int = 110) -> list[str]:
    import textwrap

    return textwrap.wrap(" ".join(text.split()), width=width, break_long_words=False, break_on_hyphens=False)
