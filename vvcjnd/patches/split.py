"""The train/val/test split by image: fixed lists or a seeded shuffle cut by ratios."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from vvcjnd.errors import VvcjndError
from vvcjnd.io import read_table
from vvcjnd.paths import SPLITS
from vvcjnd.seeds import rng as seeded_rng


def _split_counts(n_images: int, ratios: Mapping[str, float]) -> dict[str, int]:
    """Images per split by largest remainders; a split with a positive ratio gets at least one."""
    total = sum(ratios[name] for name in SPLITS)
    if total <= 0:
        raise VvcjndError("config key 'patches.split.ratios': the ratios must not all be 0")
    exact = {name: n_images * ratios[name] / total for name in SPLITS}
    counts = {name: int(np.floor(exact[name])) for name in SPLITS}
    by_remainder = sorted(SPLITS, key=lambda name: (counts[name] - exact[name], SPLITS.index(name)))
    for name in by_remainder[: n_images - sum(counts.values())]:
        counts[name] += 1
    for name in SPLITS:
        if ratios[name] > 0 and counts[name] == 0:
            donor = max(SPLITS, key=lambda other: counts[other])
            if counts[donor] < 2:
                raise VvcjndError(
                    f"{n_images} image(s) cannot fill every split with a positive ratio "
                    f"({dict(ratios)}); give more images or set a ratio to 0"
                )
            counts[donor] -= 1
            counts[name] += 1
    return counts


def _split_from_lists(
    image_ids: Sequence[str], lists: Mapping[str, Sequence[str] | None]
) -> dict[str, str]:
    known = set(image_ids)
    assignment: dict[str, str] = {}
    for name in SPLITS:
        for image_id in lists.get(name) or []:
            if image_id not in known:
                raise VvcjndError(
                    f"config key 'patches.split.lists.{name}': image '{image_id}' is not in the "
                    "sources manifest"
                )
            if image_id in assignment:
                raise VvcjndError(
                    f"config key 'patches.split.lists': image '{image_id}' is listed in both "
                    f"'{assignment[image_id]}' and '{name}'"
                )
            assignment[image_id] = name
    unlisted = [image_id for image_id in image_ids if image_id not in assignment]
    if lists.get("train") is None:
        assignment.update(dict.fromkeys(unlisted, "train"))
    elif unlisted:
        raise VvcjndError(
            f"config key 'patches.split.lists': image(s) {unlisted} are in no list; list them "
            "or leave out the 'train' list so that every unlisted image trains"
        )
    return assignment


def assign_splits(image_ids: Sequence[str], split_config: Mapping, seed: int) -> pd.DataFrame:
    """The split by image: a table (image_id, split) in the order of ``image_ids``.

    With ``split_config["lists"]`` the lists decide; otherwise the sorted ids are shuffled by
    ``seed`` and cut by ``split_config["ratios"]``, so the split depends only on the set of ids
    and the seed.
    """
    image_ids = list(image_ids)
    if len(set(image_ids)) != len(image_ids):
        raise VvcjndError("the sources manifest lists an image id twice")
    if split_config.get("lists") is not None:
        assignment = _split_from_lists(image_ids, split_config["lists"])
    else:
        counts = _split_counts(len(image_ids), split_config["ratios"])
        rng = seeded_rng(seed, "patch_split")
        ordered = sorted(image_ids)
        shuffled = [ordered[i] for i in rng.permutation(len(ordered))]
        names = np.repeat(SPLITS, [counts[name] for name in SPLITS])
        assignment = dict(zip(shuffled, names.tolist(), strict=True))
    return pd.DataFrame({"image_id": image_ids, "split": [assignment[i] for i in image_ids]})


# -- one image's pairs -----------------------------------------------------------------------------


def read_split_ids(splits_path: Path, split: str = "test") -> list[str]:
    """Image ids of one split in ``splits.tsv``, in file order; raises if there are none."""
    splits = read_table(splits_path)
    ids = [str(i) for i in splits.loc[splits["split"] == split, "image_id"]]
    if not ids:
        raise VvcjndError(f"{splits_path}: no image in the '{split}' split")
    return ids
