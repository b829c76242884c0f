"""vvcjnd: VVC just-noticeable-distortion datasets and the patch-level JND model."""

__version__ = "0.1.0"
