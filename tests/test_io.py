"""Atomic writes: a full or read-only folder gives an error naming the file, and leaves
neither a temporary file nor a changed target behind."""

import pytest

from vvcjnd.errors import VvcjndError
from vvcjnd.io import remove_stale_temporaries, write_bytes, write_json

from .conftest import small_filesystem


def test_full_folder_names_the_file_and_keeps_the_old_content(tmp_path):
    with small_filesystem(tmp_path / "full", size_kb=64) as folder:
        target = folder / "table.bin"
        write_bytes(target, b"old")
        with pytest.raises(VvcjndError, match=r"cannot write .*table\.bin: No space left"):
            write_bytes(target, b"\1" * (256 << 10))
        assert target.read_bytes() == b"old"
        assert [path.name for path in folder.iterdir()] == ["table.bin"]


def test_read_only_folder_names_the_file(tmp_path):
    with small_filesystem(tmp_path / "ro", size_kb=64, read_only=True) as folder:
        with pytest.raises(VvcjndError, match=r"cannot write .*ro/sub/a\.json: Read-only"):
            write_json(folder / "sub" / "a.json", {"a": 1})
        assert list(folder.iterdir()) == []


def test_stale_temporaries_of_one_file_or_one_folder_are_removed(tmp_path):
    names = [".a[1].png.x7.tmp", ".a[1].png.y8.tmp", ".b.png.z9.tmp", "a[1].png", ".a[1].png"]
    for name in names:
        (tmp_path / name).write_text(name)
    assert remove_stale_temporaries(tmp_path / "a[1].png") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a[1].png", ".b.png.z9.tmp", "a[1].png"]
    assert remove_stale_temporaries(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a[1].png", "a[1].png"]
