"""Stage 3, quality: metrics of the decoded ladder and the quality table.

`metrics`: SSIM, MS-SSIM, VIF and VMAF (libvmaf); `table`: the per-image and combined quality
tables and the rate-distortion figure. Imports the base and the distortion stage.
"""
