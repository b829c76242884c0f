"""Stage 5, patches: paired 64x64 luma patches at each image's JND level.

`grid`: the patch grid, extraction and the (mu, c, s) decomposition that inference and
evaluation share; `split`: the split by image; `build`: the on-disk dataset; `dataset`: the
PyTorch dataset over it; `figures`: the report figure.
"""
