"""PyTorch access to the patch pairs that :func:`vvcjnd.patches.build_patch_dataset` writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vvcjnd.errors import VvcjndError
from vvcjnd.patches.grid import to_unit_range
from vvcjnd.paths import KINDS, SPLITS, patch_array


class PatchPairDataset(Dataset):
    """Pairs (pristine patch, JND-level patch) of one split, read lazily from memory-mapped .npy.

    Reads ``root/{split}_pristine.npy`` and ``root/{split}_jnd.npy`` (uint8 0..255, (N, h, w),
    row i of one paired with row i of the other). Item i is a tuple
    ``(pristine, jnd, patch_id)``: two float32 tensors of shape (1, h, w) in [-1, 1]
    (x / 127.5 - 1) and the int ``patch_id`` = i, the pair's row in ``index.tsv`` of this split.

    With ``flip=True`` both patches of a pair are flipped left-right together with probability
    1/2. The draw depends only on (seed, epoch, i), so it is the same in any DataLoader worker;
    call :meth:`set_epoch` to get fresh flips each epoch. The arrays are opened on first access
    in each process, so the dataset pickles small into worker processes.
    """

    def __init__(self, root: str | Path, split: str, flip: bool = False, seed: int = 0):
        if split not in SPLITS:
            raise VvcjndError(f"unknown split '{split}'; expected one of {list(SPLITS)}")
        self.paths = {kind: patch_array(root, split, kind) for kind in KINDS}
        self.flip = flip
        self.seed = seed
        self.epoch = 0
        self._arrays: dict[str, np.ndarray] | None = None
        pristine, jnd = (self._open()[kind] for kind in KINDS)
        if pristine.shape != jnd.shape:
            raise VvcjndError(
                f"{self.paths['pristine']} {pristine.shape} and {self.paths['jnd']} {jnd.shape} "
                "must hold the same number of equally sized patches"
            )
        self.patch_shape = pristine.shape[1:]
        self._length = len(pristine)

    def _open(self) -> dict[str, np.ndarray]:
        if self._arrays is None:
            arrays = {}
            for kind, path in self.paths.items():
                if not path.is_file():
                    raise VvcjndError(f"patch array not found: {path}")
                array = np.load(path, mmap_mode="r")
                if array.dtype != np.uint8 or array.ndim != 3:
                    raise VvcjndError(
                        f"{path}: expected uint8 patches (N, h, w), got {array.dtype} {array.shape}"
                    )
                arrays[kind] = array
            self._arrays = arrays
        return self._arrays

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_arrays"] = None
        return state

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose flips :meth:`__getitem__` draws."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self._length

    def _flipped(self, index: int) -> bool:
        return bool(np.random.default_rng([self.seed, self.epoch, index]).random() < 0.5)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        index = int(index)
        if not -self._length <= index < self._length:
            raise IndexError(f"patch {index} out of range for {self._length} pairs")
        index %= self._length
        arrays = self._open()
        flip = self.flip and self._flipped(index)
        tensors = []
        for kind in KINDS:
            patch = arrays[kind][index]
            if flip:
                patch = patch[:, ::-1]
            tensors.append(torch.from_numpy(to_unit_range(patch)[None]))
        return tensors[0], tensors[1], index
