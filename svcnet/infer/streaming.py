"""Streaming SVCNet inference: the official algorithm (docs/official.md §1.3) with every per-frame result computed once.

Each frame's CPNet output, each directed flow and the first-frame reference are computed once and kept in a buffer
of at most 8 frames, so memory does not grow with clip length; SSNet runs once per frame with only the ×2 SR branch.

Frame t is refined by SSNet from the frames t-3…t+3, as the official window centred on t does. Edge policy:

* ``mirror`` (default): the first and last three frames are refined by SSNet too, with the missing neighbours
  mirrored into the clip (``t-k < 0 → k-t``, ``t+k > n-1 → 2(n-1)-t-k``). The recurrent input starts from the
  unwarped CPNet output at frame 0 and, for clips of 7 or more frames, restarts at frame 3 exactly as the official
  first window does, so frames 3…n-4 are the official results.
* ``official``: the first and last three frames are the CPNet outputs (what the official code writes, here under
  the right names); needs at least 7 frames.

Clips of 2…6 frames work with ``mirror`` (every frame is an edge frame); a 1-frame clip is an error for SVCNet.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from svcnet.errors import InputError
from svcnet.infer.flow import FlowBackend
from svcnet.ops.lightness import DEFAULT_LIGHTNESS, check_lightness
from svcnet.ops.warp import warp_official
from svcnet.ops.window import HALF, NEIGHBOUR_OFFSETS, PREVIOUS_SLOT, WINDOW, reflect_index, visibility_masks

EDGE_POLICIES = ("mirror", "official")
METHODS = ("svcnet", "cpnet")


@dataclass(frozen=True)
class InferenceConfig:
    """How a clip is colourised (independent of where frames come from or go)."""

    work_size: tuple[int, int] = (256, 448)  # (H, W) the networks run at; multiples of 16
    method: str = "svcnet"  # "svcnet" (CPNet + SSNet) or "cpnet" (frame-wise CPNet baseline)
    edge: str = "mirror"  # EDGE_POLICIES, see module docstring
    mask_para: float = 200.0  # visibility mask sharpness (official default)
    lightness: str = DEFAULT_LIGHTNESS  # output L channel, one of svcnet.ops.lab.LIGHTNESS

    def __post_init__(self) -> None:
        h, w = self.work_size
        if h <= 0 or w <= 0 or h % 16 or w % 16:
            raise InputError(f"working size must be positive multiples of 16, got {h}x{w} (H x W)")
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS)}")
        if self.edge not in EDGE_POLICIES:
            raise InputError(f"unknown edge policy {self.edge!r}; choose one of {', '.join(EDGE_POLICIES)}")
        check_lightness(self.lightness)


@dataclass
class Models:
    """The networks and flow backend of a run, already on ``device`` and in eval mode.

    ``cpnet(x_l, scribble_ab) -> (ab, seg)``; ``ssnet`` has the official forward; ``reference(l8, ab, vgg)`` builds
    SSNet's first-frame reference (``svcnet.models.reference.build_reference``).
    """

    cpnet: torch.nn.Module
    ssnet: torch.nn.Module | None = None
    flow: FlowBackend | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    reference: Callable[..., tuple[torch.Tensor, list[torch.Tensor]]] | None = None


@dataclass
class FrameInput:
    """One preprocessed frame at the working size (1×C×H×W tensors, any device)."""

    l8: torch.Tensor  # cv2-Lab L8/255 (CPNet input, flow input)
    tl: torch.Tensor | None  # sk-Lab L*−50 of the PIL-bilinear resize (CorrNet input); None for method cpnet
    scribble_ab: torch.Tensor | None  # cv2-Lab ab/255 of the scribble; None → asked from the scribble carrier
    payload: Any = None  # passed through to the result unchanged (e.g. the original frame)


@dataclass
class FrameResult:
    """The colour of one frame: ``ab`` (1×2×h×w, cv2-Lab ab/255) from SSNet's ×2 SR output or from CPNet."""

    index: int
    ab: torch.Tensor
    source: str  # "ssnet" or "cpnet"
    cpnet_ab: torch.Tensor
    out: torch.Tensor | None = None  # SSNet's low-resolution output (the recurrent state), None for CPNet frames
    payload: Any = None


class Timings(dict):
    """Seconds spent per stage (accumulated)."""

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self._sync = device.type == "cuda"

    def run(self, stage: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        if self._sync:
            torch.cuda.synchronize()
        self[stage] = self.get(stage, 0.0) + time.perf_counter() - start
        return out


@dataclass
class _Frame:
    l8: torch.Tensor
    tl: torch.Tensor | None
    cpnet_ab: torch.Tensor
    payload: Any


# What the loop asks for the scribble ab of a frame that has none of its own: (index, L8, flow backend) -> 1×2×H×W
# (svcnet.infer.carry.ScribbleCarrier carries one first-frame scribble image).
ScribbleSource = Callable[[int, torch.Tensor, FlowBackend | None], torch.Tensor]


class StreamingColorizer:
    """Stateful streaming loop; iterate :meth:`run` over a clip's :class:`FrameInput` s."""

    def __init__(
        self, models: Models, config: InferenceConfig = InferenceConfig(), carrier: ScribbleSource | None = None
    ) -> None:
        if config.method == "svcnet" and (models.ssnet is None or models.flow is None):
            raise ValueError("method 'svcnet' needs an SSNet and a flow backend")
        self.models = models
        self.config = config
        self.carrier = carrier
        self.timings = Timings(models.device)
        self.peak_buffer = 0  # most frames held at once (for tests of the bounded buffer)
        self._frames: dict[int, _Frame] = {}
        self._n: int | None = None
        self._read = 0
        self._prev_out: torch.Tensor | None = None
        self._reference: tuple[torch.Tensor, list[torch.Tensor]] | None = None
        self.reference_seed: tuple[torch.Tensor, torch.Tensor] | None = None  # frame 0's (L8, CPNet ab)

    # ---------------------------------------------------------------------------------------------------- reading
    @torch.no_grad()
    def _ingest(self, item: FrameInput) -> None:
        idx, dev = self._read, self.models.device
        l8 = item.l8.to(dev, torch.float32)
        flow = self.models.flow
        if flow is not None:
            flow.add_frame(idx, l8)
        scribble = item.scribble_ab
        if scribble is None:
            if self.carrier is None:
                raise ValueError(f"frame {idx} has no scribble and no scribble carrier was given")
            scribble = self.timings.run("scribble_carry", lambda: self.carrier(idx, l8, flow))
        scribble = scribble.to(dev, torch.float32)
        ab = self.timings.run("cpnet", lambda: self.models.cpnet(l8, scribble)[0])
        tl = item.tl.to(dev, torch.float32) if item.tl is not None else None
        self._frames[idx] = _Frame(l8, tl, ab, item.payload)
        self.peak_buffer = max(self.peak_buffer, len(self._frames))
        if idx == 0 and self.config.method == "svcnet" and self._reference is None:
            self.reference_seed = (l8, ab)
            self._build_reference(l8, ab)
        self._read += 1

    def _build_reference(self, l8: torch.Tensor, ab: torch.Tensor) -> None:
        build = self.models.reference
        if build is None:
            from svcnet.models.reference import build_reference as build
        from svcnet.models.corrnet import ReferenceFeatures

        vgg = self.models.ssnet.corr.vggnet
        ib_lab, feats = self.timings.run("reference", lambda: build(l8, ab, vgg))
        self._reference = (ib_lab, ReferenceFeatures(feats))  # CorrNet embeds the reference once per clip

    # ------------------------------------------------------------------------------------------------- resuming
    def first_input(self, start: int) -> int:
        """The index of the first frame :meth:`run` must be given to continue at frame ``start``: its window, and for
        either method the frames a carried scribble may be picked up from."""
        return max(0, start - HALF)

    def restore(self, reference_seed: tuple[torch.Tensor, torch.Tensor] | None, prev_out: torch.Tensor | None) -> None:
        """Continue a clip interrupted after frame ``start - 1``: frame 0's (L8, CPNet ab), from which the
        first-frame reference is rebuilt, and SSNet's output of frame ``start - 1`` (the recurrent input)."""
        dev = self.models.device
        if reference_seed is not None:
            l8, ab = (x.to(dev, torch.float32) for x in reference_seed)
            self.reference_seed = (l8, ab)
            self._build_reference(l8, ab)
        self._prev_out = prev_out.to(dev, torch.float32) if prev_out is not None else None

    def _fill(self, it: Iterator[FrameInput], upto: int) -> None:
        """Read frames until index ``upto`` is buffered or the clip ends."""
        while self._n is None and self._read <= upto:
            try:
                item = next(it)
            except StopIteration:
                self._n = self._read
                return
            self._ingest(item)

    # -------------------------------------------------------------------------------------------------- computing
    def _cpnet_result(self, t: int) -> FrameResult:
        f = self._frames[t]
        return FrameResult(t, f.cpnet_ab, "cpnet", f.cpnet_ab, None, f.payload)

    def _chain_starts(self, t: int) -> bool:
        # The official first window (centre 3) uses the unwarped CPNet output; so does our first frame.
        return t == 0 or (t == HALF and (self._n is None or self._n >= WINDOW))

    @torch.no_grad()
    def _ssnet_result(self, t: int) -> FrameResult:
        n, f = self._n, self._frames[t]
        neighbours = [reflect_index(t + k, n) for k in NEIGHBOUR_OFFSETS]
        flows = self.timings.run("flow", lambda: self.models.flow.window_flows(t, neighbours))

        def prepare() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            l_nb = torch.cat([self._frames[j].l8 for j in neighbours])
            ab_nb = torch.cat([self._frames[j].cpnet_ab for j in neighbours])
            masks = visibility_masks(warp_official(l_nb, flows), f.l8, self.config.mask_para)
            if self._chain_starts(t):
                last = f.cpnet_ab
            else:
                last = warp_official(self._prev_out, flows[PREVIOUS_SLOT : PREVIOUS_SLOT + 1])
            return warp_official(ab_nb, flows), masks, last

        p_warp, masks, last = self.timings.run("warp", prepare)
        ib_lab, feats = self._reference
        out, out_up2, _ = self.timings.run(
            "ssnet",
            lambda: self.models.ssnet(
                f.tl, ib_lab, feats, f.cpnet_ab, last, list(p_warp.split(1)), list(masks.split(1))
            ),
        )
        self._prev_out = out
        return FrameResult(t, out_up2, "ssnet", f.cpnet_ab, out, f.payload)

    def _result(self, t: int) -> FrameResult:
        cfg, n = self.config, self._n
        if cfg.method == "cpnet":
            return self._cpnet_result(t)
        if cfg.edge == "official" and (t < HALF or (n is not None and t >= n - HALF)):
            return self._cpnet_result(t)
        return self._ssnet_result(t)

    def _check_length(self) -> None:
        n, cfg = self._n, self.config
        if n is None:
            return
        if n == 0:
            raise InputError("the clip has no frames")
        if cfg.method == "svcnet" and n < 2:
            raise InputError("the clip has 1 frame; SVCNet needs at least 2 (use --method cpnet for single images)")
        if cfg.method == "svcnet" and cfg.edge == "official" and n < WINDOW:
            raise InputError(
                f"the clip has {n} frames; the official edge policy needs at least {WINDOW} "
                f"(use --edge mirror for short clips)"
            )

    def _forget(self, t: int) -> None:
        """Drop what no later frame needs: frames before t-2, flows whose frames are all ≤ t."""
        for k in [k for k in self._frames if k < t - HALF + 1]:
            del self._frames[k]
        if self.models.flow is not None:
            self.models.flow.forget_before(t - HALF + 1)
            self.models.flow.forget_pairs_up_to(t)

    @property
    def recurrent_state(self) -> torch.Tensor | None:
        """SSNet's output of the last frame produced (what :meth:`restore` takes back)."""
        return self._prev_out

    def run(self, inputs: Iterable[FrameInput], start: int = 0) -> Iterator[FrameResult]:
        """Yield one :class:`FrameResult` per input frame, in order, reading at most 3 frames ahead.

        ``start > 0`` continues an interrupted clip at frame ``start`` (after :meth:`restore`): ``inputs`` then begin
        at frame :meth:`first_input` ``(start)``, and the results are those of an uninterrupted run from ``start`` on.
        """
        it = iter(inputs)
        svcnet = self.config.method == "svcnet"
        if start and svcnet and self._reference is None:
            raise ValueError("continuing a clip needs its first-frame reference: call restore() first")
        self._read = self.first_input(start)
        lookahead = HALF if svcnet else 0
        # Read a whole window first so that a too-short clip fails before anything is produced.
        self._fill(it, max(WINDOW - 1, start + lookahead) if svcnet else start)
        self._check_length()
        t = start
        while True:
            self._fill(it, t + lookahead)
            self._check_length()
            if self._n is not None and t >= self._n:
                return
            yield self._result(t)
            self._forget(t)
            t += 1


def stream_colorize(
    inputs: Iterable[FrameInput],
    models: Models,
    config: InferenceConfig = InferenceConfig(),
    carrier: ScribbleSource | None = None,
) -> Iterator[FrameResult]:
    """Streaming SVCNet (or CPNet) over preprocessed frames; see :class:`StreamingColorizer`."""
    return StreamingColorizer(models, config, carrier).run(inputs)
