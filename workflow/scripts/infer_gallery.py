"""Gallery of JND maps of the first test images (rule infer_gallery)."""

from pathlib import Path

from vvcjnd.evaluate import split_ids
from vvcjnd.infer import plot_gallery
from vvcjnd.paths import profile_paths
from vvcjnd.workflow import logged

with logged(snakemake.log[0], snakemake.output):
    infer_dir, images_dir = Path(snakemake.params.infer_dir), Path(snakemake.params.images_dir)
    rows = [
        (
            image,
            images_dir / f"{image}.png",
            profile_paths(infer_dir / image)["jnd_png"],
            profile_paths(infer_dir / image)["map_npy"],
        )
        for image in split_ids(Path(snakemake.input.splits))[: snakemake.params.gallery_images]
    ]
    plot_gallery(rows, snakemake.params.map_max, Path(snakemake.output.figure))
