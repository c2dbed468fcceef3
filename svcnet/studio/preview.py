"""Fast previews on the CPU: one keyframe colourised by CPNet with its scribble, and a keyframe's scribble carried
along the flow to another frame of its shot (drawn over that frame), so drift shows before the clip is run."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from svcnet.errors import SvcnetError
from svcnet.infer.carry import ScribbleCarrier
from svcnet.infer.flow import FlowBackend, dis_backend, pwc_backend
from svcnet.infer.models import WeightOptions, load_cpnet, load_pwcnet, weight_path
from svcnet.infer.preprocess import frame_tensors, scribble_tensor

WEIGHT_NAMES = ("cpnet", "ssnet", "pwcnet")


def weights_used(opts: WeightOptions) -> dict[str, str]:
    """For each network, the checkpoint that will be used, or why there is none (the page shows this)."""
    out = {}
    for name in WEIGHT_NAMES:
        try:
            path = weight_path(name, opts, required=name != "pwcnet")
        except SvcnetError as exc:
            out[name] = f"missing: {exc}"
            continue
        if path is None:
            out[name] = "not found: optical flow by OpenCV DIS"
        else:
            how = "given checkpoint" if getattr(opts, name) is not None else "official weights"
            out[name] = f"{path.resolve()} ({how})"
    return out


@dataclass
class Previewer:
    """CPNet and a flow backend loaded once (CPU) for one set of weights."""

    opts: WeightOptions
    work_size: tuple[int, int] = (256, 448)

    def __post_init__(self) -> None:
        self._cpnet: torch.nn.Module | None = None
        self._flow: Callable[[], FlowBackend] | None = None

    def cpnet(self) -> torch.nn.Module:
        if self._cpnet is None:
            self._cpnet = load_cpnet(weight_path("cpnet", self.opts), torch.device("cpu"))
        return self._cpnet

    def flow(self) -> FlowBackend:
        """A fresh flow backend (its frame buffer is indexed per call): PWC-Net when its weights are there, else DIS."""
        if self._flow is None:
            path = weight_path("pwcnet", self.opts, required=False)
            if path is None:
                self._flow = dis_backend
            else:
                net = load_pwcnet(path, torch.device("cpu"))
                self._flow = lambda: pwc_backend(net)
        return self._flow()

    def colorize_keyframe(self, frame: np.ndarray, scribble: np.ndarray) -> np.ndarray:
        """uint8 RGB of ``frame`` colourised by CPNet from ``scribble`` (black = none), at the frame's size."""
        from svcnet.infer.preprocess import compose_rgb

        l8, _ = frame_tensors(frame, self.work_size, transform=False)
        ab = scribble_tensor(scribble, self.work_size)
        with torch.no_grad():
            out_ab = self.cpnet()(l8, ab)[0]
        return compose_rgb(out_ab, frame)

    def carry(self, frames: Iterable[np.ndarray], scribble: np.ndarray) -> list[np.ndarray]:
        """``scribble`` (on ``frames[0]``) carried along the flow through ``frames`` in the given order (forward or
        backward in time); uint8 RGB scribbles at the frame size, black = none."""
        return carry_scribble(frames, scribble, self.flow(), self.work_size)


def carry_scribble(
    frames: Iterable[np.ndarray], scribble: np.ndarray, flow: FlowBackend, work_size: tuple[int, int]
) -> list[np.ndarray]:
    """The scribble of the first frame carried frame by frame to every frame of ``frames`` (the forward carrier of
    ``svcnet colorize`` run on the frames in the order given), back at the frame size (nearest, colours unmixed)."""
    carrier = ScribbleCarrier(scribble, work_size, scribble_tensor)
    out = []
    for i, rgb in enumerate(frames):
        h, w = rgb.shape[:2]
        l8, _ = frame_tensors(rgb, work_size, transform=False)
        flow.add_frame(i, l8)
        img = carrier.image(i, flow)
        out.append(img if img.shape[:2] == (h, w) else cv2.resize(img, (w, h), interpolation=cv2.INTER_NEAREST))
        flow.forget_before(i)
    return out


def overlay(frame: np.ndarray, scribble: np.ndarray) -> np.ndarray:
    """``frame`` with the scribble's non-black pixels painted over it."""
    out = frame.copy()
    mask = scribble.any(axis=2)
    out[mask] = scribble[mask]
    return out


def save_png(path: Path, rgb: np.ndarray) -> Path:
    from svcnet.data.atomic import write_bytes_atomic
    from svcnet.data.frames import encode_png

    write_bytes_atomic(path, encode_png(rgb))
    return path
