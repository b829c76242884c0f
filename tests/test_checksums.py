"""The dataset checksum manifest: covers the dataset files, ignores only timings."""

import pandas as pd

from vvcjnd.checksums import compare, dataset_checksums, write_checksums
from vvcjnd.io import write_table


def _results(root, encode_s):
    (root / "sources/images").mkdir(parents=True)
    (root / "sources/images/a.png").write_bytes(b"png")
    (root / "ladder/vvenc/a").mkdir(parents=True)
    (root / "ladder/vvenc/a/qp30.266").write_bytes(b"bits")
    (root / "ladder/vvenc/a/qp30.json").write_text(f'{{"encode_s": {encode_s}}}')
    (root / "logs").mkdir()
    (root / "logs/x.log").write_text(str(encode_s))
    table = pd.DataFrame({"qp": [30], "bytes": [4], "encode_s": [encode_s], "decode_s": [0.1]})
    write_table(root / "quality/vvenc.tsv", table)
    return root


def test_timings_do_not_change_the_manifest(tmp_path):
    first = _results(tmp_path / "a", 1.5)
    second = _results(tmp_path / "b", 2.5)
    names = [name for _, name in dataset_checksums(first)]
    assert names == [
        "ladder/vvenc/a/qp30.266",
        "quality/vvenc.tsv (without timings)",
        "sources/images/a.png",
    ]
    write_checksums(first, tmp_path / "a.sha256")
    write_checksums(second, tmp_path / "b.sha256")
    assert (tmp_path / "a.sha256").read_bytes() == (tmp_path / "b.sha256").read_bytes()


def test_a_changed_byte_shows_in_compare(tmp_path):
    first = _results(tmp_path / "a", 1.5)
    second = _results(tmp_path / "b", 1.5)
    (second / "ladder/vvenc/a/qp30.266").write_bytes(b"bitz")
    write_checksums(first, tmp_path / "a.sha256")
    write_checksums(second, tmp_path / "b.sha256")
    assert list(compare(tmp_path / "a.sha256", tmp_path / "b.sha256").index) == [
        "ladder/vvenc/a/qp30.266"
    ]
