"""``svcnet infer-set``: one method on every clip of a prepared split (DVC's batch form of the per-clip DAG jobs)."""

from __future__ import annotations

from pathlib import Path

import typer

from svcnet.errors import InputError
from svcnet.ops.lightness import DEFAULT_LIGHTNESS, LIGHTNESS_HELP, check_lightness

BASELINES = ("gray", "levin")
NETWORKS = ("cpnet", "svcnet")
OFFICIAL = {"official_cpnet": "cpnet", "official_svcnet": "svcnet"}  # released weights, registry cpnet / ssnet


def split_clips(root: Path) -> list[str]:
    """Clip ids of a prepared split ``root/<clip>/frames/`` or ``root/<tag>/<clip>/frames/``, in name order."""
    from svcnet.data.clips import clip_ids

    if not root.is_dir():
        raise InputError(f"{root} is not a folder; give a prepared split (svcnet prepare --out ...)")
    clips = [c for c in clip_ids(root) if (root / c / "frames").is_dir()]
    if not clips:
        raise InputError(f"{root} holds no clip (<clip>/frames/); give a prepared split (svcnet prepare --out ...)")
    return clips


def register(app: typer.Typer) -> None:
    @app.command("infer-set")
    def infer_set_cmd(
        split: Path = typer.Argument(..., help="Prepared split: <clip>/frames/*.png (e.g. data/demo/eval)."),
        method: str = typer.Option(
            ...,
            "--method",
            "-m",
            help="gray | levin | cpnet | svcnet | official_cpnet | official_svcnet (the released weights under "
            "--weights, default weights/).",
        ),
        out: Path = typer.Option(..., "--out", "-o", help="Output root: <clip>/ in the `svcnet colorize` layout."),
        scribbles: Path = typer.Option(
            None,
            "--scribbles",
            "-s",
            help=("Scribble root <clip>/<frame>_256p.png (e.g. results/demo/scribbles/gt); not used by gray."),
        ),
        weights: Path = typer.Option(None, "--weights", "-w", help="cpnet/svcnet: folder with the official names."),
        cpnet: Path = typer.Option(None, "--cpnet", help="cpnet/svcnet: CPNet checkpoint (overrides --weights)."),
        ssnet: Path = typer.Option(None, "--ssnet", help="svcnet: SSNet checkpoint (overrides --weights)."),
        size: str = typer.Option(
            None,
            "--size",
            help=("cpnet/svcnet working size H x W (default: data.height x data.width of --config, else 256x448)."),
        ),
        lightness: str = typer.Option(
            None,
            "--lightness",
            help=(
                f"cpnet/svcnet output L channel, {LIGHTNESS_HELP} (default: infer.lightness of --config, else "
                f"{DEFAULT_LIGHTNESS})."
            ),
        ),
        edge: str = typer.Option(
            None,
            "--edge",
            help="svcnet edge frames: mirror | official (default: infer.edge of --config, else mirror).",
        ),
        config: list[Path] = typer.Option(
            None, "--config", "-c", help=("Config file(s) for the working size, the lightness and the edge policy.")
        ),
        profile: str = typer.Option(None, "--profile", "-p", help="Profile to apply (default: the file's)."),
        if_listed: bool = typer.Option(
            False,
            "--if-listed",
            help="Only when evaluate.methods of --config names METHOD; else record the skip in OUT/skipped.json.",
        ),
        device: str = typer.Option(
            None, "--device", help="cpnet/svcnet: auto | cpu | cuda (default: infer.device of --config, else auto)."
        ),
        force: bool = typer.Option(False, "--force", help="Redo clips whose finished output is already in OUT."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
    ) -> None:
        """Run METHOD on every clip of SPLIT into OUT/<clip>/, exactly as one `svcnet baseline` / `svcnet colorize`
        per clip (the Snakemake jobs) would; finished clips are skipped."""
        if method not in (*BASELINES, *NETWORKS, *OFFICIAL):
            raise InputError(
                f"unknown method {method!r}; choose one of {', '.join((*BASELINES, *NETWORKS, *OFFICIAL))}"
            )
        if method in OFFICIAL and (cpnet is not None or ssnet is not None):
            raise InputError(f"--method {method} uses the released weights (--weights); drop --cpnet / --ssnet")
        if method != "gray" and scribbles is None:
            raise InputError(f"--method {method} needs --scribbles (a folder <clip>/<frame>_256p.png per clip)")
        if if_listed:
            from svcnet.evaluate.listed import unlisted_reason, write_skipped

            reason = unlisted_reason(method, config, profile)
            if reason:
                write_skipped(out, method, reason)
                typer.echo(f"skipped: {reason}")
                return
        clips = split_clips(split)
        work_size, configured_lightness, configured_edge = (256, 448), DEFAULT_LIGHTNESS, "mirror"
        configured_device = "auto"
        if config:
            from svcnet.config import load_config

            cfg = load_config(config, profile)
            work_size = (cfg.data.height, cfg.data.width)
            configured_lightness = cfg.section("infer").get("lightness", DEFAULT_LIGHTNESS)
            configured_device = cfg.section("infer").get("device") or "auto"
            configured_edge = cfg.section("infer").get("edge", "mirror")
        device = device or configured_device
        if size is not None:
            from svcnet.cli.cmd_colorize import parse_size

            work_size = parse_size(size)
        lightness = check_lightness(lightness or configured_lightness)
        edge = edge or configured_edge
        if scribbles is not None and method != "gray":
            missing = [c for c in clips if not (scribbles / c).is_dir()]
            if missing:
                raise InputError(
                    f"no scribbles for clip(s) {', '.join(missing)} under {scribbles} "
                    f"(run svcnet scribbles on {split} first)"
                )
        for clip in clips:
            frames, dest = split / clip / "frames", out / clip
            clip_scribbles = str(scribbles / clip) if scribbles is not None and method != "gray" else None
            if method in BASELINES:
                from svcnet.evaluate.baseline import BaselineRequest, run_baseline

                request = BaselineRequest(
                    method=method, input=str(frames), scribbles=clip_scribbles, work_size=work_size
                )
                run_baseline(request, dest, force=force, progress=not quiet)
            else:
                import torch

                from svcnet.infer.models import WeightOptions
                from svcnet.infer.run import ColorizeRequest, colorize_files

                torch.set_num_threads(max(1, min(torch.get_num_threads(), 16)))
                request = ColorizeRequest(
                    input=str(frames),
                    scribbles=clip_scribbles,
                    method=OFFICIAL.get(method, method),
                    work_size=work_size,
                    lightness=lightness,
                    edge=edge,
                    shots="none",  # every evaluation clip is one shot
                )
                opts = WeightOptions(weights_dir=weights, cpnet=cpnet, ssnet=ssnet)
                colorize_files(request, dest, opts, device=device, force=force, progress=not quiet)
            typer.echo(f"done: {dest}")
