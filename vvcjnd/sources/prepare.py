"""Pristine sources: find the images, make them canonical 8-bit RGB PNGs, write the manifest.

Canonicalisation rules (also in README.md):

- EXIF orientation is applied first.
- Grayscale (and bilevel) images are replicated into R = G = B; palette images are expanded
  through their palette; CMYK is converted by Pillow's conversion.
- 16-bit samples keep their most significant byte (v >> 8), the rule Pillow itself applies to
  16-bit RGB PNGs, so every 16-bit input is treated alike.
- An alpha channel (RGBA, LA, a palette with transparency) is an error unless
  ``sources.alpha`` asks to composite over white or black.
- Optional resize: centred crop to the target aspect ratio, then a resample to exactly
  width x height with the named Pillow filter.
- Width and height are made multiples of ``sources.block`` by a centred crop (an odd remainder
  leaves the extra pixel on the right/bottom side removed) or by replicating the right/bottom
  edge pixels (``fit: pad``).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from natsort import natsorted
from PIL import Image, ImageOps, UnidentifiedImageError

from vvcjnd.errors import VvcjndError
from vvcjnd.images import png_bytes
from vvcjnd.io import sha256_file, write_bytes, write_table
from vvcjnd.paths import pristine_png
from vvcjnd.sources.index import indexed_digests

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
SESSION_FOLDER = re.compile(r"^session(\d+)_Ori$")
FILTERS = {
    "lanczos": Image.Resampling.LANCZOS,
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "box": Image.Resampling.BOX,
}
MANIFEST_COLUMNS = [
    "image_id",
    "session",
    "source",
    "source_sha256",
    "png_sha256",
    "orig_width",
    "orig_height",
    "width",
    "height",
]


@dataclass(frozen=True)
class SourceImage:
    """One pristine source: id (safe as a file name), file, subjective-test session (>= 1),
    and ``name``: the file as the dataset records it, the same on every machine (the
    scikit-image name, or the path relative to the configured root)."""

    image_id: str
    path: Path
    session: int
    name: str


# -- discovery (cheap: runs when the workflow starts, before any job) -----------------------


def discover(sources: dict) -> list[SourceImage]:
    """List the configured sources in a stable order; raise on missing files or duplicate ids."""
    kind = sources["kind"]
    if kind != "skimage" and not sources.get("path"):
        raise VvcjndError(f"config key 'sources.path' is required when sources.kind is {kind!r}")
    if kind == "manifest":
        images = _from_manifest(Path(sources["path"]))
    elif kind == "published":
        images = _from_published(Path(sources["path"]))
    else:
        files = _files_of(kind, sources)
        sessions = _sessions(len(files), sources["session_size"])
        if kind == "skimage":
            names = [f"skimage:{file.name}" for file in files]
        else:
            root = _names_root(kind, sources["path"]).resolve()
            names = [_relative(file, root) for file in files]
        images = [
            SourceImage(_safe_id(file.stem), file, session, name)
            for file, session, name in zip(files, sessions, names, strict=True)
        ]
    _check_unique(images)
    return images


def _files_of(kind: str, sources: dict) -> list[Path]:
    if kind == "skimage":
        return [_skimage_file(name) for name in sources["names"]]
    if kind == "folder":
        folder = Path(sources["path"])
        if not folder.is_dir():
            raise VvcjndError(f"sources.path {folder} is not a folder (sources.kind is 'folder')")
        files = _visible_files(folder)
    else:
        files = [Path(p) for p in glob.glob(sources["path"], recursive=True) if Path(p).is_file()]
    if not files:
        raise VvcjndError(f"sources.path {sources['path']!r} matches no image file")
    return [Path(p) for p in natsorted(files, key=str)]


def _visible_files(folder: Path) -> list[Path]:
    """The files of ``folder`` not named ``.*``, in listing order (scandir: no stat per file)."""
    with os.scandir(folder) as entries:
        return [Path(e.path) for e in entries if not e.name.startswith(".") and e.is_file()]


def _names_root(kind: str, path: str) -> Path:
    """The folder the names of a folder's or a glob's files are relative to: the folder
    (kind folder) or the part of the pattern before its first wildcard (glob)."""
    parts = Path(path).parts
    if kind == "glob":
        magic = [index for index, part in enumerate(parts) if glob.has_magic(part)]
        parts = parts[: magic[0]] if magic else parts[:-1]
    return Path(*parts) if parts else Path(".")


def _relative(file: Path, resolved_root: Path) -> str:
    """``file`` relative to ``resolved_root`` (already resolved: once per list of sources,
    not per file) as a POSIX path (``file`` itself when outside it)."""
    try:
        return Path(file).resolve().relative_to(resolved_root).as_posix()
    except ValueError:
        return Path(file).as_posix()


def _skimage_file(name: str) -> Path:
    import skimage

    data_dir = Path(skimage.__file__).parent / "data"
    matches = sorted(data_dir.glob(f"{name}.*"))
    if not matches:
        raise VvcjndError(
            f"sources.names: {name!r} is not an image shipped in {data_dir} "
            "(use a file stem such as astronaut, chelsea, coffee, rocket)"
        )
    return matches[0]


def _sessions(count: int, session_size: int | None) -> list[int]:
    if session_size is None:
        return [1] * count
    return [1 + index // session_size for index in range(count)]


def _safe_id(stem: str) -> str:
    """A file stem made safe as an id: characters outside [A-Za-z0-9_.-] become '_'."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)
    return cleaned if ID_PATTERN.match(cleaned) else f"img_{cleaned}"


def _from_manifest(path: Path) -> list[SourceImage]:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise VvcjndError(f"cannot read sources manifest {path}: {exc}") from exc
    missing = {"image_id", "path"} - set(table.columns)
    if missing:
        raise VvcjndError(
            f"sources manifest {path} lacks column(s) {sorted(missing)}; "
            "expected image_id, path and optional session"
        )
    images = []
    root = path.parent.resolve()
    for row_number, row in enumerate(table.itertuples(index=False), start=2):
        where = f"sources manifest {path}, line {row_number}"
        image_id = row.image_id.strip()
        if not ID_PATTERN.match(image_id):
            raise VvcjndError(f"{where}: image_id {image_id!r} must match {ID_PATTERN.pattern}")
        session_text = getattr(row, "session", "") or "1"
        if not session_text.isdigit() or int(session_text) < 1:
            raise VvcjndError(f"{where}: session {session_text!r} must be a whole number >= 1")
        file = Path(row.path)
        if not file.is_absolute():
            file = path.parent / file
        images.append(SourceImage(image_id, file, int(session_text), _relative(file, root)))
    if not images:
        raise VvcjndError(f"sources manifest {path} lists no image")
    return images


def _from_published(root: Path) -> list[SourceImage]:
    folders = []
    if root.is_dir():
        for folder in root.iterdir():
            match = SESSION_FOLDER.match(folder.name)
            if match and folder.is_dir():
                folders.append((int(match.group(1)), folder))
    if not folders:
        raise VvcjndError(f"sources.path {root} holds no session<k>_Ori folder (kind 'published')")
    images = []
    resolved_root = root.resolve()
    for session, folder in sorted(folders):
        for file in natsorted(_visible_files(folder), key=str):
            image_id = f"s{session}_{_safe_id(file.stem)}"
            images.append(SourceImage(image_id, file, session, _relative(file, resolved_root)))
    return images


def _check_unique(images: list[SourceImage]) -> None:
    seen: dict[str, Path] = {}
    for image in images:
        if image.image_id in seen:
            raise VvcjndError(
                f"duplicate image id {image.image_id!r}: {seen[image.image_id]} and {image.path}"
            )
        seen[image.image_id] = image.path


# -- canonicalisation -------------------------------------------------------------------------


def load_rgb(path: Path, alpha: str = "error") -> np.ndarray:
    """Decode any supported image file to uint8 RGB (H, W, 3) by the rules in this module."""
    if not path.is_file():
        raise VvcjndError(f"source image {path} does not exist")
    if path.stat().st_size == 0:
        raise VvcjndError(f"source image {path} is empty")
    try:
        with Image.open(path) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened)
            pixels = _to_rgb(image, path, alpha)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise VvcjndError(f"cannot decode source image {path}: {exc}") from exc
    if pixels.shape[0] < 16 or pixels.shape[1] < 16:
        raise VvcjndError(
            f"source image {path} is {pixels.shape[1]}x{pixels.shape[0]}; need >= 16x16"
        )
    return pixels


def _to_rgb(image: Image.Image, path: Path, alpha: str) -> np.ndarray:
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        return _flatten(np.asarray(image.convert("RGBA")), path, alpha)
    if image.mode.startswith("I;16") or image.mode == "I":
        gray = np.asarray(image).astype(np.int64)
        if gray.max() > 65535 or gray.min() < 0:
            raise VvcjndError(f"source image {path}: integer samples outside 0..65535")
        return np.repeat((gray >> 8).astype(np.uint8)[..., None], 3, axis=2)
    if image.mode in ("1", "L"):
        return np.repeat(np.asarray(image.convert("L"))[..., None], 3, axis=2)
    if image.mode in ("RGB", "CMYK", "YCbCr", "LAB", "HSV"):
        return np.asarray(image.convert("RGB"))
    raise VvcjndError(f"source image {path}: unsupported pixel mode {image.mode!r}")


def _flatten(rgba: np.ndarray, path: Path, alpha: str) -> np.ndarray:
    if alpha == "error":
        raise VvcjndError(
            f"source image {path} has an alpha channel; set sources.alpha to "
            "flatten_white or flatten_black to composite it"
        )
    background = 255.0 if alpha == "flatten_white" else 0.0
    weight = rgba[..., 3:4].astype(np.float64) / 255.0
    mixed = rgba[..., :3] * weight + background * (1.0 - weight)
    return np.rint(mixed).astype(np.uint8)


def canonicalise(rgb: np.ndarray, sources: dict) -> np.ndarray:
    """Apply the optional resize and the block fit to uint8 RGB; return uint8 RGB."""
    if sources["resize"] is not None:
        rgb = _crop_and_resize(rgb, sources["resize"])
    return _fit_block(rgb, sources["block"], sources["fit"])


def _crop_and_resize(rgb: np.ndarray, resize: dict) -> np.ndarray:
    height, width = rgb.shape[:2]
    target_w, target_h = resize["width"], resize["height"]
    # Largest centred crop with the target aspect ratio (integer arithmetic, no drift).
    if width * target_h > height * target_w:
        crop_w, crop_h = height * target_w // target_h, height
    else:
        crop_w, crop_h = width, width * target_h // target_w
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    cropped = Image.fromarray(rgb[top : top + crop_h, left : left + crop_w])
    resized = cropped.resize((target_w, target_h), FILTERS[resize.get("filter", "lanczos")])
    return np.asarray(resized)


def _fit_block(rgb: np.ndarray, block: int, fit: str) -> np.ndarray:
    height, width = rgb.shape[:2]
    extra_h, extra_w = height % block, width % block
    if fit == "pad":
        pad_h, pad_w = (block - extra_h) % block, (block - extra_w) % block
        return np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    top, left = extra_h // 2, extra_w // 2
    return rgb[top : height - (extra_h - top), left : width - (extra_w - left)]


def prepare_sources(
    images: list[SourceImage],
    sources: dict,
    image_dir: Path,
    manifest: Path,
    index: Path | None = None,
):
    """Canonicalise every image, then write the PNGs and the manifest.

    Every source is decoded and checked before anything is written, so a bad file fails
    the stage with nothing new under ``image_dir``. With ``index`` (written by
    :func:`vvcjnd.sources.index.index_sources`), each file must still have the sha256 it lists.
    """
    indexed = indexed_digests(images, index) if index is not None else {}
    prepared = []
    for image in images:
        original = load_rgb(image.path, sources["alpha"])
        digest = sha256_file(image.path)
        if index is not None and digest != indexed[image.image_id]:
            raise VvcjndError(
                f"source image {image.path} changed after {index} was written; "
                "run the workflow again"
            )
        canonical = canonicalise(original, sources)
        prepared.append((image, digest, original.shape, canonical))
    rows = []
    for image, digest, (orig_h, orig_w, _), canonical in prepared:
        png_path = pristine_png(image_dir, image.image_id)
        write_bytes(png_path, png_bytes(canonical))
        rows.append(
            {
                "image_id": image.image_id,
                "session": image.session,
                "source": image.name,
                "source_sha256": digest,
                "png_sha256": sha256_file(png_path),
                "orig_width": orig_w,
                "orig_height": orig_h,
                "width": canonical.shape[1],
                "height": canonical.shape[0],
            }
        )
    write_table(manifest, pd.DataFrame(rows, columns=MANIFEST_COLUMNS))
