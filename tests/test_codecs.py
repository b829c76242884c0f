"""Every codec adapter but VVC's with its real encoder on a small photo: a ladder that decodes
to the right size, distortion that grows along the scale, identical bytes twice, the same bytes
as the tool called directly with its documented arguments, errors naming the config key."""

import copy
import os
import subprocess
import sys

import pytest
from PIL import Image

from vvcjnd.colour import YuvFormat
from vvcjnd.distort.codecs import (
    CODECS,
    FfmpegCodec,
    bundled_ffmpeg,
    codec_from_config,
    codec_levels,
)
from vvcjnd.distort.ladder import run_ladder
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png, write_png

from .conftest import REPO

FFMPEG_NAMES = ["x265", "x264", "aom", "svtav1", "jxl"]
PILLOW_NAMES = ["jpeg", "webp", "j2k"]
# Three levels from the least distortion to the most, and one off the codec's scale.
LEVELS = {
    "x265": ([22, 32, 42], 52),
    "x264": ([22, 32, 42], 52),
    "aom": ([20, 35, 50], 64),
    "svtav1": ([20, 35, 50], 64),
    "jxl": ([0.5, 2.0, 5.0], 16.0),
    "jpeg": ([90, 60, 20], 0),
    "webp": ([90, 60, 20], 101),
    "j2k": ([10, 30, 90], 1001),
}
# The rest of each direct ffmpeg encode after the 10-bit raw input of 128x96 pixels (see
# `direct_ffmpeg_encode`), at the middle level, with the config's default speed.
DIRECT_FFMPEG = {
    "x265": ["-frames:v", "1", "-pix_fmt", "yuv420p10le", "-threads", "1", "-c:v", "libx265",
             "-preset", "medium", "-x265-params",
             "qp=32:keyint=1:aq-mode=0:pools=none:frame-threads=1:no-wpp=1", "-f", "hevc"],
    "x264": ["-frames:v", "1", "-pix_fmt", "yuv420p10le", "-threads", "1", "-c:v", "libx264",
             "-preset", "medium", "-qp", "32", "-g", "1", "-aq-mode", "0",
             "-x264-params", "ipratio=1:psy=0", "-f", "h264"],
    "aom": ["-frames:v", "1", "-pix_fmt", "yuv420p10le", "-threads", "1", "-c:v", "libaom-av1",
            "-usage", "allintra", "-still-picture", "1", "-cpu-used", "6", "-crf", "35",
            "-b:v", "0", "-aq-mode", "0", "-aom-params", "deltaq-mode=0", "-row-mt", "0",
            "-tiles", "1x1", "-f", "ivf"],
    "svtav1": ["-frames:v", "1", "-pix_fmt", "yuv420p10le", "-threads", "1", "-c:v", "libsvtav1",
               "-preset", "6", "-svtav1-params", "rc=0:qp=35:aq-mode=0:keyint=1:avif=1:lp=1",
               "-f", "ivf"],
    "jxl": ["-frames:v", "1", "-pix_fmt", "rgb24", "-threads", "1", "-c:v", "libjxl",
            "-distance", "2", "-effort", "7", "-f", "image2pipe"],
}  # fmt: skip
# Image.save's options of each Pillow codec at the middle level (config defaults).
DIRECT_PILLOW = {
    "jpeg": {"format": "JPEG", "quality": 60, "subsampling": 2, "optimize": False,
             "progressive": False},
    "webp": {"format": "WEBP", "quality": 60, "method": 4, "lossless": False},
    "j2k": {"format": "JPEG2000", "no_jp2": True, "quality_mode": "rates",
            "quality_layers": [30], "irreversible": True, "mct": 1},
}  # fmt: skip


@pytest.fixture(scope="module")
def photo(tmp_path_factory, astronaut_small):
    path = tmp_path_factory.mktemp("photo") / "img.png"
    write_png(path, astronaut_small)
    return path


@pytest.fixture(scope="module", params=FFMPEG_NAMES + PILLOW_NAMES)
def ladder(request, tmp_path_factory, photo, default_config):
    name = request.param
    root = tmp_path_factory.mktemp(name)
    codec = codec_from_config(default_config["encode"], name)
    codec.check()
    record = run_ladder(photo, root / "img", root / "img.json", codec, YuvFormat(),
                        LEVELS[name][0], workers=2, log=root / "log.txt")  # fmt: skip
    return name, codec, root / "img", record


def middle_bitstream(ladder) -> bytes:
    _, _, folder, record = ladder
    return (folder / record["points"][1]["bitstream"]).read_bytes()


def test_ladder_decodes_to_the_source_size(ladder, astronaut_small):
    name, _, folder, record = ladder
    assert [point["level"] for point in record["points"]] == LEVELS[name][0]
    for point in record["points"]:
        assert read_png(folder / point["decoded_png"]).shape == astronaut_small.shape
    assert "unknown" not in record["encoder_version"] or name == "jxl"


def test_distortion_grows_along_the_scale(ladder):
    _, _, _, record = ladder
    points = record["points"]
    assert all(a["psnr_y"] > b["psnr_y"] for a, b in zip(points, points[1:], strict=False))
    assert all(a["bytes"] > b["bytes"] for a, b in zip(points, points[1:], strict=False))
    assert 22 < points[-1]["psnr_y"] < points[0]["psnr_y"] < 70


def test_the_same_level_twice_gives_identical_bytes(ladder, photo, tmp_path):
    name, codec, _, _ = ladder
    again = run_ladder(photo, tmp_path / "img", tmp_path / "img.json", codec, YuvFormat(),
                       [LEVELS[name][0][1]])  # fmt: skip
    assert (tmp_path / "img" / again["points"][0]["bitstream"]).read_bytes() == middle_bitstream(
        ladder
    )


def direct_ffmpeg_encode(name: str, rgb, tmp_path) -> bytes:
    """The bitstream of the bundled ffmpeg called with the literal arguments above."""
    source = tmp_path / "source.raw"
    if name == "jxl":
        source.write_bytes(rgb.tobytes())
        pix_fmt = "rgb24"
    else:
        yuv = YuvFormat()
        source.write_bytes(yuv.to_bytes(*yuv.rgb_to_yuv(rgb)))
        pix_fmt = "yuv420p10le"
    out = tmp_path / "direct.bin"
    subprocess.run(
        [bundled_ffmpeg(), "-hide_banner", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", pix_fmt,
         "-s:v", "128x96", "-r", "1", "-i", str(source), *DIRECT_FFMPEG[name], str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out.read_bytes()


def direct_pillow_encode(name: str, rgb, tmp_path) -> bytes:
    out = tmp_path / "direct.bin"
    Image.fromarray(rgb).save(out, **DIRECT_PILLOW[name])
    return out.read_bytes()


def test_bitstream_equals_the_tool_called_directly(ladder, astronaut_small, tmp_path):
    name = ladder[0]
    direct = direct_ffmpeg_encode if name in DIRECT_FFMPEG else direct_pillow_encode
    assert direct(name, astronaut_small, tmp_path) == middle_bitstream(ladder)


@pytest.mark.parametrize("name", FFMPEG_NAMES + PILLOW_NAMES)
def test_level_off_the_scale_names_key_and_scale(name, config):
    encode = copy.deepcopy(config["encode"])
    levels, off = LEVELS[name]
    if CODECS[name].scale.name == "qp":
        encode["qp"] = {"min": 22, "max": off, "step": off - 22}
        key = "encode.qp"
    else:
        low, high = sorted([levels[0], off])
        encode[name]["levels"] = {"min": low, "max": high, "step": high - low}
        key = f"encode.{name}.levels"
    with pytest.raises(VvcjndError, match=key) as error:
        codec_levels(encode, name)
    assert CODECS[name].scale.describe() in str(error.value)


@pytest.mark.parametrize("name", FFMPEG_NAMES)
def test_an_ffmpeg_without_the_codec_names_encode_ffmpeg(name, config, tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho ' V....D rawvideo             raw video'\n")
    fake.chmod(0o755)
    encode = dict(config["encode"], ffmpeg=str(fake))
    with pytest.raises(VvcjndError, match="'encode.ffmpeg'.* has no lib"):
        codec_from_config(encode, name).check()
    fake.chmod(0o644)
    with pytest.raises(VvcjndError, match="'encode.ffmpeg'.*not an executable"):
        codec_from_config(encode, name).check()


def test_codecs_command_lists_every_codec_with_scale_and_version():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    listing = subprocess.run(
        [sys.executable, "-m", "vvcjnd", "codecs"], capture_output=True, text=True, check=True,
        env=env, timeout=60, cwd=REPO,
    ).stdout.splitlines()  # fmt: skip
    by_name = {line.split()[0]: line for line in listing}
    assert list(by_name) == list(CODECS)
    for name, cls in CODECS.items():
        assert cls.scale.describe() in by_name[name] and cls.takes in by_name[name]
    assert "not available" in by_name["vtm"]
    for name, library in [
        ("x264", "x264 core"),
        ("aom", "libaom v"),
        ("svtav1", "SVT-AV1 v"),
        ("x265", "x265 "),
        ("jpeg", "libjpeg-turbo"),
        ("webp", "libwebp"),
    ]:
        assert library in by_name[name] and "unknown" not in by_name[name]
    assert all(issubclass(CODECS[name], FfmpegCodec) for name in FFMPEG_NAMES)
