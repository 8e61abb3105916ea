"""Tiny torchvision data sets in torchvision's own file formats, made by the tests.

``tests/conftest.py`` writes one set into a temporary folder and points ``$SANDBOX_DATA_ROOT``
at it, so every registered env (MNIST, FashionMNIST, CIFAR-10 included) is built and checked
through the real loading code without the real files.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """An idx file as MNIST ships it: magic (0, 0, type 0x08, ndim), big-endian sizes, bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_mnist(root: Path, name: str = "MNIST", num_train: int = 100, num_test: int = 20) -> Path:
    """``<root>/<name>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` of random images."""
    raw = root / name / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", num_train), ("t10k", num_test)):
        write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(raw / f"{split}-labels-idx1-ubyte", np.arange(n) % 10)
    return root


def fake_cifar(root: Path, per_batch: int = 20) -> Path:
    """``<root>/cifar-10-batches-py/{data_batch_1..5,test_batch}``: pickled dicts of uint8 rows."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": [i % 10 for i in range(per_batch)]}, f)
    return root


def fake_data_root(root: Path) -> Path:
    """MNIST, FashionMNIST and CIFAR-10 under one root."""
    fake_mnist(root, "MNIST")
    fake_mnist(root, "FashionMNIST")
    return fake_cifar(root)
