"""``svcnet evaluate``: PSNR/SSIM (RGB, Lab, 256p), LPIPS, warping error and CDC of predicted videos."""

from __future__ import annotations

from pathlib import Path

import typer

CONFIG_HELP = "Config file(s), later ones merged over earlier ones (default config/config.yaml when present)."


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_cmd(
        pred: Path = typer.Option(..., "--pred", help="Predicted videos: <video>/<frame>.png|jpg or <video>/frames/."),
        gt: Path = typer.Option(..., "--gt", help="Ground-truth videos, same layout; frames matched by file stem."),
        out: Path = typer.Option(..., "--out", "-o", help="Output folder: per_video.csv, per_frame.csv, summary.json."),
        metrics: Path = typer.Option(None, "--metrics", help="Also write the means as a flat JSON (dvc metrics)."),
        method: str = typer.Option(None, "--method", help="Method label for tables (default: the --pred folder name)."),
        dataset: str = typer.Option(None, "--dataset", help="Dataset label (default: the --gt folder name)."),
        config: list[Path] = typer.Option(None, "--config", help=CONFIG_HELP),
        profile: str = typer.Option(None, "--profile", help="Config profile (demo, small, paper)."),
        lpips_weights: Path = typer.Option(
            None,
            "--lpips-weights",
            help=(
                "torchvision AlexNet alexnet-owt-7be5be79.pth for LPIPS (default: weights/ then "
                "$TORCH_HOME/hub/checkpoints; absent = LPIPS n/a)."
            ),
        ),
        include_first: bool = typer.Option(
            None,
            "--include-first/--exclude-first",
            help=("Score the first frame of each video too (official protocol: excluded)."),
        ),
        device: str = typer.Option(None, "--device", help="auto | cpu | cuda."),
        warp_mask: str = typer.Option(
            None,
            "--warp-mask",
            help=(
                "Warping-error pixels: reference (Lai et al.'s mask, default) | strict (also drops pixels whose "
                "flow leaves the frame); default evaluate.warp_mask."
            ),
        ),
        if_listed: bool = typer.Option(
            False,
            "--if-listed",
            help="Only when evaluate.methods of --config names --method; else record the skip in OUT/skipped.json "
            "(and --metrics).",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    ) -> None:
        """Score --pred against --gt; writes per-video/per-frame CSVs and summary.json (means, protocol, versions)."""
        from svcnet.evaluate.runner import evaluate_folders
        from svcnet.evaluate.settings import evaluate_options
        from svcnet.ops.device import cap_cpu_threads

        if if_listed:
            from svcnet.evaluate.listed import unlisted_reason, write_skipped

            reason = unlisted_reason(method or pred.name, config, profile)
            if reason:
                write_skipped(out, method or pred.name, reason, metrics)
                typer.echo(f"skipped: {reason}")
                return
        cap_cpu_threads()
        opts = evaluate_options(
            config,
            profile,
            method=method,
            dataset=dataset,
            lpips_weights=lpips_weights,
            include_first=include_first,
            device=device,
            warp_mask=warp_mask,
        )
        summary = evaluate_folders(pred, gt, out, opts, metrics_file=metrics, progress=not quiet)

        def shown(means: dict) -> str:
            text = ", ".join(f"{k} {v if isinstance(v, str) or v is None else f'{v:.4g}'}" for k, v in means.items())
            return text.replace("None", "n/a")

        typer.echo(
            f"{summary['method']} on {summary['dataset']} ({summary['videos']} videos, {summary['frames']} "
            f"frames): {shown(summary['means'])}"
        )
        for name, values in summary["test_sets"].items() if len(summary["test_sets"]) > 1 else ():
            means = {k: v for k, v in values.items() if k not in ("frames", "videos")}
            typer.echo(f"  {name} ({values['videos']} videos, {values['frames']} frames): {shown(means)}")
        for key, reason in summary["not_available"].items():
            typer.echo(f"{key}: n/a ({reason})")
