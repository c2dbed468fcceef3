"""LPIPS (Zhang et al. 2018) through the ``lpips`` package: AlexNet trunk, v0.1 linear heads (shipped in the wheel).

The trunk's ImageNet weights are not downloaded here: :func:`build_lpips` takes the torchvision AlexNet state dict
(``alexnet-owt-7be5be79.pth``), which the caller reads from wherever it is configured.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import torch


def build_lpips(alexnet_state: Mapping[str, torch.Tensor]) -> torch.nn.Module:
    """An ``lpips.LPIPS(net='alex', version='0.1')`` in eval mode whose trunk holds ``alexnet_state``.

    ``alexnet_state`` is a torchvision ``alexnet`` state dict; its ``features.*`` part (the only part LPIPS uses) is
    loaded with ``strict=True`` into a torchvision AlexNet trunk, so a wrong file fails loudly; ``classifier.*`` keys
    are ignored, any other key is an error.
    """
    import lpips
    from torchvision.models import alexnet

    other = sorted(k for k in alexnet_state if not k.startswith(("features.", "classifier.")))
    if other:
        raise KeyError(f"not a torchvision AlexNet state dict (unexpected keys {', '.join(other[:3])})")
    reference = alexnet(weights=None)
    reference.features.load_state_dict(
        {k[len("features.") :]: v for k, v in alexnet_state.items() if k.startswith("features.")}, strict=True
    )
    with warnings.catch_warnings():  # lpips still passes torchvision's deprecated `pretrained=` argument
        warnings.simplefilter("ignore", UserWarning)
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    features = reference.features
    trunk = model.net
    with torch.no_grad():
        for name, param in trunk.named_parameters():  # slice<k>.<features index>.<weight|bias>
            _, index, kind = name.split(".")
            param.copy_(getattr(features[int(index)], kind))
    return model.eval().requires_grad_(False)


def lpips_distance(model: torch.nn.Module, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """LPIPS per image (B,) of RGB B×3×H×W tensors in [0, 1] (mapped to [-1, 1] as LPIPS expects)."""
    if pred.shape != target.shape or pred.dim() != 4 or pred.shape[1] != 3:
        raise ValueError(
            f"expected two B×3×H×W tensors of one shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    param = next(model.parameters())
    p = pred.to(param.device, torch.float32) * 2.0 - 1.0
    t = target.to(param.device, torch.float32) * 2.0 - 1.0
    with torch.no_grad():
        return model(p, t).flatten().to(pred.device)
