"""PWC-Net cost volume: torch path and CuPy kernel against a naive per-element definition."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from svcnet.ops import correlation_cupy
from svcnet.ops.correlation import correlation, correlation_torch, displacements


def naive_correlation(first: torch.Tensor, second: torch.Tensor, d: int = 4) -> torch.Tensor:
    """Definition, element by element: channel c ↔ (dy, dx) = (c // (2d+1) − d, c % (2d+1) − d), zero outside."""
    b, ch, h, w = first.shape
    side = 2 * d + 1
    out = torch.zeros(b, side * side, h, w, dtype=torch.float64)
    f, s = first.double(), second.double()
    for n in range(b):
        for c in range(side * side):
            dy, dx = c // side - d, c % side - d
            for y in range(h):
                for x in range(w):
                    y2, x2 = y + dy, x + dx
                    if 0 <= y2 < h and 0 <= x2 < w:
                        out[n, c, y, x] = (f[n, :, y, x] * s[n, :, y2, x2]).sum() / ch
    return out


def test_displacement_order():
    d = displacements(4)
    assert len(d) == 81 and d[0] == (-4, -4) and d[8] == (-4, 4) and d[40] == (0, 0) and d[80] == (4, 4)
    assert all(d[c] == (c // 9 - 4, c % 9 - 4) for c in range(81))


@pytest.mark.parametrize("d", [4, 2])
def test_torch_path_equals_naive_definition(d):
    g = torch.Generator().manual_seed(d)
    first, second = torch.randn(2, 5, 7, 10, generator=g), torch.randn(2, 5, 7, 10, generator=g)
    ref = naive_correlation(first, second, d)
    out = correlation_torch(first, second, d)
    assert out.shape == (2, (2 * d + 1) ** 2, 7, 10) and out.dtype == torch.float32
    assert (out.double() - ref).abs().max().item() < 1e-6
    assert torch.equal(correlation(first, second, d), out)  # CPU tensors always take the torch path


def test_shifted_copy_peaks_at_its_displacement():
    """second(p) = first(p − (dy, dx)) ⇒ first(p) = second(p + (dy, dx)): channel of (dy, dx) holds the channel mean
    of first², the largest value, away from the border."""
    g = torch.Generator().manual_seed(1)
    first = torch.randn(1, 256, 20, 24, generator=g)
    dy, dx = 2, -3
    second = torch.roll(first, shifts=(dy, dx), dims=(2, 3))
    out = correlation(first, second)
    inner = out[0, :, 5:15, 5:19]
    c = (dy + 4) * 9 + (dx + 4)
    assert (inner.argmax(0) == c).all()
    torch.testing.assert_close(inner[c], (first[0] ** 2).mean(0)[5:15, 5:19])


def test_torch_path_gradients():
    g = torch.Generator().manual_seed(2)
    first = torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    second = torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: correlation_torch(a, b, 1), (first, second))


def test_shape_errors():
    with pytest.raises(ValueError, match="B×C×H×W"):
        correlation(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 5))


def test_cupy_kernel_not_used_without_gpu():
    if not torch.cuda.is_available():
        assert not correlation_cupy.usable()


@pytest.mark.skipif(importlib.util.find_spec("cupy") is None, reason="cupy not installed")
def test_cupy_kernel_source_compiles():
    """NVRTC compiles the kernel (no GPU needed); a syntax or type error would fail here."""
    try:
        from cupy_backends.cuda.libs import nvrtc

        prog = nvrtc.createProgram(correlation_cupy._SOURCE, "svcnet_correlation.cu", [], [])
    except Exception as exc:  # NVRTC library not loadable on this machine
        pytest.skip(f"NVRTC unavailable: {exc}")
    try:
        nvrtc.compileProgram(prog, ["-arch=compute_80"])
    except Exception as exc:
        pytest.fail(f"kernel does not compile: {exc}\n{nvrtc.getProgramLog(prog)}")
    assert b"svcnet_correlation" in nvrtc.getPTX(prog)


@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(2, 5, 7, 10), (1, 196, 4, 7), (2, 32, 64, 112)])
def test_cupy_equals_torch_on_gpu(shape):
    if not correlation_cupy.usable():
        pytest.skip("CuPy has no usable GPU")
    g = torch.Generator().manual_seed(3)
    first, second = torch.randn(*shape, generator=g).cuda(), torch.randn(*shape, generator=g).cuda()
    ref = correlation_torch(first, second)
    out = correlation_cupy.correlation_cupy(first, second)
    assert out.shape == ref.shape and out.device == first.device
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(correlation(first, second), ref, rtol=1e-5, atol=1e-5)
    if shape[2] <= 7:
        torch.testing.assert_close(
            out.cpu().double(), naive_correlation(first.cpu(), second.cpu()), rtol=1e-5, atol=1e-5
        )
    a, b = first.clone().requires_grad_(True), second.clone().requires_grad_(True)
    correlation_cupy.correlation_cupy(a, b).square().sum().backward()
    a2, b2 = first.clone().requires_grad_(True), second.clone().requires_grad_(True)
    correlation_torch(a2, b2).square().sum().backward()
    torch.testing.assert_close(a.grad, a2.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(b.grad, b2.grad, rtol=1e-4, atol=1e-4)
