"""Stage 8, evaluation: JND profiles against classic models and against the labels.

`baselines`: Chou & Li, Yang NAMM and Wu 2017 from their equations; `equal_psnr`: own-level
PSNR and quality at equal PSNR (Table IV); `jnd_qp`: JND-QP prediction; `report` and
`figures`: the HTML tables and figure of the report.
"""
