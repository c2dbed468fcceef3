"""``svcnet pack``: pack a clip folder (frames + masks/saliency) into one lmdb for training."""

from __future__ import annotations

from pathlib import Path

import typer


def _parse_maps(items: list[str]) -> dict[str, Path]:
    from svcnet.errors import SvcnetError

    out = {}
    for item in items:
        kind, sep, folder = item.partition("=")
        if not sep or not kind or not folder:
            raise SvcnetError(f"--map expects KIND=FOLDER (e.g. saliency=data/demo/saliency/train), got {item!r}")
        out[kind] = Path(folder)
    return out


def register(app: typer.Typer) -> None:
    @app.command("pack")
    def pack_cmd(
        clips_dir: Path = typer.Argument(
            ..., help="Clip folder (<clip>/frames/*, optional <clip>/masks/*, saliency/*)."
        ),
        out: Path = typer.Option(..., "--out", "-o", help="lmdb folder to write, e.g. data/demo/train.lmdb."),
        config: list[Path] = typer.Option(None, "--config", "-c", help="Config file(s) for the `pack:` section."),
        profile: str = typer.Option(None, "--profile", "-p", help="Profile to apply (default: the file's `profile:`)."),
        map_dirs: list[str] = typer.Option(
            None, "--map", help="Extra per-frame maps KIND=FOLDER laid out <clip>/<frame>.png (repeatable)."
        ),
    ) -> None:
        """Pack CLIPS_DIR into OUT: keys <clip>/<frame>, lossless PNG values, meta_info.txt and manifest.json."""
        from svcnet.config import PackConfig, load_config
        from svcnet.data.lmdb_pack import pack_clips

        pack = (
            load_config(config, profile).pack if config else PackConfig(png_compression=1, maps=("masks", "saliency"))
        )
        manifest = pack_clips(clips_dir, out, pack.maps, pack.png_compression, _parse_maps(map_dirs or []))
        frames = sum(c["counts"]["frames"] for c in manifest["clips"].values())
        maps = ", ".join(manifest["maps"]) or "no maps"
        typer.echo(f"{out}: {len(manifest['clips'])} clips, {frames} frames ({maps}), {manifest['records']} records")
