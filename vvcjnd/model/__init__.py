"""Stage 6, the model: the structural-visibility network, its checkpoints and training.

`network`: the U-Net in its two architectures (``described``, ``release``); `release`: the
authors' released checkpoint layout and its map onto our modules; `authors`: import of
their published weights; `checkpoint`: writing and strict reading of checkpoints;
`training`: the loop, schedule and stage outputs; `figures`: the loss curves; `costs`:
torch-free cost figures (MACs, training runtime) for planning. Nothing here imports torch
at package import.
"""
