"""First-frame long-range reference of SSNet (official test loop, first window only): the CPNet colourisation of
the clip's first frame as sk-Lab ``IB_lab`` and its VGG19 features, once per clip (docs/official.md §1.3 step 6)."""

from __future__ import annotations

import torch

from svcnet.models.corrnet import FEATURE_KEYS, VGG19Features
from svcnet.ops.lab import lab8_ab_to_rgb, tensor_lab_to_rgb, transform_lab


@torch.no_grad()
def build_reference(
    l8_frame0: torch.Tensor, cpnet_ab0: torch.Tensor, corr_vgg: VGG19Features
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """SSNet's ``lab_0`` and ``feature_0`` from frame 0.

    ``l8_frame0``: B×1×H×W cv2-Lab L8/255 of the first frame (CPNet's input); ``cpnet_ab0``: B×2×H×W its CPNet ab
    output; ``corr_vgg``: the CorrNet VGG19 (``ssnet.corr.vggnet``). Path: clip, ×255, uint8 truncation, cv2 Lab2RGB,
    the CorrNet "transform" (PIL bilinear resize to H×W — an exact copy at the same size — skimage rgb2lab, float32,
    L*−50), torch Lab→RGB, VGG19 with Caffe preprocessing. Returns (ib_lab B×3×H×W (L*−50, a*, b*), the VGG19 maps
    r12…r52), on the device of ``cpnet_ab0``. Not differentiable (uint8 round trip); runs without autograd.
    """
    rgbs = lab8_ab_to_rgb(l8_frame0, cpnet_ab0)
    size = tuple(cpnet_ab0.shape[-2:])
    ib_lab = torch.cat([transform_lab(img, size) for img in rgbs]).to(cpnet_ab0.device)
    rgb = tensor_lab_to_rgb(torch.cat((ib_lab[:, :1] + 50, ib_lab[:, 1:]), 1))
    return ib_lab, corr_vgg(rgb, FEATURE_KEYS, preprocess=True)
