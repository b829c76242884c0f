"""The distortion ladder with the real libvvenc encoder and ffmpeg's VVC decoder."""

import json

import numpy as np
import pytest

from vvcjnd.colour import YuvFormat
from vvcjnd.distort.codecs import FfmpegVvenc
from vvcjnd.distort.ladder import run_ladder
from vvcjnd.errors import VvcjndError
from vvcjnd.images import read_png, write_png

QPS = [22, 32, 42]


@pytest.fixture(scope="module")
def ladder(tmp_path_factory, astronaut_small):
    root = tmp_path_factory.mktemp("ladder")
    write_png(root / "img.png", astronaut_small)
    codec = FfmpegVvenc(None, "faster", [])
    record = run_ladder(
        root / "img.png", root / "img", root / "img.json", codec, YuvFormat(), QPS,
        workers=2, log=root / "log.txt",
    )  # fmt: skip
    return root, codec, record


def test_bytes_and_psnr_fall_as_qp_rises(ladder):
    _, _, record = ladder
    points = record["points"]
    assert [p["qp"] for p in points] == QPS
    assert all(a["bytes"] > b["bytes"] for a, b in zip(points, points[1:], strict=False))
    assert all(a["psnr_y"] > b["psnr_y"] for a, b in zip(points, points[1:], strict=False))
    assert 25 < points[-1]["psnr_y"] < points[0]["psnr_y"] < 60
    assert record["encoder_version"].startswith("libvvenc ")


def test_decoded_size_equals_source_size(ladder, astronaut_small):
    root, _, record = ladder
    for point in record["points"]:
        decoded = read_png(root / "img" / point["decoded_png"])
        assert decoded.shape == astronaut_small.shape and decoded.dtype == np.uint8
    leftovers = [p.name for p in (root / "img").iterdir() if p.suffix in (".part", ".yuv")]
    assert leftovers == []


def test_same_qp_twice_gives_identical_bitstreams(ladder, tmp_path):
    root, codec, record = ladder
    again = run_ladder(root / "img.png", tmp_path / "img", tmp_path / "img.json", codec,
                       YuvFormat(), [QPS[1]])  # fmt: skip
    first = (root / "img" / record["points"][1]["bitstream"]).read_bytes()
    second = (tmp_path / "img" / again["points"][0]["bitstream"]).read_bytes()
    assert first == second
    assert (root / "img" / "qp32.png").read_bytes() == (tmp_path / "img" / "qp32.png").read_bytes()


def test_rerun_reuses_finished_points_and_redoes_damaged_ones(ladder):
    root, codec, record = ladder
    (root / "img" / "qp42.png").write_bytes(b"damaged")
    rerun = run_ladder(root / "img.png", root / "img", root / "img.json", codec, YuvFormat(), QPS)
    by_qp = {p["qp"]: p for p in rerun["points"]}
    old = {p["qp"]: p for p in record["points"]}
    assert by_qp[22]["encode_s"] == old[22]["encode_s"]  # reused, not re-encoded
    assert by_qp[42]["decoded_sha256"] == old[42]["decoded_sha256"]  # redone, same bytes
    assert json.loads((root / "img" / "qp42.json").read_text())["key"] == old[42]["key"]


def test_failing_encoder_raises_with_its_output(tmp_path, astronaut_small):
    write_png(tmp_path / "img.png", astronaut_small)
    codec = FfmpegVvenc(None, "faster", ["-vvenc-params", "NoSuchOption=1"])
    with pytest.raises(VvcjndError, match="exit status") as error:
        run_ladder(tmp_path / "img.png", tmp_path / "img", tmp_path / "img.json", codec,
                   YuvFormat(), [30], log=tmp_path / "log.txt")  # fmt: skip
    assert "libvvenc" in str(error.value)
    assert not (tmp_path / "img.json").exists()
    assert not list((tmp_path / "img").glob("qp30.*"))
    assert "$ " in (tmp_path / "log.txt").read_text()


def test_encoder_timeout_kills_and_reports(tmp_path, astronaut_small):
    write_png(tmp_path / "img.png", astronaut_small)
    with pytest.raises(VvcjndError, match="timed out"):
        run_ladder(tmp_path / "img.png", tmp_path / "img", tmp_path / "img.json",
                   FfmpegVvenc(None, "slower", []), YuvFormat(), [13], timeout_s=0.05)  # fmt: skip


def test_quality_table_ssim_is_on_the_luma_the_model_sees(tmp_path):
    import skimage.data

    from vvcjnd.colour import luma_uint8
    from vvcjnd.quality import metrics
    from vvcjnd.quality.table import image_quality

    write_png(tmp_path / "img.png", skimage.data.astronaut()[:192, :192])
    record = run_ladder(
        tmp_path / "img.png", tmp_path / "img", tmp_path / "img.json",
        FfmpegVvenc(None, "faster", []), YuvFormat(), [37], workers=1, log=tmp_path / "log",
    )  # fmt: skip
    table = image_quality(tmp_path / "img.json", session=1, use_vmaf=False)
    pristine = luma_uint8(read_png(tmp_path / "img.png"))
    decoded = luma_uint8(read_png(tmp_path / "img" / record["points"][0]["decoded_png"]))
    assert table.loc[0, "ssim_y"] == metrics.ssim(pristine, decoded)
    assert table.loc[0, "ms_ssim"] == metrics.ms_ssim(pristine, decoded)
