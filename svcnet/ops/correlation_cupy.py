"""CUDA kernel (through CuPy) for the PWC-Net cost volume of :mod:`svcnet.ops.correlation`, float32 CUDA tensors only.

One thread per output element ``(b, c, y, x)`` sums ``first[b, :, y, x] · second[b, :, y + dy, x + dx]`` over the
channels and divides by the channel count; out-of-range neighbours give 0. It runs on torch's current CUDA stream.
The backward pass recomputes the torch definition under autograd (the forward is what inference needs fast).
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import torch

log = logging.getLogger(__name__)

_SOURCE = r"""
extern "C" __global__ void svcnet_correlation(
    const float* __restrict__ first, const float* __restrict__ second, float* __restrict__ out,
    const int batch, const int channels, const int height, const int width, const int max_disp)
{
    const int side = 2 * max_disp + 1;
    const long long plane = (long long)height * width;
    const long long total = (long long)batch * side * side * plane;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)blockDim.x * gridDim.x) {
        const int x = (int)(idx % width);
        const int y = (int)((idx / width) % height);
        const int c = (int)((idx / plane) % (side * side));
        const long long b = idx / (plane * side * side);
        const int y2 = y + c / side - max_disp;
        const int x2 = x + c % side - max_disp;
        float sum = 0.0f;
        if (y2 >= 0 && y2 < height && x2 >= 0 && x2 < width) {
            const float* f = first + b * channels * plane + (long long)y * width + x;
            const float* s = second + b * channels * plane + (long long)y2 * width + x2;
            for (int ch = 0; ch < channels; ++ch) {
                sum += f[ch * plane] * s[ch * plane];
            }
        }
        out[idx] = sum / (float)channels;
    }
}
"""
_THREADS = 256


@functools.lru_cache(maxsize=1)
def available() -> bool:
    """True when CuPy imports and sees a usable CUDA device."""
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception:  # no cupy, no driver, wrong CUDA build
        return False


def usable() -> bool:
    """:func:`available` and the kernel compiles (checked once per process; a failure is logged and the torch path
    is used from then on)."""
    global _compile_failed
    if _compile_failed or not available():
        return False
    try:
        _kernel(torch.cuda.current_device())
    except Exception as exc:  # NVRTC missing or incompatible: keep working on the torch path
        log.warning("CuPy correlation kernel unavailable (%s); using the torch implementation", exc)
        _compile_failed = True
        return False
    return True


_compile_failed = False


@functools.cache
def _kernel(device_index: int):
    import cupy

    with cupy.cuda.Device(device_index):
        kernel = cupy.RawKernel(_SOURCE, "svcnet_correlation")
        kernel.compile()
        return kernel


def _launch(first: torch.Tensor, second: torch.Tensor, max_displacement: int) -> torch.Tensor:
    import cupy

    first, second = first.contiguous(), second.contiguous()
    b, c, h, w = first.shape
    side = 2 * max_displacement + 1
    out = torch.empty((b, side * side, h, w), device=first.device, dtype=torch.float32)
    total = out.numel()
    if total == 0:
        return out
    index = first.device.index if first.device.index is not None else torch.cuda.current_device()
    stream = torch.cuda.current_stream(first.device)
    with cupy.cuda.Device(index), cupy.cuda.ExternalStream(stream.cuda_stream):
        blocks = min((total + _THREADS - 1) // _THREADS, 65535 * 8)
        _kernel(index)(
            (blocks,),
            (_THREADS,),
            (
                cupy.from_dlpack(first),
                cupy.from_dlpack(second),
                cupy.from_dlpack(out),
                np.int32(b),
                np.int32(c),
                np.int32(h),
                np.int32(w),
                np.int32(max_displacement),
            ),
        )
    return out


class _CupyCorrelation(torch.autograd.Function):
    @staticmethod
    def forward(ctx, first: torch.Tensor, second: torch.Tensor, max_displacement: int) -> torch.Tensor:
        ctx.save_for_backward(first, second)
        ctx.max_displacement = max_displacement
        return _launch(first, second, max_displacement)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        from svcnet.ops.correlation import correlation_torch

        first, second = ctx.saved_tensors
        with torch.enable_grad():
            f = first.detach().requires_grad_(True)
            s = second.detach().requires_grad_(True)
            out = correlation_torch(f, s, ctx.max_displacement)
            gf, gs = torch.autograd.grad(out, (f, s), grad)
        return gf, gs, None


def correlation_cupy(first: torch.Tensor, second: torch.Tensor, max_displacement: int = 4) -> torch.Tensor:
    """Cost volume on the GPU (float32 CUDA tensors of one shape B×C×H×W); same definition as the torch path."""
    if not (first.is_cuda and second.is_cuda and first.dtype == second.dtype == torch.float32):
        raise ValueError("correlation_cupy needs float32 CUDA tensors")
    if first.shape != second.shape or first.dim() != 4:
        raise ValueError(f"shapes differ or are not B×C×H×W: {tuple(first.shape)} vs {tuple(second.shape)}")
    return _CupyCorrelation.apply(first, second, int(max_displacement))
