"""svcnet: reproducible SVCNet scribble-based video colorization (Zhao et al., IEEE TIP 2023)."""

__version__ = "0.1.0"
