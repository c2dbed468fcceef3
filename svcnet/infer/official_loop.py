"""A plain re-implementation of the official sliding-window loop (docs/official.md §1.3), kept as the reference that the
streaming loop is tested and benchmarked against.

Like the official ``SSNet/test.py``: for every window start i = 0…n-7 it re-reads the 7 frames and scribbles, runs
CPNet on all 7, estimates the 6 neighbour flows one by one on the 3-channel replicated lightness, warps, builds the
masks by summing over the 3 channels, and runs SSNet (with whatever SR branches the given SSNet computes — the
official one computes ×2, ×4 and ×8). Window 0 also emits frames 0–2 from CPNet and the last window frames n-3…n-1,
under their own indices (the official file naming bugs and JPEG output are not reproduced: results are yielded).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from svcnet.data.frames import read_rgb
from svcnet.errors import InputError
from svcnet.infer.preprocess import frame_input
from svcnet.infer.streaming import FrameInput, FrameResult
from svcnet.ops.warp import warp_official
from svcnet.ops.window import HALF, MASK_PARA, NEIGHBOUR_OFFSETS, WINDOW

PairFlow = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (neighbour, centre) 1×3×H×W → 1×2×H×W
CENTRE = HALF
OFFICIAL_NEIGHBOURS = tuple(CENTRE + offset for offset in NEIGHBOUR_OFFSETS)  # window positions 0, 1, 2, 4, 5, 6


def file_loader(
    frame_paths: Sequence[Path], scribble_paths: Sequence[Path], work_size: tuple[int, int] = (256, 448)
) -> Callable[[int], FrameInput]:
    """``load(j)``: read and preprocess frame j and its scribble from disk (every call reads the files again)."""
    if len(scribble_paths) != len(frame_paths):
        raise InputError(f"{len(frame_paths)} frames but {len(scribble_paths)} scribbles")

    def load(j: int) -> FrameInput:
        rgb = read_rgb(frame_paths[j])
        return frame_input(rgb, read_rgb(scribble_paths[j]), work_size, payload=rgb)

    return load


@torch.no_grad()
def official_windowed_loop(
    load: Callable[[int], FrameInput],
    n: int,
    cpnet: torch.nn.Module,
    ssnet: torch.nn.Module,
    pair_flow: PairFlow,
    device: torch.device = torch.device("cpu"),
    mask_para: float = MASK_PARA,
    reference: Callable | None = None,
) -> Iterator[FrameResult]:
    """Yield the results of frames 0…n-1 in order, computed window by window as the official code does.

    ``load(j)`` gives frame j preprocessed (:func:`file_loader` re-reads files, as the official code does);
    ``pair_flow(neighbour, centre)`` the window flow of one pair (1×3×H×W lightness each).
    """
    if reference is None:
        from svcnet.models.reference import build_reference as reference
    if n < WINDOW:
        raise InputError(f"the official loop needs at least {WINDOW} frames, got {n}")
    ib_lab = feats = ssnet_t = None
    for i in range(n - WINDOW + 1):
        img_l, tl, scribbles, originals = [], [], [], []
        for j in range(i, i + WINDOW):  # the official code loads the window's 7 frames every time
            item = load(j)
            img_l.append(item.l8.to(device).expand(-1, 3, -1, -1))
            tl.append(item.tl.to(device))
            scribbles.append(item.scribble_ab.to(device))
            originals.append(item.payload)
        cp = [cpnet(img_l[k][:, :1], scribbles[k])[0] for k in range(WINDOW)]
        flows, masks, p_warp = {}, {}, {}
        for k in OFFICIAL_NEIGHBOURS:
            flows[k] = pair_flow(img_l[k], img_l[CENTRE])
            x_warp = warp_official(img_l[k], flows[k])
            masks[k] = torch.exp(-mask_para * torch.pow(torch.sum(x_warp - img_l[CENTRE], 1, keepdim=True), 2))
            p_warp[k] = warp_official(cp[k], flows[k])
        last_out = cp[CENTRE] if i == 0 else warp_official(ssnet_t, flows[2])
        if i == 0:
            ib_lab, feats = reference(img_l[0][:, :1], cp[0], ssnet.corr.vggnet)
        ssnet_t, ssnet_sr_t, _ = ssnet(
            tl[CENTRE],
            ib_lab,
            feats,
            cp[CENTRE],
            last_out,
            [p_warp[k] for k in OFFICIAL_NEIGHBOURS],
            [masks[k] for k in OFFICIAL_NEIGHBOURS],
        )
        if i == 0:
            for k in range(CENTRE):
                yield FrameResult(k, cp[k], "cpnet", cp[k], None, originals[k])
        yield FrameResult(i + CENTRE, ssnet_sr_t, "ssnet", cp[CENTRE], ssnet_t, originals[CENTRE])
        if i == n - WINDOW:
            for k in range(CENTRE + 1, WINDOW):
                yield FrameResult(i + k, cp[k], "cpnet", cp[k], None, originals[k])
