"""The PyTorch Dataset over the paired patch arrays."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from vvcjnd.errors import VvcjndError
from vvcjnd.patches.dataset import PatchPairDataset


@pytest.fixture
def root(tmp_path):
    rng = np.random.default_rng(0)
    pristine = rng.integers(0, 256, (10, 64, 64), dtype=np.uint8)
    pristine[0] = 0
    pristine[1] = 255
    jnd = rng.integers(0, 256, (10, 64, 64), dtype=np.uint8)
    np.save(tmp_path / "train_pristine.npy", pristine)
    np.save(tmp_path / "train_jnd.npy", jnd)
    return tmp_path


def test_length_dtype_shape_range_and_ids(root):
    dataset = PatchPairDataset(root, "train")
    pristine = np.load(root / "train_pristine.npy")
    assert len(dataset) == 10
    for i in range(len(dataset)):
        x, y, patch_id = dataset[i]
        assert patch_id == i
        for tensor in (x, y):
            assert tensor.dtype == torch.float32 and tensor.shape == (1, 64, 64)
            assert tensor.min() >= -1 and tensor.max() <= 1
        np.testing.assert_allclose(x[0].numpy(), pristine[i] / 127.5 - 1, atol=1e-6)
    assert dataset[0][0].eq(-1).all() and dataset[1][0].eq(1).all()
    assert dataset[-1][2] == 9
    with pytest.raises(IndexError):
        dataset[10]


def test_flips_are_identical_for_both_patches_and_reproducible(root):
    plain = PatchPairDataset(root, "train")
    flipping = PatchPairDataset(root, "train", flip=True, seed=3)
    flipped = []
    for i in range(len(plain)):
        x, y, _ = plain[i]
        fx, fy, _ = flipping[i]
        was_flipped = not torch.equal(fy, y)  # the jnd patches are random, never symmetric
        assert torch.equal(fx, x.flip(-1) if was_flipped else x)
        assert torch.equal(fy, y.flip(-1) if was_flipped else y)
        flipped.append(was_flipped)
    assert 0 < sum(flipped) < len(flipped)
    again = PatchPairDataset(root, "train", flip=True, seed=3)
    assert all(torch.equal(again[i][1], flipping[i][1]) for i in range(len(plain)))
    draws = []
    for epoch in range(6):
        flipping.set_epoch(epoch)
        draws.append(tuple(not torch.equal(flipping[i][1], plain[i][1]) for i in range(10)))
    assert len(set(draws)) > 1


def test_pickles_without_the_arrays_and_batches(root):
    dataset = PatchPairDataset(root, "train", flip=True)
    dataset[0]
    payload = pickle.dumps(dataset)
    assert len(payload) < 2000
    clone = pickle.loads(payload)
    assert torch.equal(clone[4][1], dataset[4][1])
    x, y, ids = next(iter(DataLoader(dataset, batch_size=4, shuffle=False)))
    assert x.shape == y.shape == (4, 1, 64, 64) and ids.tolist() == [0, 1, 2, 3]


def test_clear_errors(root):
    with pytest.raises(VvcjndError, match="unknown split 'dev'"):
        PatchPairDataset(root, "dev")
    with pytest.raises(VvcjndError, match=r"patch array not found: .*val_pristine\.npy"):
        PatchPairDataset(root, "val")
    np.save(root / "test_pristine.npy", np.zeros((3, 64, 64), np.uint8))
    np.save(root / "test_jnd.npy", np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(VvcjndError, match="same number"):
        PatchPairDataset(root, "test")
    np.save(root / "test_jnd.npy", np.zeros((3, 64, 64), np.float32))
    with pytest.raises(VvcjndError, match="expected uint8"):
        PatchPairDataset(root, "test")
