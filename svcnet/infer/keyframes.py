"""Keyframe scribbles: scribble images on a few frames of a shot, carried forward and backward along the flow.

Every frame of a shot takes the scribble image of its nearest keyframe (frame distance); on a tie — a frame exactly
half-way between two keyframes — the earlier keyframe wins (its image carried forward). Frames before the first
keyframe take it carried backward, frames after the last take it carried forward; a keyframe itself keeps its own
image. A shot without keyframes has no scribble (black). Images are never blended: each frame's scribble is one
keyframe's image, brought to the working size once (the official cubic resize), then moved frame by frame with
nearest-neighbour sampling and black outside the image (so a scribble that leaves the picture disappears):

* forward, frame t from frame t-1, with ``FlowBackend.align(t, t-1)`` (what :class:`svcnet.infer.carry.ScribbleCarrier`
  does for one first-frame image);
* backward, frame t from frame t+1, with ``FlowBackend.align(t, t+1)``.

Indices here are frame numbers within the shot (0 = the shot's first frame).
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from svcnet.infer.carry import to_work_size
from svcnet.infer.flow import FlowBackend
from svcnet.ops.warp import warp_by_flow

TIE_RULE = "nearest keyframe; half-way between two, the earlier one"


def nearest_keyframe(index: int, keys: Sequence[int]) -> int | None:
    """The keyframe (of the sorted ``keys``) whose scribble frame ``index`` takes; None when there is none."""
    if not keys:
        return None
    i = bisect.bisect_right(keys, index)
    before = keys[i - 1] if i else None
    after = keys[i] if i < len(keys) else None
    if before is None:
        return after
    if after is None or index - before <= after - index:
        return before
    return after


def backward_segments(keys: Sequence[int]) -> list[tuple[int, int]]:
    """``(first, keyframe)`` for every keyframe that some earlier frames take carried backward (frames
    ``first … keyframe-1``), in order."""
    segments = []
    for i, k in enumerate(keys):
        first = 0 if i == 0 else (keys[i - 1] + k) // 2 + 1
        if first < k:
            segments.append((first, k))
    return segments


def carry_step(image: np.ndarray, flow: torch.Tensor) -> np.ndarray:
    """A uint8 RGB scribble image moved by one flow (1×2×H×W, ``out(p) = image(p + flow(p))``), nearest sampling,
    black outside."""
    src = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).unsqueeze(0).float()
    out = warp_by_flow(src.to(flow.device), flow.to(torch.float32), padding_mode="zeros", mode="nearest")
    return out[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def carry_backward(
    keyframe_image: np.ndarray, first: int, key: int, l8: Callable[[int], torch.Tensor], flow: FlowBackend
) -> Iterator[tuple[int, np.ndarray]]:
    """The work-size image of keyframe ``key`` carried backward to frames ``key-1``, …, ``first`` (in that order).

    ``l8(i)`` gives frame i's lightness (1×1×H×W L8/255); ``flow``'s buffer is used (it holds two frames at a time).
    """
    image = keyframe_image
    later = l8(key)
    for t in range(key - 1, first - 1, -1):
        here = l8(t)
        flow.reset()
        flow.add_frame(t + 1, later)
        flow.add_frame(t, here)
        image = carry_step(image, flow.align(t, t + 1))
        later = here
        yield t, image
    flow.reset()


def carry_keyframes(
    l8_frames: Iterable[torch.Tensor],
    keyframes: Mapping[int, np.ndarray],
    flow: FlowBackend,
    work_size: tuple[int, int],
    spill: str | os.PathLike | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """The carried scribble image (uint8 RGB at the working size) of every frame of a shot, as ``(index, image)`` in
    frame order, from the shot's frames' lightness (1×1×H×W L8/255 at the working size, in order) and its keyframe
    images (shot frame index → uint8 RGB at the frame or working size; rule in the module docstring).

    ``flow`` is used for its estimator only (a fresh buffer is taken). Frames carried backward are buffered until
    their keyframe is read: in memory, or as files under ``spill`` when given (for long shots).
    """
    keys = sorted(keyframes)
    work = {k: to_work_size(img, work_size) for k, img in keyframes.items()}
    forward = flow.spawn()
    pending: list[int] = []  # frames waiting for a later keyframe (carried backward)
    buffer = LightnessBuffer(spill)
    black = np.zeros((*work_size, 3), np.uint8)
    current: np.ndarray | None = None
    for t, l8 in enumerate(l8_frames):
        k = nearest_keyframe(t, keys)
        forward.add_frame(t, l8)
        forward.forget_before(t - 1)
        if k is None:
            yield t, black
        elif k > t:
            buffer.put(t, l8)
            pending.append(t)
        elif k == t:
            if pending:
                buffer.put(t, l8)
                back = dict(carry_backward(work[t], pending[0], t, buffer.get, flow.spawn()))
                for i in pending:
                    yield i, back[i]
                pending.clear()
                buffer.clear()
            current = work[t]
            yield t, current
        else:
            current = carry_step(current, forward.align(t, t - 1))
            yield t, current
    for i in pending:  # keyframes beyond the frames given: nothing reaches these frames
        yield i, black
    buffer.clear()


class LightnessBuffer:
    """Frames' lightness kept in memory, or in ``.npy`` files under ``spill``."""

    def __init__(self, spill: str | os.PathLike | None) -> None:
        self._dir = Path(spill) if spill is not None else None
        self._mem: dict[int, torch.Tensor] = {}
        if self._dir is not None:
            self._dir.mkdir(parents=True, exist_ok=True)

    def put(self, index: int, l8: torch.Tensor) -> None:
        if self._dir is None:
            self._mem[index] = l8
        else:
            np.save(self._dir / f"{index}.npy", l8.cpu().numpy())

    def get(self, index: int) -> torch.Tensor:
        if self._dir is None:
            return self._mem[index]
        return torch.from_numpy(np.load(self._dir / f"{index}.npy"))

    def clear(self) -> None:
        self._mem.clear()
        if self._dir is not None:
            for p in self._dir.glob("*.npy"):
                p.unlink()


def save_image(path: Path, image: np.ndarray) -> None:
    """Write a carried image (``.npy``) so that a killed process never leaves a partial file under ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, image)
    os.replace(tmp, path)


class KeyframeCarrier:
    """The scribble source of the streaming loop for one shot: ``(index, lightness, flow) -> scribble ab``.

    ``key_image(k)`` reads keyframe k's image; frames carried backward are read from ``backward(i)`` (computed
    beforehand, see :func:`carry_backward`); frames carried forward are computed here, frame by frame in order, with
    the loop's own flow backend (``align(t, t-1)``, a pair of SSNet's window, computed once) and written to ``store``
    when given, so that a run continued after an interruption can pick the chain up at any recent frame.
    """

    KEEP = 8  # forward-carried images kept in ``store`` (a continued run re-reads at most the last 6 frames)

    def __init__(
        self,
        keys: Sequence[int],
        key_image: Callable[[int], np.ndarray],
        work_size: tuple[int, int],
        to_ab: Callable[[np.ndarray, tuple[int, int]], torch.Tensor],
        backward: Callable[[int], np.ndarray] | None = None,
        store: Path | None = None,
    ) -> None:
        self._keys = sorted(keys)
        self._key_image = key_image
        self._work_size = work_size
        self._to_ab = to_ab
        self._backward = backward
        self._store = store
        self._current: np.ndarray | None = None
        self._index = -2

    def _keyframe(self, k: int) -> np.ndarray:
        return to_work_size(self._key_image(k), self._work_size)

    def image(self, index: int, flow: FlowBackend | None) -> np.ndarray:
        """The uint8 RGB scribble (working size) of frame ``index``."""
        k = nearest_keyframe(index, self._keys)
        if k is None:
            image = np.zeros((*self._work_size, 3), np.uint8)
        elif k == index:
            image = self._keyframe(k)
        elif k > index:
            if self._backward is None:
                raise ValueError(f"frame {index} takes keyframe {k} carried backward, which was not computed")
            image = self._backward(index)
        else:
            image = self._forward(index, k, flow)
        self._current, self._index = image, index
        return image

    def _forward(self, index: int, k: int, flow: FlowBackend | None) -> np.ndarray:
        if self._index == index - 1:
            previous = self._current
        elif k == index - 1:
            previous = self._keyframe(k)
        else:  # continuing an interrupted run: the chain's last image was written by the earlier run
            if self._store is None or not (self._store / f"{index}.npy").is_file():
                raise ValueError(f"scribbles are carried frame by frame: asked for {index} after {self._index}")
            return np.load(self._store / f"{index}.npy")
        if flow is None:
            raise ValueError("carrying a scribble needs a flow backend")
        image = carry_step(previous, flow.align(index, index - 1))
        if self._store is not None:
            save_image(self._store / f"{index}.npy", image)
            (self._store / f"{index - self.KEEP}.npy").unlink(missing_ok=True)
        return image

    def __call__(self, index: int, lightness: torch.Tensor, flow: FlowBackend | None) -> torch.Tensor:
        return self._to_ab(self.image(index, flow), self._work_size)
