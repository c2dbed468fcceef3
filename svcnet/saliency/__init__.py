"""Saliency maps (CPNet's segmentation target): PFAN with the public weights, else dataset masks or OpenCV saliency."""

from svcnet.saliency.run import METHODS, SaliencySettings, run_saliency

__all__ = ["METHODS", "SaliencySettings", "run_saliency"]
