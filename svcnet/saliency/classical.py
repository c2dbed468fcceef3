"""Weight-free saliency maps from OpenCV's saliency module (opencv-contrib ``cv2.saliency``).

``spectral_residual``: Hou & Zhang, CVPR 2007 (log-spectrum residual, computed by OpenCV at 64×64 and resized);
``fine_grained``: Montabone & Soto, 2010 (centre-surround differences on the intensity). Each map is min–max
normalised per frame to uint8 0…255 (a constant map becomes all zeros).
"""

from __future__ import annotations

import cv2
import numpy as np

from svcnet.errors import SvcnetError

METHODS = ("spectral_residual", "fine_grained")


def _detector(method: str):
    if not hasattr(cv2, "saliency"):
        raise SvcnetError("OpenCV has no saliency module: install opencv-contrib-python-headless")
    if method == "spectral_residual":
        return cv2.saliency.StaticSaliencySpectralResidual_create()
    if method == "fine_grained":
        return cv2.saliency.StaticSaliencyFineGrained_create()
    raise SvcnetError(f"unknown classical saliency method {method!r}; choose one of {', '.join(METHODS)}")


def classical_saliency(rgb: np.ndarray, method: str = "spectral_residual") -> np.ndarray:
    """uint8 H×W saliency map of a uint8 RGB image (all zeros for a flat image, which has nothing salient)."""
    if int(rgb.max()) == int(rgb.min()):
        return np.zeros(rgb.shape[:2], np.uint8)
    ok, sal = _detector(method).computeSaliency(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise SvcnetError(f"OpenCV {method} saliency failed on an image of shape {rgb.shape}")
    sal = np.asarray(sal, dtype=np.float32)
    if sal.shape != rgb.shape[:2]:
        sal = cv2.resize(sal, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    lo, hi = float(sal.min()), float(sal.max())
    if hi - lo < 1e-12:
        return np.zeros(rgb.shape[:2], np.uint8)
    return np.round((sal - lo) * (255.0 / (hi - lo))).astype(np.uint8)
