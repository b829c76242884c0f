"""Codec adapters: argument lists, executable checks, and VTM when its binaries are given."""

import os
from pathlib import Path

import pytest

from vvcjnd.colour import YuvFormat
from vvcjnd.distort.codecs import FfmpegVvenc, Frame, Vtm, VvencApp, codec_from_config
from vvcjnd.distort.ladder import run_ladder
from vvcjnd.errors import VvcjndError

FRAME = Frame(Path("in.yuv"), 64, 48, 8, 37, Path("out.bin"), Path("dec.yuv"))


def _after(args, flag):
    return args[args.index(flag) + 1]


def test_vvenc_args_constant_qp_without_adaptation():
    args = FfmpegVvenc("ffmpeg", "slow", ["-vvenc-params", "x=1"]).encode_args(FRAME)
    assert _after(args, "-c:v") == "libvvenc" and _after(args, "-qp") == "37"
    assert _after(args, "-qpa") == "0" and _after(args, "-preset") == "slow"
    assert _after(args, "-s:v") == "64x48" and _after(args, "-pix_fmt") == "yuv420p"
    assert args[-3:] == ["-f", "vvc", "out.bin"] and "x=1" in args
    decode = FfmpegVvenc("ffmpeg", "slow", []).decode_args(FRAME)
    assert decode[-1] == "dec.yuv" and _after(decode, "-i") == "out.bin"


def test_vtm_args_follow_its_documented_command_line():
    vtm = Vtm("/opt/EncoderApp", "/opt/DecoderApp", "/opt/encoder_intra_vtm.cfg", [])
    args = vtm.encode_args(FRAME)
    assert args[0] == "/opt/EncoderApp" and _after(args, "-c") == "/opt/encoder_intra_vtm.cfg"
    assert _after(args, "-wdt") == "64" and _after(args, "-hgt") == "48"
    assert (
        _after(args, "-q") == "37" and _after(args, "-f") == "1" and _after(args, "-b") == "out.bin"
    )
    assert "--InputBitDepth=8" in args and "--OutputBitDepth=8" in args
    assert vtm.decode_args(FRAME) == [
        "/opt/DecoderApp",
        "-b",
        "out.bin",
        "-o",
        "dec.yuv",
        "-d",
        "8",
    ]
    assert vtm.setting == "cfg=encoder_intra_vtm.cfg"


def test_vvencapp_args():
    args = VvencApp("vvencapp", "vvdecapp", "fast", []).encode_args(FRAME)
    assert (
        _after(args, "-q") == "37"
        and _after(args, "--qpa") == "0"
        and _after(args, "-c") == "yuv420"
    )


def test_missing_tools_fail_naming_the_config_key(tmp_path, default_config):
    encode = dict(default_config["encode"], encoder="vtm")
    with pytest.raises(VvcjndError, match="encode.vtm.encoder"):
        codec_from_config(encode)
    not_executable = tmp_path / "EncoderApp"
    not_executable.write_text("")
    encode["vtm"] = dict(encode["vtm"], encoder=str(not_executable), decoder="/nope", cfg="/x.cfg")
    with pytest.raises(VvcjndError, match="encode.vtm.encoder"):
        codec_from_config(encode).check()
    with pytest.raises(VvcjndError, match="encode.vvencapp.encoder"):
        codec_from_config(dict(encode, encoder="vvencapp")).check()


def test_version_strings_are_parsed():
    text = "ffmpeg version n9.0.2 Copyright\n[libvvenc @ 0x1] libvvenc version: 1.15.0\n"
    assert FfmpegVvenc.parse_version(text) == "libvvenc 1.15.0 (ffmpeg n9.0.2)"
    assert Vtm.parse_version("VVCSoftware: VTM Encoder Version 5.0 [Linux]") == "VTM 5.0"


@pytest.mark.vtm
@pytest.mark.skipif(
    not (os.environ.get("VTM_ENCODER") and os.environ.get("VTM_DECODER")),
    reason="VTM_ENCODER and VTM_DECODER (and VTM_CFG) must point at VTM's binaries and cfg",
)
def test_vtm_encodes_and_decodes_for_real(tmp_path, astronaut_small):
    from vvcjnd.images import write_png

    cfg = os.environ.get("VTM_CFG") or str(
        Path(os.environ["VTM_ENCODER"]).parents[1] / "cfg" / "encoder_intra_vtm.cfg"
    )
    codec = Vtm(os.environ["VTM_ENCODER"], os.environ["VTM_DECODER"], cfg, [])
    codec.check()
    write_png(tmp_path / "img.png", astronaut_small)
    record = run_ladder(
        tmp_path / "img.png", tmp_path / "img", tmp_path / "img.json", codec,
        YuvFormat(bit_depth=8), [27, 37], log=tmp_path / "log.txt",
    )  # fmt: skip
    low, high = record["points"]
    assert low["bytes"] > high["bytes"] and low["psnr_y"] > high["psnr_y"]
    assert record["encoder_version"].startswith("VTM")


def test_every_codec_has_its_scale_in_the_one_table():
    from vvcjnd.distort.codecs import CODECS, SCALES

    assert set(SCALES) == set(CODECS)
    assert all(cls.scale is SCALES[name] for name, cls in CODECS.items())
