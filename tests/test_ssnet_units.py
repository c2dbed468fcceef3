"""Unit behaviour of SSNet's sub-networks on small inputs (random weights): residual forms, clamping, SR branch
independence, CorrNet quantisation and batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from svcnet.models.combination import CombinationNet
from svcnet.models.corrnet import CorrespondenceNet, VGG19Features, WarpNet, lab_to_cpnet_ab, wls_smooth_ab
from svcnet.models.srnet import ColorEmbeddingSRNet
from svcnet.models.ssnet import SSNet
from svcnet.models.warn import WarpArtifactRemovalNet

torch.set_num_threads(2)


def _capture(module: torch.nn.Module) -> dict:
    box = {}
    module.register_forward_hook(lambda m, i, o: box.__setitem__("out", o.clone()))
    return box


def _ssnet_inputs(b: int, h: int, w: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x_t = torch.rand(b, 1, h, w, generator=g) * 100 - 50
    lab_0 = torch.cat((torch.rand(b, 1, h, w, generator=g) * 100 - 50, torch.randn(b, 2, h, w, generator=g) * 20), 1)
    p_t = 0.5 + 0.05 * torch.randn(b, 2, h, w, generator=g)
    last = 0.5 + 0.05 * torch.randn(b, 2, h, w, generator=g)
    p_list = [0.5 + 0.05 * torch.randn(b, 2, h, w, generator=g) for _ in range(6)]
    m_list = [torch.rand(b, 1, h, w, generator=g) for _ in range(6)]
    return x_t, lab_0, p_t, last, p_list, m_list


@torch.no_grad()
def test_warn_output_is_input_minus_head():
    torch.manual_seed(0)
    net = WarpArtifactRemovalNet()
    head = _capture(net.up3)
    x, m = torch.rand(2, 2, 32, 48), torch.rand(2, 1, 32, 48)
    out = net(x, m)
    assert out.shape == x.shape
    assert torch.equal(out, x - head["out"])
    assert head["out"].abs().max() > 0  # the head is really used
    net.up3.conv2d.weight.zero_()
    assert torch.equal(net(x, m), x)  # tanh(0) = 0 ⇒ identity


def test_warn_rejects_size_not_divisible_by_4():
    with pytest.raises(ValueError, match="divisible by 4"):
        WarpArtifactRemovalNet()(torch.rand(1, 2, 30, 48), torch.rand(1, 1, 30, 48))


@torch.no_grad()
def test_combination_output_is_warped_minus_residual():
    torch.manual_seed(0)
    net = CombinationNet()
    p_t, w0, warn = torch.rand(1, 2, 32, 48), torch.rand(1, 2, 32, 48), torch.rand(1, 14, 32, 48)
    out, residual = net(p_t, w0, warn)
    assert torch.equal(out, w0 - residual)
    assert residual.abs().max() > 0
    out2, residual2 = net(p_t + 0.1, w0, warn)  # p_t feeds the residual, but is not the base
    assert not torch.equal(residual, residual2) and torch.equal(out2, w0 - residual2)
    with pytest.raises(ValueError, match="divisible by 16"):
        net(torch.rand(1, 2, 40, 48), torch.rand(1, 2, 40, 48), torch.rand(1, 14, 40, 48))


@torch.no_grad()
def test_sr_clamps_and_x2_independent_of_other_branches():
    torch.manual_seed(0)
    net = ColorEmbeddingSRNet()
    x = torch.randn(1, 2, 12, 20) * 2  # far outside [0, 1]
    full = net(x, scales=(2, 4, 8))
    only2 = net(x, scales=(2,))
    assert set(only2) == {2}
    assert torch.equal(full[2], only2[2])
    for s, y in full.items():
        assert y.shape == (1, 2, 12 * s, 20 * s)
        assert y.min() == 0 and y.max() == 1
    for name in ("down2_final", "down4_final", "down8_final"):
        getattr(net, name).conv2d.weight.zero_()
    base = net(x.clamp(0.2, 0.8), scales=(2, 4, 8))  # zero branch ⇒ nearest upsampling
    assert torch.equal(base[4], torch.nn.functional.interpolate(x.clamp(0.2, 0.8), scale_factor=4))
    with pytest.raises(ValueError, match="unsupported SR scale"):
        net(x, scales=(3,))


@torch.no_grad()
def test_vgg19_truncated_outputs_match_full_depth():
    torch.manual_seed(0)
    vgg = VGG19Features()
    x = torch.rand(1, 3, 32, 32)
    shallow = vgg(x, ["r22", "r12"])
    deep = vgg(x, ["r12", "r22", "r54"])
    assert torch.equal(shallow[0], deep[1]) and torch.equal(shallow[1], deep[0])
    assert deep[2].shape == (1, 512, 2, 2) and (deep[2] >= 0).all()
    with pytest.raises(ValueError, match="unknown VGG19"):
        vgg(x, ["r61"])


@torch.no_grad()
def test_warpnet_pads_rows_when_height_not_multiple_of_16():
    torch.manual_seed(0)
    net = WarpNet()
    h, w = 72, 64  # layer5 gives 16 rows, layer2 gives 18: the official replicate-pad fix-up applies
    fa = [torch.rand(1, c, h // s, w // s) for c, s in ((128, 2), (256, 4), (512, 8), (512, 16))]
    y, sim = net(torch.rand(1, 3, h, w), fa, fa, temperature=0.01)
    assert y.shape == (1, 3, h, w) and sim.shape == (1, 1, h, w)


def test_wls_and_round_trip_quantise_to_cv2_codes():
    rng = np.random.default_rng(0)
    l = rng.random((16, 24), dtype=np.float32) * 80 - 30
    lab = np.stack([l, rng.normal(0, 10, (16, 24)).astype(np.float32), rng.normal(0, 10, (16, 24)).astype(np.float32)])
    ab = wls_smooth_ab(l, lab)
    assert ab.shape == (2, 16, 24) and ab.dtype == np.float32
    assert ab.std() < lab[1:].std()  # smoothing
    out, rgb = lab_to_cpnet_ab(l, ab)
    assert rgb.dtype == np.uint8 and rgb.shape == (16, 24, 3)
    codes = out * 255
    assert np.array_equal(codes, np.round(codes)) and out.dtype == np.float32


@torch.no_grad()
def test_ssnet_forward_small_batch_and_sr_paths():
    torch.manual_seed(0)
    net = SSNet(sr_scales=(2,)).eval()
    x_t, lab_0, p_t, last, p_list, m_list = _ssnet_inputs(2, 32, 48)
    feats = net.corr.reference_features(torch.rand(2, 3, 32, 48))
    out, up2, residual = net(x_t, lab_0, feats, p_t, last, p_list, m_list)
    assert out.shape == (2, 2, 32, 48) and up2.shape == (2, 2, 64, 96) and residual.shape == out.shape
    det = net.forward_details(x_t, lab_0, feats, p_t, last, p_list, m_list)
    assert torch.equal(det.out, out) and torch.equal(det.sr[2], up2)
    assert torch.equal(det.out, det.warped_0 - det.residual)
    assert torch.equal(det.warped_0 * 255, torch.round(det.warped_0 * 255))  # uint8 round trip
    # WARN order: [t-3, t-2, t-1, last_out (with the t-1 mask), t+1, t+2, t+3]; on the CPU one call per input,
    # as the official code does (bit-identical)
    order = [*zip(p_list[:3], m_list[:3]), (last, m_list[2]), *zip(p_list[3:], m_list[3:])]
    for slot, (x, m) in enumerate(order):
        assert torch.equal(det.warn_outs[:, 2 * slot : 2 * slot + 2], net.warn(x, m)), slot
    # per-sample results equal batch-1 runs; batched BLAS moves CorrNet floats in the last bits, which the
    # temperature-0.01 softmax amplifies and the uint8 round trip can turn into isolated one-code flips
    corr_one = net.corr.forward_details(x_t[1:], lab_0[1:], [f[1:] for f in feats])
    codes_b = torch.round(det.warped_0[1:] * 255)
    codes_1 = torch.round(corr_one.warped_0 * 255)
    assert (codes_b - codes_1).abs().max() <= 1 and (codes_b != codes_1).float().mean() < 1e-3
    one = net.forward_details(
        x_t[1:],
        lab_0[1:],
        [f[1:] for f in feats],
        p_t[1:],
        last[1:],
        [p[1:] for p in p_list],
        [m[1:] for m in m_list],
        warped_0=det.warped_0[1:],
    )
    assert torch.allclose(one.out, out[1:], atol=1e-5) and torch.allclose(one.sr[2], up2[1:], atol=1e-5)
    # the official ×4/×8 branches do not change the returned ×2 output
    args = (
        x_t[:1],
        lab_0[:1],
        [f[:1] for f in feats],
        p_t[:1],
        last[:1],
        [p[:1] for p in p_list],
        [m[:1] for m in m_list],
    )
    only2 = net.forward_details(*args, warped_0=det.warped_0[:1])
    net.sr_scales = (2, 4, 8)
    det_full = net.forward_details(*args, warped_0=det.warped_0[:1])
    assert set(only2.sr) == {2} and set(det_full.sr) == {2, 4, 8} and det_full.sr[8].shape == (1, 2, 256, 384)
    assert torch.equal(det_full.sr[2], only2.sr[2]) and torch.equal(det_full.out, only2.out)


@pytest.mark.gpu
@torch.no_grad()
def test_warn_all_batched_on_cuda_equals_seven_calls():
    torch.manual_seed(0)
    dev = torch.device("cuda")
    net = SSNet(sr_scales=(2,)).eval().to(dev)
    _, _, _, last, p_list, m_list = _ssnet_inputs(2, 32, 48)
    last, p_list, m_list = last.to(dev), [p.to(dev) for p in p_list], [m.to(dev) for m in m_list]
    outs = net.warn_all(last, p_list, m_list)  # one batched pass on CUDA
    order = [*zip(p_list[:3], m_list[:3]), (last, m_list[2]), *zip(p_list[3:], m_list[3:])]
    for slot, (x, m) in enumerate(order):
        assert torch.allclose(outs[:, 2 * slot : 2 * slot + 2], net.warn(x, m), atol=1e-5), slot


@torch.no_grad()
def test_zero_padding_inside_the_conv_equals_the_official_zeropad_module():
    """Our Conv2dLayer pads inside the convolution; the official ZeroPad2d + conv gives the same numbers (bit for bit
    at 256×448 on the CPU; at this small size oneDNN picks other kernels, which move the last bits)."""
    import copy

    from svcnet.models.blocks import official_zero_padding
    from svcnet.models.cpnet import CPNet

    torch.manual_seed(0)
    cpnet = CPNet().eval()
    official = official_zero_padding(copy.deepcopy(cpnet))
    assert sum(isinstance(m, torch.nn.ZeroPad2d) for m in official.modules()) > 10
    assert official.state_dict().keys() == cpnet.state_dict().keys()
    x, s = torch.rand(1, 1, 32, 48), torch.rand(1, 2, 32, 48)
    assert all(torch.allclose(a, b, rtol=0, atol=1e-6) for a, b in zip(cpnet(x, s), official(x, s)))
    net = SSNet(sr_scales=(2,)).eval()
    x_t, lab_0, p_t, last, p_list, m_list = _ssnet_inputs(1, 32, 48)
    feats = net.corr.reference_features(torch.rand(1, 3, 32, 48))
    ours = net(x_t, lab_0, feats, p_t, last, p_list, m_list)
    theirs = official_zero_padding(copy.deepcopy(net))(x_t, lab_0, feats, p_t, last, p_list, m_list)
    assert all(torch.allclose(a, b, rtol=0, atol=1e-6) for a, b in zip(ours, theirs))


def test_ssnet_rejects_bad_options_and_lists():
    with pytest.raises(ValueError, match="sr_scales"):
        SSNet(sr_scales=(4,))
    net = SSNet()
    x = torch.zeros(1, 2, 16, 16)
    with pytest.raises(ValueError, match="6 warped neighbours"):
        net.warn_all(x, [x] * 5, [x[:, :1]] * 5)


@torch.no_grad()
def test_build_reference_shapes_and_identity_resize():
    from svcnet.models.reference import build_reference
    from svcnet.ops.lab import lab8_ab_to_rgb, transform_lab

    torch.manual_seed(0)
    vgg = VGG19Features()
    l0, ab0 = torch.rand(2, 1, 32, 48), 0.5 + 0.1 * torch.randn(2, 2, 32, 48)
    ib_lab, feats = build_reference(l0, ab0, vgg)
    assert ib_lab.shape == (2, 3, 32, 48) and ib_lab.dtype == torch.float32
    assert [tuple(f.shape[1:]) for f in feats] == [(64, 32, 48), (128, 16, 24), (256, 8, 12), (512, 4, 6), (512, 2, 3)]
    rgb = lab8_ab_to_rgb(l0, ab0)
    assert torch.equal(ib_lab[1:], transform_lab(rgb[1], size=None))  # the PIL resize is an exact copy at H×W
    from PIL import Image

    assert np.array_equal(np.asarray(Image.fromarray(rgb[1]).resize((48, 32), Image.BILINEAR)), rgb[1])
    assert ib_lab[:, 0].min() >= -50 and ib_lab[:, 0].max() <= 50


@torch.no_grad()
def test_corrnet_batch1_reference_broadcasts_over_frames():
    torch.manual_seed(0)
    net = CorrespondenceNet().eval()
    x_t = torch.rand(2, 1, 32, 48) * 100 - 50
    ib_lab = torch.cat((torch.rand(1, 1, 32, 48) * 100 - 50, torch.randn(1, 2, 32, 48) * 20), 1)
    feats = net.reference_features(torch.rand(1, 3, 32, 48))
    both = net.forward_details(x_t, ib_lab, feats)
    rep = net.forward_details(x_t, ib_lab.expand(2, -1, -1, -1), [f.expand(2, -1, -1, -1) for f in feats])
    assert both.warped_0.shape == (2, 2, 32, 48) and both.similarity.shape == (2, 1, 32, 48)
    assert torch.allclose(both.nonlocal_lab, rep.nonlocal_lab, atol=1e-3)


@pytest.mark.filterwarnings("ignore:Conversion from CIE-LAB")  # random Lab values outside the sRGB gamut
def test_reference_embedding_is_computed_once_per_reference_and_changes_nothing(monkeypatch):
    from svcnet.models.corrnet import ReferenceFeatures

    torch.manual_seed(0)
    corr = SSNet(sr_scales=(2,)).eval().corr
    x1, x2 = torch.rand(1, 1, 32, 48) * 100 - 50, torch.rand(1, 1, 32, 48) * 100 - 50
    lab_0 = torch.rand(1, 3, 32, 48) * 50
    plain = corr.reference_features(torch.rand(1, 3, 32, 48))
    memo = ReferenceFeatures(plain)
    calls = []
    real = corr.nonlocal_net.embed_reference
    monkeypatch.setattr(corr.nonlocal_net, "embed_reference", lambda f: calls.append(1) or real(f))
    with torch.no_grad():
        for x in (x1, x2):
            a, b = corr.forward_details(x, lab_0, plain), corr.forward_details(x, lab_0, memo)
            assert torch.equal(a.nonlocal_lab, b.nonlocal_lab) and torch.equal(a.warped_0, b.warped_0)
        assert len(calls) == 2 + 1  # the plain list: every frame; the ReferenceFeatures: once
        corr.nonlocal_net.load_state_dict({k: v * 1.01 for k, v in corr.nonlocal_net.state_dict().items()})
        changed = corr.forward_details(x1, lab_0, memo)  # new weights: the memo is recomputed
        assert len(calls) == 4
        assert torch.equal(changed.nonlocal_lab, corr.forward_details(x1, lab_0, plain).nonlocal_lab)
