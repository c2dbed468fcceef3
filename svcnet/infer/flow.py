"""Flow backends for inference: PWC-Net (the official estimator, needs weights) or OpenCV DIS (weight-free).

Every backend estimates flows between frames it was given by index and caches each directed pair, so a flow is
computed once however many times the streaming loop or the scribble propagation asks for it.

Two flows are used (all flows: B×2×H×W pixels, x then y, applied with ``out(p) = src(p + flow(p))``):

* :meth:`FlowBackend.align` ``(target, source)``: the flow that backward-warps ``source`` onto ``target``
  (``target(p) ≈ source(p + flow(p))``). Used to carry a single scribble image to later frames.
* :meth:`FlowBackend.window_flows` ``(centre, neighbours)``: the flows SSNet's window warps each neighbour with.
  The official code (docs/official.md §1.3 step 2, §7.5) estimates PWC-Net *from the neighbour to the centre*
  (``PWCEstimate(first=neighbour, second=centre)``) and backward-warps the neighbour with it. Under PWC-Net's own
  convention (``first(p) ≈ second(p + flow(p))``) that flow aligns the centre with the neighbour, not the neighbour
  with the centre — but the released SSNet was trained with it, so the PWC backend reproduces it as-is
  (``convention='official'``). The DIS backend has no such history and computes the flow that correctly aligns the
  neighbour with the centre, ``dis_flow(first=centre, second=neighbour)`` (``convention='aligned'``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from svcnet.ops.flow_dis import dis_flow_tensor

Estimator = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
CONVENTIONS = ("official", "aligned")


class FlowBackend:
    """Cached pairwise flows between indexed frames (B=1 lightness tensors 1×1×H×W in [0, 1]).

    ``estimate(first, second)`` returns K×2×H×W flows with ``first(p) ≈ second(p + flow(p))`` for K×1×H×W batches.
    """

    def __init__(self, name: str, estimate: Estimator, convention: str, batch: int = 6) -> None:
        if convention not in CONVENTIONS:
            raise ValueError(f"unknown flow convention {convention!r}; choose one of {CONVENTIONS}")
        self.name = name
        self.convention = convention
        self._estimate = estimate
        self._batch = max(1, batch)
        self._frames: dict[int, torch.Tensor] = {}
        self._cache: dict[tuple[int, int], torch.Tensor] = {}
        self.pairs_computed = 0

    # ------------------------------------------------------------------------------------------------ frame buffer
    def add_frame(self, index: int, lightness: torch.Tensor) -> None:
        """Register frame ``index`` (1×1×H×W lightness in [0, 1])."""
        self._frames[index] = lightness

    def forget_before(self, index: int) -> None:
        """Drop frames below ``index`` and every cached flow whose both frames are below ``index``."""
        for k in [k for k in self._frames if k < index]:
            del self._frames[k]
        for key in [key for key in self._cache if max(key) < index]:
            del self._cache[key]

    def forget_pairs_up_to(self, index: int) -> None:
        """Drop cached flows whose frames are all ≤ ``index`` (no later centre can use them)."""
        for key in [key for key in self._cache if max(key) <= index]:
            del self._cache[key]

    def reset(self) -> None:
        """Forget every frame and flow (a new shot starts; indices restart at 0)."""
        self._frames.clear()
        self._cache.clear()

    def spawn(self) -> FlowBackend:
        """A backend with the same estimator and settings and an empty buffer (for a second pass over other frames)."""
        return FlowBackend(self.name, self._estimate, self.convention, self._batch)

    @property
    def cached_pairs(self) -> int:
        return len(self._cache)

    # ----------------------------------------------------------------------------------------------------- flows
    def estimate_pairs(self, pairs: Sequence[tuple[int, int]]) -> torch.Tensor:
        """Flows for ``(first, second)`` index pairs (K×2×H×W), computing only the pairs not cached yet, batched."""
        todo = list(dict.fromkeys(p for p in pairs if p not in self._cache))
        for start in range(0, len(todo), self._batch):
            chunk = todo[start : start + self._batch]
            try:
                first = torch.cat([self._frames[a] for a, _ in chunk])
                second = torch.cat([self._frames[b] for _, b in chunk])
            except KeyError as exc:
                raise RuntimeError(f"flow requested for frame {exc.args[0]} which is not in the buffer") from None
            flows = self._estimate(first, second)
            for pair, flow in zip(chunk, flows.split(1)):
                self._cache[pair] = flow
            self.pairs_computed += len(chunk)
        return torch.cat([self._cache[p] for p in pairs])

    def align(self, target: int, source: int) -> torch.Tensor:
        """Flow (1×2×H×W) that backward-warps frame ``source`` onto frame ``target``."""
        return self.estimate_pairs([(target, source)])

    def window_flows(self, centre: int, neighbours: Sequence[int]) -> torch.Tensor:
        """The flows SSNet warps each neighbour with (K×2×H×W), in the backend's convention (module docstring)."""
        if self.convention == "official":
            pairs = [(j, centre) for j in neighbours]
        else:
            pairs = [(centre, j) for j in neighbours]
        return self.estimate_pairs(pairs)

    def official_pair_flow(self, neighbour: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
        """Uncached window flow for explicit tensors (used by the plain official loop)."""
        if self.convention == "official":
            return self._estimate(neighbour, centre)
        return self._estimate(centre, neighbour)


def _three_channels(x: torch.Tensor) -> torch.Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def pwc_backend(net: torch.nn.Module, batch: int | None = None) -> FlowBackend:
    """The official estimator: ``pwc_estimate(net, first, second)`` on the replicated L8/255 lightness.

    ``batch`` pairs per forward (default: 6 on CUDA; 1 on the CPU, where a 6-pair batch is slower than six single
    pairs: bigger cost volumes, worse cache use; docs/measurements.md §3).
    """
    from svcnet.models.pwcnet import pwc_estimate

    if batch is None:
        on_cuda = any(p.is_cuda for p in net.parameters())
        batch = 6 if on_cuda else 1

    def estimate(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return pwc_estimate(net, _three_channels(first), _three_channels(second))

    return FlowBackend("pwcnet", estimate, convention="official", batch=batch)


def dis_backend(preset: str = "medium") -> FlowBackend:
    """OpenCV DIS on the uint8 lightness; window flows correctly align each neighbour with the centre."""

    def estimate(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        return dis_flow_tensor(first, second, preset=preset).to(first.dtype)

    return FlowBackend(f"dis-{preset}", estimate, convention="aligned", batch=64)
