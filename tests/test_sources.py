"""Sources: discovery of every kind, canonicalisation rules, and clear errors before any write."""

import io

import numpy as np
import pytest
from PIL import Image

from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table, sha256_file
from vvcjnd.sources.index import INDEX_COLUMNS, index_sources
from vvcjnd.sources.prepare import canonicalise, discover, load_rgb, prepare_sources


def _sources(**overrides):
    base = {
        "kind": "folder",
        "path": None,
        "names": [],
        "session_size": None,
        "alpha": "error",
        "resize": None,
        "block": 8,
        "fit": "crop",
    }
    base.update(overrides)
    return base


def _save(path, pixels, **kwargs):
    Image.fromarray(pixels).save(path, **kwargs)
    return path


@pytest.fixture
def folder(tmp_path, astronaut_small):
    root = tmp_path / "images"
    root.mkdir()
    for name in ["img10.png", "img2.png", "img1.png"]:
        _save(root / name, astronaut_small)
    return root


def test_folder_is_natural_sorted_and_cut_into_sessions(folder):
    images = discover(_sources(path=str(folder), session_size=2))
    assert [i.image_id for i in images] == ["img1", "img2", "img10"]
    assert [i.session for i in images] == [1, 1, 2]


def test_glob_manifest_and_published_layouts(tmp_path, folder, astronaut_small):
    assert len(discover(_sources(kind="glob", path=str(folder / "img1*.png")))) == 2
    manifest = tmp_path / "list.csv"
    manifest.write_text("image_id,path,session\nfirst,images/img2.png,3\nsecond,images/img1.png,\n")
    images = discover(_sources(kind="manifest", path=str(manifest)))
    assert [(i.image_id, i.session) for i in images] == [("first", 3), ("second", 1)]
    assert images[0].path == folder / "img2.png"
    published = tmp_path / "dataset"
    for session in (2, 1):
        (published / f"session{session}_Ori").mkdir(parents=True)
        for name in ["b10.png", "b9.png"]:
            _save(published / f"session{session}_Ori" / name, astronaut_small)
    (published / "session1_Dis").mkdir()
    ids = [
        (i.image_id, i.session) for i in discover(_sources(kind="published", path=str(published)))
    ]
    assert ids == [("s1_b9", 1), ("s1_b10", 1), ("s2_b9", 2), ("s2_b10", 2)]


def test_skimage_kind_finds_bundled_photographs():
    images = discover(_sources(kind="skimage", names=["astronaut", "rocket"]))
    assert [i.path.name for i in images] == ["astronaut.png", "rocket.jpg"]
    with pytest.raises(VvcjndError, match="not_a_photo"):
        discover(_sources(kind="skimage", names=["not_a_photo"]))


def test_duplicate_ids_are_named(tmp_path, folder):
    manifest = tmp_path / "dup.csv"
    manifest.write_text("image_id,path\nsame,images/img1.png\nsame,images/img2.png\n")
    with pytest.raises(VvcjndError, match="duplicate image id 'same'"):
        discover(_sources(kind="manifest", path=str(manifest)))


def test_manifest_errors_name_the_line(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image_id,path,session\nok,a.png,1\nbad id,b.png,1\n")
    with pytest.raises(VvcjndError, match="line 3"):
        discover(_sources(kind="manifest", path=str(manifest)))
    manifest.write_text("name,file\nx,y\n")
    with pytest.raises(VvcjndError, match="lacks column"):
        discover(_sources(kind="manifest", path=str(manifest)))


def test_gray_palette_sixteen_bit_and_exif(tmp_path, astronaut_small):
    gray = astronaut_small[..., 0]
    rgb = load_rgb(_save(tmp_path / "gray.png", gray))
    assert rgb.shape == (*gray.shape, 3) and np.array_equal(rgb[..., 2], gray)
    palette = Image.fromarray(astronaut_small).convert("P", palette=Image.Palette.ADAPTIVE)
    palette.save(tmp_path / "palette.png")
    assert load_rgb(tmp_path / "palette.png").shape == astronaut_small.shape
    deep = (gray.astype(np.uint16) * 257 + 200).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    np.testing.assert_array_equal(load_rgb(tmp_path / "deep.png")[..., 0], deep >> 8)
    # EXIF orientation 6 (rotate 90 degrees clockwise) swaps width and height.
    exif = Image.Exif()
    exif[0x0112] = 6
    _save(tmp_path / "rotated.jpg", astronaut_small, exif=exif.tobytes(), quality=95)
    assert load_rgb(tmp_path / "rotated.jpg").shape[:2] == astronaut_small.shape[1::-1]


def test_alpha_is_an_error_unless_flattened(tmp_path, astronaut_small):
    rgba = np.dstack([astronaut_small, np.full(astronaut_small.shape[:2], 128, np.uint8)])
    path = _save(tmp_path / "alpha.png", rgba)
    with pytest.raises(VvcjndError, match="alpha.png.*sources.alpha"):
        load_rgb(path)
    white = load_rgb(path, "flatten_white")
    black = load_rgb(path, "flatten_black")
    assert (white.astype(int) >= black).all() and white.mean() > black.mean() + 100


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"this is not an image", "cannot decode"), (None, "cannot decode")],
)
def test_bad_files_are_named(tmp_path, astronaut_small, content, message):
    path = tmp_path / "bad.png"
    if content is None:  # a truncated PNG
        buffer = io.BytesIO()
        Image.fromarray(astronaut_small).save(buffer, format="PNG")
        content = buffer.getvalue()[:400]
    path.write_bytes(content)
    with pytest.raises(VvcjndError, match=f"{message}.*bad.png|bad.png.*{message}"):
        load_rgb(path)


def test_block_fit_and_resize(astronaut_small):
    odd = astronaut_small[:93, :125]
    cropped = canonicalise(odd, _sources())
    assert cropped.shape == (88, 120, 3)
    np.testing.assert_array_equal(cropped, odd[2:90, 2:122])
    padded = canonicalise(odd, _sources(fit="pad"))
    assert padded.shape == (96, 128, 3)
    np.testing.assert_array_equal(padded[95, 127], odd[92, 124])
    resized = canonicalise(odd, _sources(resize={"width": 64, "height": 36, "filter": "lanczos"}))
    assert resized.shape == (32, 64, 3)  # 64x36, then 36 cropped to a multiple of 8


def test_resize_crops_to_aspect_then_resamples(astronaut_small):
    out = canonicalise(astronaut_small, _sources(resize={"width": 64, "height": 32}, block=1))
    assert out.shape == (32, 64, 3)


def test_prepare_writes_nothing_when_one_source_is_bad(tmp_path, folder):
    (folder / "zz_broken.png").write_bytes(b"garbage")
    images = discover(_sources(path=str(folder)))
    out = tmp_path / "out"
    with pytest.raises(VvcjndError, match="zz_broken.png"):
        prepare_sources(images, _sources(path=str(folder)), out / "images", out / "manifest.tsv")
    assert not out.exists() or not any(out.rglob("*"))


def test_prepare_writes_manifest_and_is_byte_stable(tmp_path, folder):
    sources = _sources(path=str(folder))
    images = discover(sources)
    for run in ("a", "b"):
        prepare_sources(images, sources, tmp_path / run / "images", tmp_path / run / "m.tsv")
    table = read_table(tmp_path / "a" / "m.tsv")
    assert list(table["image_id"]) == ["img1", "img2", "img10"]
    assert (table["width"] == 128).all() and (table["height"] == 96).all()
    for name in ["m.tsv", "images/img1.png"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_index_lists_each_source_with_its_sha256_and_guards_canonicalisation(tmp_path, folder):
    sources = _sources(path=str(folder), session_size=2)
    images = discover(sources)
    index = tmp_path / "index.tsv"
    index_sources(images, index)
    table = read_table(index)
    assert list(table.columns) == INDEX_COLUMNS
    assert list(table["source"]) == ["img1.png", "img2.png", "img10.png"]
    assert list(table["session"]) == [1, 1, 2]
    assert table["source_sha256"].iloc[0] == sha256_file(folder / "img1.png")
    out = tmp_path / "out"
    prepare_sources(images, sources, out / "images", out / "m.tsv", index)
    manifest = read_table(out / "m.tsv")
    assert list(manifest["source_sha256"]) == list(table["source_sha256"])

    # a source edited after the index was written
    _save(folder / "img2.png", np.zeros((96, 128, 3), np.uint8))
    with pytest.raises(VvcjndError, match=r"img2\.png changed after .*index\.tsv"):
        prepare_sources(
            images, sources, tmp_path / "o2" / "images", tmp_path / "o2" / "m.tsv", index
        )
    # an index of other images (another session size)
    with pytest.raises(VvcjndError, match=r"index\.tsv lists other images"):
        prepare_sources(
            discover(_sources(path=str(folder))), sources, out / "images", out / "m.tsv", index
        )
