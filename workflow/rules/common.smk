"""Shared names and input functions of the workflow."""

import math
import re
from pathlib import Path

from PIL import Image

from vvcjnd.config import qp_ladder
from vvcjnd.encoders import codec_from_config
from vvcjnd.errors import VvcjndError
from vvcjnd.paths import PROFILE_FILES, profile_paths
from vvcjnd.sources import discover

RESULTS = "results"
ENCODER = config["encode"]["encoder"]
QPS = qp_ladder(config)
try:
    SOURCES = discover(config["sources"])
    CODEC = codec_from_config(config["encode"])
    CODEC.check()
except VvcjndError as error:
    raise WorkflowError(str(error)) from None
IMAGES = [source.image_id for source in SOURCES]
SESSION = {source.image_id: source.session for source in SOURCES}


wildcard_constraints:
    image="[A-Za-z0-9][A-Za-z0-9_.-]*",
    encoder=re.escape(ENCODER),


def pristine_png(image):
    """Canonical pristine PNG of an image id."""
    return f"{RESULTS}/sources/images/{image}.png"


def megapixels(path):
    """Megapixels of an image file; 2.07 (1920x1080) until the file exists."""
    try:
        with Image.open(path) as image:
            return image.width * image.height / 1e6
    except OSError:
        return 1920 * 1080 / 1e6


def ladder_runtime_min(wildcards, input, threads):
    """Minutes for one image's whole ladder: encode time per megapixel scaled by QP, plus slack.

    Encode time roughly halves every 6 QP above the lowest; VTM's rate comes from config,
    VVenC and vvencapp are taken as 40x faster (preset faster/fast at most a few s per MP).
    """
    per_mp = config["encode"]["vtm"]["seconds_per_megapixel"]
    if ENCODER != "vtm":
        per_mp /= 40
    qp_factor = sum(2 ** (-(qp - QPS[0]) / 6) for qp in QPS)
    seconds = per_mp * megapixels(input.image) * qp_factor / max(1, threads)
    return 10 + math.ceil(2 * seconds / 60)


def ladder_mem_mb(wildcards, input, threads):
    """Memory of one ladder job: per encoder process about 300 MB plus 150 MB per megapixel."""
    return 500 + threads * math.ceil(300 + 150 * megapixels(input.image))


INFER = f"{RESULTS}/infer"


def profile_file(image, key):
    """One of an image's inference outputs (a key of vvcjnd.paths.PROFILE_FILES)."""
    return str(profile_paths(f"{INFER}/{image}")[key])


def folder_of(key, up=1):
    """A params function: the folder ``up`` levels above the first file of input ``key``
    (so that paths follow the inputs, as on a cluster without a shared filesystem)."""
    return lambda wildcards, input: str(Path(input[key][0]).parents[up - 1])
