"""Stage 2, distortion: the codec adapters and the encode/decode ladder of each image.

`codecs`: adapters that build argument lists (libvvenc in ffmpeg, vvencapp, VTM); `ladder`:
one image's ladder with per-QP reuse; `costs`: runtime and memory estimates for schedulers.
Imports the shared base (the one tool runner is `vvcjnd.runner`).
"""
