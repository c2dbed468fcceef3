"""The output lightness (L channel) choices of :func:`svcnet.ops.lab.compose_output` and their default.

One definition for the library, the CLI options (this module imports nothing heavy), the config schema (a test checks
its enum) and the report.
"""

from __future__ import annotations

from svcnet.errors import InputError

LIGHTNESS = {"official": "BT.601 luma as Lab L", "input": "each frame's own Lab L"}  # choice: what it writes
LIGHTNESS_CHOICES = tuple(LIGHTNESS)
DEFAULT_LIGHTNESS = "official"  # the official code's output step
LIGHTNESS_ALIASES = {"lab": "input"}  # accepted by compose_output only
LIGHTNESS_HELP = " | ".join(f"{name}: {what}" for name, what in LIGHTNESS.items())


def check_lightness(lightness: str) -> str:
    """``lightness`` when it is one of :data:`LIGHTNESS_CHOICES`; an InputError naming the choices otherwise."""
    if lightness not in LIGHTNESS:
        raise InputError(f"unknown lightness {lightness!r}; choose one of {', '.join(LIGHTNESS_CHOICES)}")
    return lightness
