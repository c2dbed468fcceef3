"""``svcnet info``: versions and devices, for bug reports and reports' provenance."""

from __future__ import annotations

import json

import typer


def environment_info() -> dict:
    """Versions of the packages the results depend on, and the compute devices seen."""
    import cv2
    import numpy
    import torch

    from svcnet import __version__

    info = {
        "svcnet": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "opencv_ximgproc": hasattr(cv2, "ximgproc"),
        "cuda_available": torch.cuda.is_available(),
    }
    try:
        import cupy

        info["cupy"] = cupy.__version__
        info["cupy_cuda_available"] = bool(cupy.cuda.is_available())
    except Exception:
        info["cupy"] = None
    return info


def register(app: typer.Typer) -> None:
    @app.command("info")
    def info_cmd() -> None:
        """Print package versions and the compute devices available (JSON)."""
        typer.echo(json.dumps(environment_info(), indent=2))
