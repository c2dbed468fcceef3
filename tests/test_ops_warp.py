"""Warping, occlusion masks and DIS flow on real and exactly shifted frames."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data as skdata

from svcnet.ops.flow_dis import dis_flow
from svcnet.ops.occlusion import motion_boundary_mask, occlusion_mask, reliable_mask
from svcnet.ops.warp import inside_mask, warp_by_flow, warp_official


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    img = skdata.astronaut()[100:228, 150:342]  # 128×192 real crop
    return torch.from_numpy(img).permute(2, 0, 1).float().unsqueeze(0) / 255.0


def test_warp_by_integer_flow_reproduces_shift(astronaut):
    dx, dy = 3, -2
    flow = torch.zeros(1, 2, *astronaut.shape[-2:])
    flow[:, 0], flow[:, 1] = dx, dy
    out = warp_by_flow(astronaut, flow, padding_mode="zeros")
    # out(y, x) = src(y + dy, x + dx) inside the valid region: every 8-bit code exact (float32 grid error < 1e-4).
    codes = (out * 255).round()
    assert torch.equal(codes[..., 2:, :-3], (astronaut[..., :-2, 3:] * 255).round())
    assert (out[..., 2:, :-3] - astronaut[..., :-2, 3:]).abs().max() < 1e-4
    assert torch.equal(codes[..., :2, :], torch.zeros_like(codes[..., :2, :]))


def test_zero_flow_is_identity(astronaut):
    flow = torch.zeros(1, 2, *astronaut.shape[-2:])
    assert torch.equal((warp_by_flow(astronaut, flow) * 255).round(), (astronaut * 255).round())
    assert torch.allclose(warp_official(astronaut, flow), astronaut, atol=1e-4)


def test_official_warp_matches_generic_on_fractional_flow(astronaut):
    g = torch.Generator().manual_seed(0)
    flow = torch.randn(1, 2, *astronaut.shape[-2:], generator=g) * 2.5
    assert torch.allclose(warp_official(astronaut, flow), warp_by_flow(astronaut, flow), atol=1e-4)


def test_warp_rejects_mismatched_flow(astronaut):
    with pytest.raises(ValueError):
        warp_by_flow(astronaut, torch.zeros(1, 2, 4, 4))


def test_occlusion_of_consistent_translation_is_only_the_border():
    h, w = 32, 40
    fw = torch.zeros(1, 2, h, w)
    fw[:, 0] = 4.0
    bw = -fw
    occ = occlusion_mask(fw, bw)
    assert occ[..., :, :4].eq(1).all() and occ[..., :, 4:].eq(0).all()
    assert inside_mask(bw)[..., :, :4].eq(0).all()
    assert motion_boundary_mask(bw).sum() == 0
    assert reliable_mask(fw, bw)[..., :, 4:].eq(1).all()


def test_inconsistent_flows_are_occluded():
    fw = torch.zeros(1, 2, 16, 16)
    bw = torch.zeros(1, 2, 16, 16)
    bw[..., 4:8, 4:8] = 3.0  # backward motion with no forward counterpart
    occ = occlusion_mask(fw, bw)
    assert occ[..., 4:8, 4:8].eq(1).all() and occ[..., :4, :].eq(0).all()
    assert motion_boundary_mask(bw)[..., 3, 4:8].eq(1).all()


def test_dis_flow_recovers_known_shift_on_real_frame():
    img = skdata.astronaut()[:, :, ::-1].copy()
    a = img[60:316, 40:488]  # 256×448
    b = img[60 - 3 : 316 - 3, 40 + 5 : 488 + 5]  # content moves: a(p) = b(p + (-5, +3))
    flow = dis_flow(a, b)
    core = flow[40:-40, 40:-40]
    assert abs(np.median(core[..., 0]) - (-5.0)) < 0.25
    assert abs(np.median(core[..., 1]) - 3.0) < 0.25
