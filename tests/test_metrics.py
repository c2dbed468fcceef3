"""Metrics: PSNR/SSIM calibrated against scikit-image on real images, Lab and 256p variants, warping error, CDC."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy import stats
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from svcnet.data.frames import list_frames, read_rgb
from svcnet.evaluate.scoring import score_video, temporal_flows
from svcnet.metrics import cdc, channel_histograms, js_divergence, psnr, ssim, warping_error
from svcnet.ops.flow_dis import dis_flow
from svcnet.ops.occlusion import reliable_mask

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo" / "davis"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def nchw(*imgs: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2)


def demo_frames(clip: str = "blackswan", n: int = 5) -> np.ndarray:
    return np.stack([read_rgb(p) for p in list_frames(DEMO / clip / "frames")[:n]])


def blurred(img: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(img, (5, 5), 1.5)


# Reference values: scikit-image 0.26 on the bundled images vs their 5x5 sigma-1.5 Gaussian blur (pyiqa-style).
REFERENCE = {
    "astronaut": (27.66264987139518, 0.8976758046404022),
    "coffee": (27.304086039263552, 0.8151217068655269),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_psnr_ssim_reference_values(name):
    img = getattr(data, name)()
    ref_psnr, ref_ssim = REFERENCE[name]
    pred, target = nchw(blurred(img)), nchw(img)
    assert psnr(pred, target).item() == pytest.approx(ref_psnr, abs=1e-9)
    assert ssim(pred, target).item() == pytest.approx(ref_ssim, abs=1e-9)


def test_psnr_ssim_match_skimage_on_video_frames_batched():
    gt = demo_frames(n=4)
    rng = np.random.default_rng(0)
    pred = np.clip(gt.astype(int) + rng.integers(-25, 26, gt.shape), 0, 255).astype(np.uint8)
    pred[2] = blurred(gt[2])
    ours_p = psnr(nchw(*pred), nchw(*gt)).numpy()
    ours_s = ssim(nchw(*pred), nchw(*gt)).numpy()
    for i in range(len(gt)):
        assert ours_p[i] == pytest.approx(peak_signal_noise_ratio(gt[i], pred[i]), abs=1e-9)
        assert ours_s[i] == pytest.approx(structural_similarity(gt[i], pred[i], channel_axis=2), abs=1e-9)
    # float32 on request, still close
    assert np.allclose(ssim(nchw(*pred), nchw(*gt), dtype=torch.float32).numpy(), ours_s, atol=1e-4)


def test_identical_images_give_inf_and_one():
    img = nchw(data.chelsea())
    assert psnr(img, img).item() == float("inf")
    assert ssim(img, img).item() == 1.0


def test_ssim_rejects_bad_shapes():
    with pytest.raises(ValueError):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
    with pytest.raises(ValueError):
        ssim(torch.zeros(1, 3, 5, 5), torch.zeros(1, 3, 5, 5))


def test_lab_ab_metrics_are_float_not_uint8_wraparound():
    gt = data.astronaut()
    pred = np.ascontiguousarray(gt[:, :, ::-1])  # a strong colour error: |a/b differences| >= 16 somewhere
    ab_gt = cv2.cvtColor(gt, cv2.COLOR_RGB2Lab)[:, :, 1:]
    ab_pred = cv2.cvtColor(pred, cv2.COLOR_RGB2Lab)[:, :, 1:]
    ours = psnr(nchw(ab_pred), nchw(ab_gt)).item()
    assert ours == pytest.approx(peak_signal_noise_ratio(ab_gt.astype(float), ab_pred.astype(float), data_range=255))
    # the official formula on uint8 arrays: differences and squares wrap modulo 256 (exact only while |diff| < 16)
    wrapped = ((ab_pred - ab_gt) ** 2).mean()
    official = 10 * np.log10(255.0**2 / wrapped)
    assert abs(official - ours) > 0.5
    assert ssim(nchw(ab_pred), nchw(ab_gt)).item() == pytest.approx(
        structural_similarity(ab_gt, ab_pred, channel_axis=2), abs=1e-9
    )


def test_256p_variant_resizes_like_cv2():
    gt = np.stack([data.astronaut()[100:340, 50:370]] * 2)  # 320x240: resized up to 448x256
    pred = np.stack([blurred(g) for g in gt])
    s = score_video(pred, gt, torch.device("cpu"), exclude_first=False, batch=2)
    r_gt = cv2.resize(gt[0], (448, 256), interpolation=cv2.INTER_LINEAR)
    r_pred = cv2.resize(pred[0], (448, 256), interpolation=cv2.INTER_LINEAR)
    assert s.per_frame["psnr_256p"][0] == pytest.approx(peak_signal_noise_ratio(r_gt, r_pred), abs=1e-9)
    assert s.per_frame["ssim_256p"][0] == pytest.approx(structural_similarity(r_gt, r_pred, channel_axis=2), abs=1e-9)
    assert s.per_frame["psnr"][0] == pytest.approx(peak_signal_noise_ratio(gt[0], pred[0]), abs=1e-9)


def test_score_video_excludes_first_frame():
    gt = demo_frames(n=3)
    pred = gt.copy()
    pred[0] = 0  # a wrong first frame does not count
    s = score_video(pred, gt, torch.device("cpu"))
    assert s.frames == [1, 2]
    assert np.all(s.per_frame["psnr"] == np.inf) and np.all(s.per_frame["ssim"] == 1.0)


# ------------------------------------------------------------------------------------------------- warping error
def shifted_video(img: np.ndarray, steps: int, dx: int = 3, dy: int = 2) -> np.ndarray:
    """Frame t = img shifted by t*(dx, dy) (cropped, so every frame is an exact warp of the previous)."""
    h, w = img.shape[0] - steps * dy, img.shape[1] - steps * dx
    return np.stack([img[t * dy : t * dy + h, t * dx : t * dx + w] for t in range(steps)])


def test_warping_error_zero_for_a_video_that_is_its_own_warp_known_flow():
    video = shifted_video(data.astronaut()[::2, ::2], 4)
    t, h, w = video.shape[:3]
    frames = nchw(*video).double() / 255.0
    # frame_t(p) = frame_{t+1}(p + flow) with flow = (-3, -2): the content moves by (+3, +2)... inverse shift
    flows = torch.zeros(t - 1, 2, h, w, dtype=torch.float64)
    flows[:, 0], flows[:, 1] = -3.0, -2.0
    masks = torch.ones(t - 1, 1, h, w, dtype=torch.float64)
    masks[..., :2, :] = 0  # where p + flow leaves the image
    masks[..., :, :3] = 0
    err = warping_error(frames, flows, masks)
    assert err.shape == (t - 1,)
    assert torch.all(err < 1e-20)
    # a wrong flow is not free
    assert torch.all(warping_error(frames, torch.zeros_like(flows), masks) > 1e-3)


def test_warping_error_near_zero_with_dis_flow_and_raised_by_flicker():
    video = demo_frames("car-shadow", 6)
    flows, masks = temporal_flows(video)
    assert masks.mean() > 0.5
    frames = nchw(*video).double() / 255.0
    clean = warping_error(frames, flows, masks)
    assert float(clean.mean()) < 2e-3
    flicker = video.astype(int).copy()
    flicker[1::2, :, :, 0] += 40  # every other frame redder
    flicker = np.clip(flicker, 0, 255).astype(np.uint8)
    noisy = warping_error(nchw(*flicker).double() / 255.0, flows, masks)
    assert float(noisy.mean()) > 5 * float(clean.mean())
    assert cdc(nchw(*flicker)) > 2 * cdc(nchw(*video))


def test_warping_error_zero_when_nothing_is_usable():
    frames = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    err = warping_error(frames, torch.zeros(1, 2, 8, 8), torch.zeros(1, 1, 8, 8))
    assert err.tolist() == [0.0]  # the reference divides the (zero) masked sum by H*W*C


# A literal transcription (numpy, float64) of Lai et al.'s fast_blind_video_consistency: Resample2d's CUDA kernel,
# utils.detect_occlusion, its call in compute_flow_occlusion.py and the loop of evaluate_WarpError.py.
def resample2d_reference(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    xf, yf = xs + flow[..., 0], ys + flow[..., 1]
    alpha, beta = (xf - np.floor(xf))[..., None], (yf - np.floor(yf))[..., None]
    xl = np.clip(np.floor(xf).astype(int), 0, w - 1)
    xr = np.clip(np.floor(xf).astype(int) + 1, 0, w - 1)
    yt = np.clip(np.floor(yf).astype(int), 0, h - 1)
    yb = np.clip(np.floor(yf).astype(int) + 1, 0, h - 1)
    return (
        (1 - alpha) * (1 - beta) * img[yt, xl]
        + alpha * (1 - beta) * img[yt, xr]
        + (1 - alpha) * beta * img[yb, xl]
        + alpha * beta * img[yb, xr]
    )


def detect_occlusion_reference(fw_flow: np.ndarray, bw_flow: np.ndarray) -> np.ndarray:
    fw_flow_w = resample2d_reference(fw_flow, bw_flow)
    mag = lambda f: f[:, :, 0] ** 2 + f[:, :, 1] ** 2  # noqa: E731
    mask1 = mag(fw_flow_w + bw_flow) > 0.01 * (mag(fw_flow_w) + mag(bw_flow)) + 0.5
    grads = []
    for c in range(2):
        du, dv = np.zeros(bw_flow.shape[:2]), np.zeros(bw_flow.shape[:2])
        du[:, :-1] = bw_flow[:, :-1, c] - bw_flow[:, 1:, c]
        dv[:-1, :] = bw_flow[:-1, :, c] - bw_flow[1:, :, c]
        grads.append(du**2 + dv**2)
    mask2 = grads[0] + grads[1] > 0.01 * mag(bw_flow) + 0.002
    return np.logical_or(mask1, mask2).astype(np.float64)


def warp_error_reference(output: np.ndarray, inputs: np.ndarray) -> float:
    """One video's warping error; flows of the input frames (OpenCV DIS here, FlowNet2 in the reference)."""
    err = 0.0
    for t in range(1, len(output)):
        fw = dis_flow(inputs[t - 1], inputs[t]).astype(np.float64)  # img1 -> img2
        bw = dis_flow(inputs[t], inputs[t - 1]).astype(np.float64)
        occ = detect_occlusion_reference(bw, fw)  # compute_flow_occlusion.py passes (bw_flow, fw_flow)
        noc = np.repeat((1 - occ)[..., None], 3, axis=2)  # the occlusion PNG read back as RGB
        img1, img2 = output[t - 1] / 255.0, output[t] / 255.0
        diff = (resample2d_reference(img2, fw) - img1) * noc
        n = noc.sum()
        if n == 0:
            n = diff.size
        err += np.square(diff).sum() / n
    return err / (len(output) - 1)


@pytest.mark.parametrize("clip", ["blackswan", "dog"])
def test_warping_error_equals_the_reference_code(clip):
    gt = demo_frames(clip, 5)
    pred = np.clip(gt.astype(int) + np.array([12, -7, 5]) * (np.arange(5) % 2)[:, None, None, None], 0, 255)
    pred = pred.astype(np.uint8)  # a flickering "output", so the error is not ~0
    ours = score_video(pred, gt, torch.device("cpu"), exclude_first=False).warp_error
    ref = warp_error_reference(pred, gt)
    assert ours == pytest.approx(ref, rel=1e-9, abs=0)
    strict = score_video(pred, gt, torch.device("cpu"), exclude_first=False, warp_mask="strict").warp_error
    assert strict != pytest.approx(ref, rel=1e-6)  # the variant really drops pixels (those whose flow leaves)


def test_reference_mask_keeps_pixels_whose_flow_leaves_the_frame():
    h, w = 12, 16
    fw = torch.zeros(1, 2, h, w, dtype=torch.float64)
    fw[:, 0] = -3.0  # input_t(p) = input_{t+1}(p - 3): the left 3 columns come from outside
    bw = -fw
    assert reliable_mask(bw, fw).sum() == h * w
    strict = reliable_mask(bw, fw, "strict")
    assert strict[..., :, :3].sum() == 0 and strict[..., :, 3:].eq(1).all()


# --------------------------------------------------------------------------------------------------------- CDC
def cdc_reference(video: np.ndarray, dilations=(1, 2, 4)) -> float:
    """Straight numpy/scipy transcription of the TCVC definition (per-channel histograms, scipy entropy)."""
    hists = [
        [np.bincount(f[:, :, c].ravel(), minlength=256) / (f.shape[0] * f.shape[1]) for c in range(3)] for f in video
    ]
    per_channel = np.zeros(3)
    for d in dilations:
        for c in range(3):
            js = []
            for i in range(len(video) - d):
                p, q = hists[i][c], hists[i + d][c]
                m = (p + q) / 2
                js.append(0.5 * stats.entropy(p, m) + 0.5 * stats.entropy(q, m))
            per_channel[c] += np.mean(js) / len(dilations)
    return float(per_channel.mean())


def test_cdc_matches_reference_definition():
    video = demo_frames("dog", 7)
    assert cdc(nchw(*video)) == pytest.approx(cdc_reference(video), rel=1e-9)


def test_cdc_of_a_constant_video_is_zero_and_short_video_nan():
    video = np.stack([data.coffee()] * 5)
    assert cdc(nchw(*video)) == 0.0
    assert np.isnan(cdc(nchw(*video[:4])))  # no pair at distance 4


def test_histograms_and_js():
    frames = torch.tensor([[[[0, 0], [255, 1]]]], dtype=torch.uint8)
    h = channel_histograms(frames)
    assert h.shape == (1, 1, 256) and h[0, 0, 0] == 0.5 and h[0, 0, 255] == 0.25
    p = torch.tensor([1.0, 0.0])
    q = torch.tensor([0.0, 1.0])
    assert js_divergence(p, q).item() == pytest.approx(np.log(2))
    assert js_divergence(p, p).item() == 0.0
