"""blur2vid: a runnable, tested companion to Jin et al. (CVPR 2018) and HyperCUT (CVPR 2023)."""

__version__ = "0.1.0"
