"""Gallery of JND maps of the first test images (rule infer_gallery)."""

from pathlib import Path

from vvcjnd.infer.figures import plot_gallery
from vvcjnd.patches.split import read_split_ids
from vvcjnd.paths import pristine_png, profile_paths
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    infer_dir, images_dir = Path(snakemake.params.infer_dir), Path(snakemake.params.images_dir)
    rows = [
        (
            image,
            pristine_png(images_dir, image),
            profile_paths(infer_dir / image)["jnd_png"],
            profile_paths(infer_dir / image)["map_npy"],
        )
        for image in read_split_ids(Path(snakemake.input.splits))[: snakemake.params.gallery_images]
    ]
    plot_gallery(rows, snakemake.params.map_max, Path(snakemake.output.figure))
