"""Stage 7, JND profiles: the trained network applied to whole images.

`profile`: patch decomposition, network, blending and the written profile; `figures`: the
colour-mapped JND map and the report gallery (no torch). The JND maths it shares with the
baselines lives in `vvcjnd.jndmath`.
"""
