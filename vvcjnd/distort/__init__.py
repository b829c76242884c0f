"""Stage 2, distortion: the codec adapters and the encode/decode ladder of each image.

`codecs`: adapters that build argument lists or one Pillow call (VVC, HEVC, AVC, AV1, JPEG XL,
JPEG, WebP, JPEG 2000) over their level scales; `ladder`: one image's ladder with per-level
reuse; `costs`: runtime and memory estimates for schedulers.
Imports the shared base (the one tool runner is `vvcjnd.runner`).
"""
