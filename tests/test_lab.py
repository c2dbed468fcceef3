"""Lab colour helpers: the official preprocessing bit for bit on the parity frames, Lab conversions against
OpenCV / scikit-image, output composition."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from skimage import color, data

from svcnet.errors import InputError
from svcnet.ops import lab


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real colour photo (scikit-image's bundled astronaut), 96×128 crop-resize."""
    return cv2.resize(data.astronaut()[40:340, 60:460], (128, 96), interpolation=cv2.INTER_AREA)


def test_lab8_codes_of_known_colours():
    rgb = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0]]], dtype=np.uint8)
    codes = lab.rgb_to_lab8(rgb)
    assert codes.dtype == np.uint8 and codes.shape == (1, 3, 3)
    assert codes[0, 0].tolist() == [0, 128, 128] and codes[0, 1].tolist() == [255, 128, 128]
    ref = color.rgb2lab(rgb[:, 2:3])[0, 0]  # red: L* 53.2, a* 80.1, b* 67.2
    assert abs(codes[0, 2, 0] - ref[0] * 255 / 100) <= 1 and abs(codes[0, 2, 1] - (ref[1] + 128)) <= 1
    assert np.abs(lab.lab8_to_rgb(codes).astype(int) - rgb).max() <= 3  # 8-bit Lab quantisation


def test_preprocess_frame_and_scribble(photo):
    l, ab = lab.preprocess_frame(photo, (64, 80))
    assert l.shape == (1, 1, 64, 80) and ab.shape == (1, 2, 64, 80) and l.dtype == ab.dtype == torch.float32
    codes = cv2.cvtColor(cv2.resize(photo, (80, 64), interpolation=cv2.INTER_CUBIC), cv2.COLOR_RGB2Lab)
    assert torch.equal(l[0, 0] * 255, torch.from_numpy(codes[..., 0]).float())
    assert torch.equal(ab[0].permute(1, 2, 0) * 255, torch.from_numpy(codes[..., 1:]).float())
    scribble = np.zeros((64, 80, 3), np.uint8)
    scribble[10:14, 20:24] = (200, 30, 40)
    s = lab.preprocess_scribble(scribble, (64, 80))
    assert torch.equal(s[0, :, 0, 0], torch.full((2,), 128 / 255))  # black background = neutral
    assert s[0, 0, 11, 21] > 150 / 255  # red scribble: a* > 0


def test_transform_l_is_pil_bilinear_then_sklab(photo):
    tl = lab.transform_l(photo, (48, 64))
    resized = np.asarray(Image.fromarray(photo).resize((64, 48), Image.BILINEAR))
    ref = color.rgb2lab(resized).astype(np.float32)
    assert tl.shape == (1, 1, 48, 64) and tl.dtype == torch.float32
    assert torch.equal(tl[0, 0], torch.from_numpy(ref[..., 0]) - 50)
    full = lab.transform_lab(photo, (48, 64))
    assert torch.equal(full[:, :1], tl) and torch.equal(full[0, 1:], torch.from_numpy(ref[..., 1:]).permute(2, 0, 1))
    same = lab.transform_lab(photo, photo.shape[:2])  # no resize at the working size
    assert torch.equal(same, lab.transform_lab(photo, None))


def test_tensor_lab_to_rgb_matches_skimage(photo):
    ref_lab = color.rgb2lab(photo)
    t = torch.from_numpy(ref_lab.astype(np.float32)).permute(2, 0, 1).unsqueeze(0)
    rgb = lab.tensor_lab_to_rgb(t)[0].permute(1, 2, 0).numpy()
    assert np.abs(rgb - photo / 255.0).max() < 2e-3  # round trip through skimage rgb2lab
    assert np.abs(rgb - color.lab2rgb(ref_lab)).max() < 2e-3


def test_tensor_lab_to_rgb_clamps_and_has_finite_gradients():
    t = torch.tensor(
        [[[[0.0, 100.0, 50.0, 30.0]], [[0.0, 0.0, 120.0, -128.0]], [[0.0, 0.0, -120.0, 127.0]]]], requires_grad=True
    )
    rgb = lab.tensor_lab_to_rgb(t)
    assert rgb.shape == (1, 3, 1, 4)
    assert torch.allclose(rgb[0, :, 0, 0], torch.zeros(3)) and torch.allclose(rgb[0, :, 0, 1], torch.ones(3), atol=1e-4)
    assert float(rgb.detach().min()) >= 0 and float(rgb.detach().max()) <= 1
    rgb.sum().backward()
    assert torch.isfinite(t.grad).all()


def test_compose_output_official_and_input_lightness(photo):
    h0, w0 = photo.shape[:2]
    _, ab = lab.preprocess_frame(photo, (32, 48))
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    out = lab.compose_output(ab, gray, (h0, w0))
    assert out.shape == (h0, w0, 3) and out.dtype == np.uint8
    ab_up = cv2.resize(ab[0].permute(1, 2, 0).numpy(), (w0, h0), interpolation=cv2.INTER_LINEAR)
    lab_f = np.concatenate(((gray.astype(np.float32) / 255)[..., None], ab_up), 2) * 255
    assert np.array_equal(out, cv2.cvtColor(lab_f.astype(np.uint8), cv2.COLOR_Lab2RGB))
    assert np.array_equal(lab.compose_output(ab, photo), out)  # RGB original, official BT.601 lightness
    assert np.array_equal(lab.compose_output(ab, gray.astype(np.float32) / 255), out)
    own = lab.compose_output(ab, photo, lightness="input")
    assert np.array_equal(lab.compose_output(ab, photo, lightness="lab"), own)
    assert np.abs(lab.rgb_to_lab8(own)[..., 0].astype(int) - lab.rgb_to_lab8(photo)[..., 0]).mean() < 3
    assert np.abs(own.astype(int) - photo).mean() < 12  # a 32×48 ab colours the photo closely


def test_compose_output_clips_out_of_range_ab_and_checks_inputs():
    gray = np.full((8, 12), 120, np.uint8)
    high = lab.compose_output(torch.full((1, 2, 4, 6), 1.7), gray)
    assert np.array_equal(high, lab.compose_output(torch.ones(1, 2, 4, 6), gray))
    with pytest.raises(InputError, match="output size"):
        lab.compose_output(torch.ones(1, 2, 4, 6), gray, (9, 12))
    with pytest.raises(InputError, match="unknown lightness"):
        lab.compose_output(torch.ones(1, 2, 4, 6), np.zeros((8, 12, 3), np.uint8), lightness="luma")
    with pytest.raises(InputError, match="uint8 H×W×3"):
        lab.preprocess_frame(np.zeros((8, 12, 3), np.float32))
    with pytest.raises(InputError, match="uint8 H×W×3"):
        lab.rgb_to_lab8(np.zeros((8, 12), np.uint8))


def test_official_preprocessing_bit_for_bit(parity_dir, realdata_dir):
    """inputs.pt L8 / scribble_ab8 / transform_l from the legacy_film frames and scribbles, exactly."""
    inputs = torch.load(parity_dir / "inputs.pt", map_location="cpu", weights_only=True)
    film = realdata_dir / "legacy_film"
    for k, (frame, scribble) in enumerate(zip(inputs["frame_names"], inputs["scribble_names"])):
        rgb = np.asarray(Image.open(film / "frames" / frame).convert("RGB"))
        l, _ = lab.preprocess_frame(rgb)
        assert torch.equal(l[0, 0], inputs["L8"][k].float() / 255), frame
        assert np.array_equal(lab.preprocessed_lab8(rgb)[..., 0], inputs["L8"][k].numpy())
        s = np.asarray(Image.open(film / "scribbles_diverse1" / scribble).convert("RGB"))
        assert torch.equal(lab.preprocess_scribble(s)[0], inputs["scribble_ab8"][k].float() / 255), scribble
        assert torch.equal(lab.transform_l(rgb)[0], inputs["transform_l"][k]), frame


def test_reference_image_path_bit_for_bit(parity_dir):
    """Frame 0's official CPNet output → reference RGB → CorrNet Lab → torch Lab→RGB, exactly as the fixtures."""
    inputs = torch.load(parity_dir / "inputs.pt", map_location="cpu", weights_only=True)
    cp = torch.load(parity_dir / "cpnet.pt", map_location="cpu", weights_only=True)
    ss = torch.load(parity_dir / "ssnet.pt", map_location="cpu", weights_only=True)
    rgb = lab.cpnet_ab_to_reference_rgb((inputs["L8"][0].float() / 255).view(1, 1, 256, 448), cp["ab_f0"])
    assert np.array_equal(rgb, ss["ref_rgb_uint8"].numpy())
    ib = lab.transform_lab(rgb)

    def grid(x: torch.Tensor) -> torch.Tensor:
        return x[..., ss["grid_rows"], :][..., ss["grid_cols"]]

    assert torch.equal(grid(ib), ss["ref_IB_lab_grid"])
    ref_rgb = lab.tensor_lab_to_rgb(torch.cat((ib[:, :1] + 50, ib[:, 1:]), 1))
    assert torch.equal(grid(ref_rgb), ss["ref_I_reference_rgb_grid"])
