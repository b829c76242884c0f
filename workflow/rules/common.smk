"""Shared names and input functions of the workflow."""

import functools
import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

from vvcjnd.config import result_settings
from vvcjnd.distort.codecs import CODECS, codec_from_config, codec_levels, codec_names
from vvcjnd.errors import VvcjndError
from vvcjnd.formats import FORMAT
from vvcjnd.labels.levels import LevelAxis
from vvcjnd.distort.costs import ladder_memory_mb, ladder_runtime_minutes
from vvcjnd.paths import PROFILE_FILES, ladder_record, patch_array, profile_paths
from vvcjnd.paths import pristine_png as pristine_png_path
from vvcjnd.sources.prepare import discover

RESULTS = "results"
COMPARE = f"{RESULTS}/quality/compare"
# The encoder's ladder feeds the labels, patches and training; every codec of
# CODEC_NAMES (the encoder first) gets its own ladder and quality table.
ENCODER = config["encode"]["encoder"]
CODEC_NAMES = codec_names(config["encode"])
try:
    SOURCES = discover(config["sources"])
    LEVELS = {name: codec_levels(config["encode"], name) for name in CODEC_NAMES}
    for name in CODEC_NAMES:
        codec_from_config(config["encode"], name).check()
except VvcjndError as error:
    raise WorkflowError(str(error)) from None
# The label stage, the subjective test, the patches and the evaluation compute in positions
# along the encoder's ladder (the QPs themselves for a QP codec; minus the quality for a
# quality scale): QPS, ascending. Their tables hold the codec's levels (vvcjnd.labels.levels).
AXIS = LevelAxis.from_encode(config["encode"])
AXIS_PARAM = asdict(AXIS.scale)
QPS = AXIS.positions(LEVELS[ENCODER])
IMAGES = [source.image_id for source in SOURCES]
IMAGES_PER_JOB = config["images_per_job"]
SESSION = {source.image_id: source.session for source in SOURCES}


wildcard_constraints:
    image="[A-Za-z0-9][A-Za-z0-9_.-]*",
    encoder="|".join(re.escape(name) for name in CODEC_NAMES),


def settings(section, *drop):
    """Config ``section`` without its operational keys (and without ``drop``): a rule's params
    carry exactly the keys that can change its outputs."""
    kept = result_settings(config, section)
    return {key: value for key, value in kept.items() if key not in drop}


# The keys of the sources section that only canonicalisation reads (not which files).
CANONICAL_KEYS = ("alpha", "resize", "block", "fit")


def source_settings(*drop):
    """The sources section without the key its kind does not read (names or path) and
    without ``drop``."""
    unread = "path" if config["sources"]["kind"] == "skimage" else "names"
    return settings("sources", unread, *drop)


def source_files():
    """The source files (and a sources manifest CSV) as inputs; none for scikit-image's
    images (see shipped_images_version)."""
    kind = config["sources"]["kind"]
    if kind == "skimage":
        return []
    files = [str(source.path) for source in SOURCES]
    return files + [config["sources"]["path"]] if kind == "manifest" else files


def shipped_images_version():
    """scikit-image's version when the sources are its images (they change only with it)."""
    if config["sources"]["kind"] != "skimage":
        return None
    from importlib.metadata import version

    return version("scikit-image")


def encode_settings(name):
    """The settings that determine codec ``name``'s ladder: its name, its own section and
    the shared keys it reads (encode.ffmpeg)."""
    encode = settings("encode")
    shared = {key: encode[key] for key in CODECS[name].shared_keys}
    return {"encoder": name, name: encode[name], **shared}


# Computed once: the ladder jobs' params look them up (planning cost is per job).
ENCODE_SETTINGS = {name: encode_settings(name) for name in CODEC_NAMES}


def ladder_settings():
    """What the encoder's ladder is made of (vvcjnd.distort.codecs.codec_levels): the
    encoder, encode.qp and the encoder's own levels."""
    encode = settings("encode")
    own = {"levels": encode[ENCODER]["levels"]} if "levels" in encode[ENCODER] else {}
    return {"encoder": ENCODER, "qp": encode["qp"], ENCODER: own}


LABEL_SOURCE_SECTIONS = {
    "simulated": "simulate",
    "mat": "mat",
    "tidy": "tidy",
    "test": "test",
}


def label_settings():
    """The labels section with only the configured source's own sub-section."""
    source = config["labels"]["source"]
    inactive = [s for k, s in LABEL_SOURCE_SECTIONS.items() if k != source]
    labels = settings("labels", *inactive)
    # labels_jnd reads the bootstrap and level; the observer model's ambiguity only for mle
    drop = {"planning"} | ({"ambiguity"} if labels["jnd"]["method"] != "mle" else set())
    labels["uncertainty"] = {
        k: v for k, v in labels["uncertainty"].items() if k not in drop
    }
    return labels


def planning_observer_settings():
    """The observer model's keys of labels.simulate that the protocol planning reads (its
    panel size, missing share and file layout are the label stage's own)."""
    simulate = settings("labels")["simulate"]
    keys = ["bias_sd", "careless_share", "metric", "noise_sd", "threshold"]
    return {key: simulate[key] for key in keys}


def quest_settings():
    """subjective.quest without prior_sd under a uniform prior (prior_mean null: unused)."""
    quest = settings("subjective")["quest"]
    if quest["prior_mean"] is None:
        quest.pop("prior_sd")
    return quest


# The canonical pristine PNGs: one directory output of canonicalise_sources, the input of
# every rule that reads them (a script finds an image's PNG in it with
# vvcjnd.paths.pristine_png). As N outputs of one job they would make planning quadratic in
# the number of images: Snakemake scans a job's outputs one by one to find a file's producer,
# and after each job walks every output of the jobs it depends on. For the same reason the
# job that makes them takes one input, SOURCE_INDEX: Snakemake scans the inputs of a file's
# producer each time a job asks for that file, and every per-image job asks for PRISTINE_DIR.
PRISTINE_DIR = f"{RESULTS}/sources/images"
SOURCE_INDEX = f"{RESULTS}/sources/index.tsv"


@functools.cache
def pristine_png(image):
    """Canonical pristine PNG of an image id, inside PRISTINE_DIR (for sizes, not an input)."""
    return str(pristine_png_path(PRISTINE_DIR, image))


def image_megapixels(wildcards):
    """Megapixels of the pristine image of a job's ``image`` wildcard (see megapixels)."""
    return megapixels(pristine_png(wildcards.image))


def pristine_megapixels():
    """Megapixels of every pristine image (see megapixels)."""
    return [megapixels(pristine_png(image)) for image in IMAGES]


@functools.cache
def ladder_json(image, encoder=ENCODER):
    """The ladder record of an image (or wildcard) for an encoder."""
    return str(ladder_record(f"{RESULTS}/ladder/{encoder}", image))


def ladder_jsons():
    """Every image's ladder record; each is written after all of its decoded PNGs."""
    return [ladder_json(image) for image in IMAGES]


# The size taken for an image not yet written: 1920x1080.
DEFAULT_MEGAPIXELS = 1920 * 1080 / 1e6


def megapixels(path):
    """Megapixels of an image file; 2.07 (1920x1080) until the file exists. Read once per
    version of the file (size and modification time): Snakemake evaluates the resources
    of every job, and several jobs ask for each image's size."""
    try:
        status = os.stat(path)
    except OSError:
        return DEFAULT_MEGAPIXELS
    return _megapixels(path, status.st_size, status.st_mtime_ns)


@functools.cache
def _megapixels(path, size_bytes, mtime_ns):
    """megapixels() of one version of a file (its size and mtime: the cache key)."""
    try:
        with Image.open(path) as image:
            return image.width * image.height / 1e6
    except OSError:
        return DEFAULT_MEGAPIXELS


@dataclass(frozen=True)
class ImageJobs:
    """One rule of a per-image step (encode_ladder, infer_image), by ``images_per_job``.

    With 1, the rule ``name`` itself, one job per image (the ``{image}`` wildcard) and, for a
    codec's step, per codec (``{encoder}``). With more, one rule per codec and batch of
    images, ``<name>_<codec>_batch<k>``, whose outputs are its images' files: Snakemake's
    outputs are fixed per rule, so a job of several images needs a rule of its own, and
    planning costs per job. A rule's inputs and params are the same either way, so changing
    ``images_per_job`` reruns nothing.
    """

    name: str
    # a codec's step (encode_ladder) or not (infer_image)
    per_codec: bool
    # the batch's images and its name (batch<k>); None: the {image} wildcard
    images: tuple[str, ...] | None = None
    batch: str | None = None
    # the codec; None: the {encoder} wildcard (in a codec's step)
    encoder: str | None = None

    def files(self, path_of):
        """``path_of(image[, codec])`` for each of the job's images (or the wildcards)."""
        codec = [self.encoder or "{encoder}"] if self.per_codec else []
        images = self.images if self.images is not None else ["{image}"]
        return [path_of(image, *codec) for image in images]

    def log_stem(self, stage):
        """``<stage>/[<codec>/]<image>`` or ``<stage>/[<codec>/]batches/<k>``: the job's log
        and benchmark under their folders."""
        codec = f"{self.encoder or '{encoder}'}/" if self.per_codec else ""
        job = f"batches/{self.batch}" if self.batch else "{image}"
        return f"{stage}/{codec}{job}"

    def codec_value(self, mapping):
        """``mapping``'s value for the job's codec (a params function for the wildcard)."""
        if self.encoder is not None:
            return mapping[self.encoder]
        return lambda wildcards: mapping[wildcards.encoder]

    def sized(self, size):
        """A resources function: ``size(codec, megapixels, threads)``, the codec (None in a
        step of no codec) and the megapixels of each of the job's images."""

        def job_size(wildcards, threads):
            images = [wildcards.image] if self.images is None else self.images
            sizes = [megapixels(pristine_png(image)) for image in images]
            codec = self.encoder or getattr(wildcards, "encoder", None)
            return size(codec, sizes, threads)

        return job_size


def image_jobs(name, per_codec):
    """The rules of the per-image step ``name`` (see ImageJobs)."""
    if IMAGES_PER_JOB == 1:
        return [ImageJobs(name, per_codec)]
    batches = [
        tuple(IMAGES[start : start + IMAGES_PER_JOB])
        for start in range(0, len(IMAGES), IMAGES_PER_JOB)
    ]
    names = [
        f"batch{index + 1:0{len(str(len(batches)))}d}" for index in range(len(batches))
    ]
    return [
        ImageJobs(
            "_".join([name, *([codec] if per_codec else []), batch]),
            per_codec,
            images,
            batch,
            codec,
        )
        for codec in (CODEC_NAMES if per_codec else [None])
        for batch, images in zip(names, batches)
    ]


def ladder_runtime_min(encoder, megapixels, threads):
    """Minutes for the whole ladders of images of ``megapixels`` (vvcjnd.distort.costs)."""
    return sum(
        ladder_runtime_minutes(
            encoder,
            config["encode"]["vtm"]["seconds_per_megapixel"],
            LEVELS[encoder],
            size,
            threads,
        )
        for size in megapixels
    )


def ladder_mem_mb(encoder, megapixels, threads):
    """Memory of a ladder job: its largest image's (vvcjnd.distort.costs)."""
    return ladder_memory_mb(max(megapixels), threads)


INFER = f"{RESULTS}/infer"


@functools.cache
def image_profile_files(image):
    """An image's inference outputs by key of vvcjnd.paths.PROFILE_FILES, in its order
    (once per image: several rules list them)."""
    return {key: str(path) for key, path in profile_paths(f"{INFER}/{image}").items()}


def profile_file(image, key):
    """One of an image's inference outputs (a key of vvcjnd.paths.PROFILE_FILES)."""
    return image_profile_files(image)[key]


def profile_files(image):
    """An image's inference outputs, in the order of vvcjnd.paths.PROFILE_FILES."""
    return list(image_profile_files(image).values())


# The two profile files of each image that the gallery reads.
GALLERY_FILES = ("jnd_png", "map_npy")


def input_of(key):
    """A params function: input ``key`` itself (a folder input such as PRISTINE_DIR), so that
    the path follows the inputs as with folder_of."""
    return lambda wildcards, input: input[key]


def folder_of(key, up=1):
    """A params function: the folder ``up`` levels above the first file of input ``key``
    (so that paths follow the inputs, as on a cluster without a shared filesystem)."""
    return lambda wildcards, input: str(Path(input[key][0]).parents[up - 1])
