"""``svcnet scribbles``: evaluation scribbles (official format) for the clips of a folder."""

from __future__ import annotations

from pathlib import Path

import typer

CONFIG_HELP = "Config file(s) for the `scribbles:` section and the working size; later files merged over earlier."


def register(app: typer.Typer) -> None:
    @app.command("scribbles")
    def scribbles_cmd(
        clips_dir: Path = typer.Argument(..., help="Clip folder (<clip>/frames/* or <clip>/*.jpg, or one clip)."),
        out: Path = typer.Option(..., "--out", "-o", help="Scribble root: writes OUT/<style>/<clip>/<frame>_256p.png."),
        clip: list[str] = typer.Option(None, "--clip", help="Only this clip (repeatable; default: all)."),
        style: list[str] = typer.Option(None, "--style", help="gt | diverse1..4 (repeatable; default: config)."),
        points: int = typer.Option(None, "--points", "-n", help="Points on the first frame (default 40)."),
        width: int = typer.Option(None, "--width", help="Square width; 5 paints the official 4x4 squares."),
        seed: int = typer.Option(None, "--seed", help="Random seed of the point positions (default 0)."),
        reseed: bool = typer.Option(None, "--reseed/--no-reseed", help="Replace points lost on a frame by new ones."),
        occlusion: bool = typer.Option(
            None,
            "--occlusion-check/--no-occlusion-check",
            help="Drop points that fail the forward-backward flow check.",
        ),
        tolerance: float = typer.Option(
            None, "--occlusion-tolerance", help="Forward-backward flow error (px) above which a point is occluded."
        ),
        flow: str = typer.Option(
            None, "--flow", help="Flow backend: dis (default), pwcnet (needs weights) or auto (pwcnet when found)."
        ),
        protocol: str = typer.Option(
            None,
            "--protocol",
            help=(
                "svcnet (ours: whole squares, sub-pixel tracking, occlusion check) | gcs (the official generator: "
                "single pixels warped with nearest sampling, then widened)."
            ),
        ),
        dis_preset: str = typer.Option(None, "--dis-preset", help="OpenCV DIS preset: ultrafast, fast, medium."),
        pwcnet_weights: Path = typer.Option(None, "--pwcnet-weights", help="pwcNet-default.pytorch for --flow pwcnet."),
        config: list[Path] = typer.Option(None, "--config", "-c", help=CONFIG_HELP),
        profile: str = typer.Option(None, "--profile", "-p", help="Profile to apply (default: the file's `profile:`)."),
        force: bool = typer.Option(False, "--force", help="Regenerate clips that are already up to date."),
    ) -> None:
        """Draw N colour points on each clip's first frame and carry them along the optical flow."""
        import dataclasses

        from svcnet.scribbles.flow import make_flow_estimator
        from svcnet.scribbles.generate import EvalScribbleSettings
        from svcnet.scribbles.run import ScribbleStageConfig, run_scribbles

        size = (256, 448)
        stage = ScribbleStageConfig()
        if config:
            from svcnet.config import load_config

            cfg = load_config(config, profile)
            stage = cfg.section_as("scribbles", ScribbleStageConfig)
            size = (cfg.data.height, cfg.data.width)
        given = {
            "points": points,
            "width": width,
            "seed": seed,
            "reseed": reseed,
            "occlusion_check": occlusion,
            "occlusion_tolerance": tolerance,
            "flow": flow,
            "dis_preset": dis_preset,
            "styles": tuple(style) if style else None,
            "pwcnet_weights": str(pwcnet_weights) if pwcnet_weights else None,
            "protocol": protocol,
        }
        stage = dataclasses.replace(stage, **{k: v for k, v in given.items() if v is not None})
        backend, weights = stage.flow, None
        if stage.flow in ("pwcnet", "auto"):
            from svcnet.errors import CheckpointError
            from svcnet.sources import resolve_weight

            try:
                weights = resolve_weight("pwcnet", path=Path(stage.pwcnet_weights) if stage.pwcnet_weights else None)
                backend = "pwcnet"
            except CheckpointError:
                if stage.flow == "pwcnet":
                    raise
                backend = "dis"
                typer.echo("scribbles: no PWC-Net weights (svcnet fetch pwcnet); flow auto uses OpenCV DIS", err=True)
        estimator = make_flow_estimator(backend, stage.dis_preset, weights, gcs=stage.protocol == "gcs")
        settings = EvalScribbleSettings(
            points=stage.points,
            width=stage.width,
            seed=stage.seed,
            reseed=stage.reseed,
            occlusion_check=stage.occlusion_check,
            occlusion_tolerance=stage.occlusion_tolerance,
            size=size,
            protocol=stage.protocol,
        )
        results = run_scribbles(clips_dir, out, settings, estimator, stage.styles, clip or (), force=force)
        for meta in results:
            state = "up to date" if meta.get("skipped") else "written"
            typer.echo(
                f"{out}/{meta['style']}/{meta['clip']}: {meta['frames']} frames, "
                f"{meta['points_per_frame'][0]} -> {meta['points_per_frame'][-1]} points ({state})"
            )
