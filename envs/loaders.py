"""Data as tensors: scikit-learn's sets and generators, torchvision's files, your own data.

Nothing is downloaded at run time (DESIGN §6). scikit-learn ships digits, iris, wine, breast
cancer and diabetes, and generates moons and blobs; d2l's synthetic linear data is made here.
MNIST, FashionMNIST and CIFAR-10 are read from a data root in torchvision's own layout; when
the files are missing the error says where they must be and the one command that fetches
them on a machine with internet. Your own arrays, tensors or ``torch.utils.data.Dataset``
become tensors through ``as_tensors``. Also here: the seeded split and the statistics used to
standardize, both computed once per dataset.
"""

from __future__ import annotations

import functools
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sandbox.core import UsageError

SPLITS = ("train", "val", "test")
SKLEARN = ("digits", "iris", "wine", "breast_cancer", "diabetes")


# --- loaders: name -> (X, y) tensors ------------------------------------------------------
@functools.cache
def _sklearn_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets  # imported on first use: it takes a second or two

    bunch = getattr(datasets, f"load_{name}")()
    return bunch.data, bunch.target


def load_sklearn(name: str) -> tuple[Tensor, Tensor]:
    """One of scikit-learn's bundled datasets: features ``(n, d)``, labels or targets ``(n,)``.

    Example:
        >>> X, y = load_sklearn("iris")
        >>> tuple(X.shape), y.dtype
        ((150, 4), torch.int64)
    """
    if name not in SKLEARN:
        raise UsageError(f"unknown scikit-learn dataset {name!r}: expected one of {SKLEARN}")
    X, y = _sklearn_arrays(name)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def make_moons(num_samples: int, noise: float, seed: int) -> tuple[Tensor, Tensor]:
    """Two interleaving half circles (scikit-learn's ``make_moons``): ``(n, 2)``, labels 0/1."""
    from sklearn.datasets import make_moons as sk_make_moons

    X, y = sk_make_moons(num_samples, noise=noise, random_state=seed)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


def make_blobs(
    num_samples: int, num_classes: int, num_features: int, cluster_std: float, seed: int
) -> tuple[Tensor, Tensor]:
    """Isotropic Gaussian blobs, one per class (scikit-learn's ``make_blobs``)."""
    from sklearn.datasets import make_blobs as sk_make_blobs

    X, y = sk_make_blobs(
        num_samples,
        n_features=num_features,
        centers=num_classes,
        cluster_std=cluster_std,
        random_state=seed,
    )
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y)


class DatasetNotFoundError(UsageError):
    """A dataset's files are missing or unreadable under the data root."""


VISION = {  # name -> (folder under the root, its files, torchvision class)
    "MNIST": (
        "MNIST/raw",
        [f"{s}-{k}-ubyte" for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")],
        "MNIST",
    ),
    "FashionMNIST": (
        "FashionMNIST/raw",
        [f"{s}-{k}-ubyte" for s in ("train", "t10k") for k in ("images-idx3", "labels-idx1")],
        "FashionMNIST",
    ),
    "CIFAR10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"],
        "CIFAR10",
    ),
}


def data_root(root: str | Path = "") -> str:
    """``root``, or when empty ``$SANDBOX_DATA_ROOT``, or ``data`` (beside the working dir).

    Example:
        >>> data_root("/datasets")
        '/datasets'
    """
    return str(root) or os.environ.get("SANDBOX_DATA_ROOT") or "data"


def load_vision(name: str, root: str | Path = "") -> tuple[Tensor, Tensor, int]:
    """A torchvision dataset from local files: uint8 images ``(n, C, H, W)``, labels, ``num_test``.

    The official train set comes first and the official test set last (``num_test`` rows).
    ``root`` as in ``data_root``. Raises ``DatasetNotFoundError`` naming the missing files
    and how to fetch them.
    """
    root = data_root(root)
    folder, files, tv_class = VISION[name]
    where = Path(root) / folder
    fetch = (
        f"python -c \"import torchvision as tv; [tv.datasets.{tv_class}('{root}', train=t, "
        'download=True) for t in (True, False)]"'
    )
    missing = [f for f in files if not (where / f).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{name} not found: expected {', '.join(missing)} in {where}; nothing is downloaded "
            f"at run time. On a machine with internet run `{fetch}`, then copy its folder "
            f"{Path(root) / folder.split('/')[0]} here, or pass --env.data-root DIR (where it is)"
        )
    try:
        if name == "CIFAR10":
            parts = [_cifar_batch(where / f) for f in files]
        else:
            parts = [_idx_pair(where, split) for split in ("train", "t10k")]
    except (OSError, ValueError, KeyError, AssertionError, pickle.UnpicklingError, EOFError) as e:
        raise DatasetNotFoundError(
            f"{name} files in {where} are corrupt or not in torchvision's format ({e!r}); "
            f"delete them and fetch them again with `{fetch}`"
        ) from None
    X, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    return X, y, len(parts[-1][1])


def _idx_pair(folder: Path, split: str) -> tuple[Tensor, Tensor]:
    """MNIST's idx files: images ``(n, 1, 28, 28)`` uint8 and labels ``(n,)``."""
    from torchvision.datasets.mnist import read_image_file, read_label_file

    X = read_image_file(str(folder / f"{split}-images-idx3-ubyte"))  # (n, 28, 28)
    y = read_label_file(str(folder / f"{split}-labels-idx1-ubyte"))  # (n,)
    if len(X) != len(y):
        raise ValueError(f"{split}: {len(X)} images but {len(y)} labels")
    return X.unsqueeze(1), y.long()


def _latin1_bytes(text: str, encoding: str) -> bytes:
    """What Python 3 pickles ``bytes`` as at protocol 2: ``_codecs.encode(text, "latin1")``."""
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"_codecs.encode with encoding {encoding!r}, not 'latin1'")
    return text.encode("latin1")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, numbers, strings and numpy arrays only: no other global loads.

    A pickle can name any importable callable (``os.system``) and have it called, so a crafted
    file under the data root would run code (DESIGN §7). A CIFAR batch needs numpy's array
    reconstruction alone; builtins (dict, list, str, bytes, int) need no global at all.
    """

    ALLOWED = {  # (module, name) as written by numpy 1.x (numpy.core) and 2.x (numpy._core)
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol 5
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file, encoding="latin1")  # the encoding torchvision reads CIFAR with
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("_codecs", "encode"):  # bytes pickled by Python 3 at protocol 2
            return _latin1_bytes
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"{self.path} asks to load the global {module}.{name}, which an array batch never "
            "needs; refused, as a pickle can run code"
        )


def _cifar_batch(path: Path) -> tuple[Tensor, Tensor]:
    """One pickled CIFAR-10 batch: images ``(n, 3, 32, 32)`` uint8 (its rows are CHW already).

    The official batches are Python 2 pickles; their str keys read as str under latin1, while
    a batch re-pickled by Python 3 from bytes keys reads as bytes: both are accepted.
    """
    with open(path, "rb") as f:
        entry = _ArrayUnpickler(f, path).load()
    if not isinstance(entry, dict):
        raise ValueError(f"{path} holds a {type(entry).__name__}, not a CIFAR batch dict")
    entry = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}
    X = torch.as_tensor(np.asarray(entry["data"], dtype=np.uint8)).reshape(-1, 3, 32, 32)
    return X, torch.as_tensor(entry["labels"], dtype=torch.long)


def synthetic_linear(
    num_samples: int, true_w: tuple[float, ...], true_b: float, noise: float, seed: int
) -> tuple[Tensor, Tensor]:
    """d2l's ``synthetic_data``: ``X ~ N(0, 1)``, ``y = Xw + b + N(0, noise²)``; y is (n, 1).

    Example:
        >>> X, y = synthetic_linear(100, (2.0, -3.4), 4.2, 0.0, seed=0)
        >>> bool(torch.allclose(y[:, 0], X @ torch.tensor([2.0, -3.4]) + 4.2))
        True
    """
    g = torch.Generator().manual_seed(seed)
    w = torch.tensor(true_w)
    X = torch.randn(num_samples, len(w), generator=g)  # (n, d)
    y = X @ w + true_b + noise * torch.randn(num_samples, generator=g)  # (n,)
    return X, y.reshape(-1, 1)


def split_indices(
    num_samples: int, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, Tensor]:
    """Disjoint random index sets for train / val / test, fixed by ``seed``.

    Example:
        >>> parts = split_indices(10, 0.2, 0.3, seed=0)
        >>> [len(parts[s]) for s in SPLITS]
        [5, 2, 3]
    """
    perm = torch.randperm(num_samples, generator=torch.Generator().manual_seed(seed))
    num_val, num_test = round(num_samples * val_fraction), round(num_samples * test_fraction)
    num_train = num_samples - num_val - num_test
    return {
        "train": perm[:num_train],
        "val": perm[num_train : num_train + num_val],
        "test": perm[num_train + num_val :],
    }


def as_tensors(X: Any, y: Any = None) -> tuple[Tensor, Tensor]:
    """Features and labels from arrays, tensors or a ``torch.utils.data.Dataset`` of pairs.

    Images in ``uint8`` stay ``uint8`` until a split is moved to the device as ``float32``;
    other features become ``float32`` at once. Integer (or bool) labels become class indices
    (``long``), float ones regression targets (``float32``).

    Example:
        >>> X, y = as_tensors(np.zeros((3, 2)), [0, 1, 1])
        >>> X.dtype, y.dtype
        (torch.float32, torch.int64)
    """
    if isinstance(X, torch.utils.data.Dataset):
        if y is not None:
            raise UsageError("pass a Dataset alone (its items hold the labels) or (X, y), not both")
        X, y = _stack_dataset(X)
    if y is None:
        raise UsageError("SupervisedEnv needs labels: pass (X, y), or a Dataset of (x, y) pairs")
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    X = X if X.dtype == torch.uint8 else X.float()
    y = y.float() if y.is_floating_point() else y.long()
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise UsageError(
            f"X and y need one label per sample: expected y of length {len(X) if X.ndim else 0} "
            f"(X has shape {tuple(X.shape)}), got y of shape {tuple(y.shape)}"
        )
    for name, t in (("X", X), ("y", y)):
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise UsageError(f"{name} holds {bad} NaN/inf value(s): expected finite numbers")
    return X, y


def _stack_dataset(dataset: Any) -> tuple[Tensor, Tensor]:
    """Read every ``(x, y)`` item once; PIL images become ``(C, H, W)`` uint8 tensors."""
    from torchvision.transforms.v2.functional import pil_to_tensor

    features, labels = [], []
    for i in range(len(dataset)):
        item = dataset[i]
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise UsageError(
                f"a Dataset item must be an (x, y) pair, got {type(item).__name__} at index {i}"
            )
        x, label = item
        features.append(pil_to_tensor(x) if hasattr(x, "getbands") else torch.as_tensor(x))
        labels.append(torch.as_tensor(label))
    return torch.stack(features), torch.stack(labels)


def feature_stats(X: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and std per channel of images ``(n, C, H, W)``, per feature otherwise (std 0 -> 1).

    Summed in float64 chunks, so ``uint8`` images are never copied whole as floats.

    Example:
        >>> feature_stats(torch.tensor([[0.0, 5.0], [2.0, 5.0]]))
        (tensor([1., 5.]), tensor([1., 1.]))
    """
    dims = (0, 2, 3) if X.ndim == 4 else (0,)
    total = sum(c.double().sum(dims) for c in X.split(8192))
    total_sq = sum(c.double().square().sum(dims) for c in X.split(8192))
    count = X.numel() / total.numel()  # values summed into each entry
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(0).sqrt()
    std = torch.where(std > 1e-8, std, torch.ones_like(std))
    if X.ndim == 4:
        mean, std = mean[:, None, None], std[:, None, None]  # (C, 1, 1)
    return mean.float(), std.float()


def class_count(y: Tensor, num_classes: int | None) -> int | None:
    """``None`` for regression targets (float ``y``); else the number of classes, checked.

    Example:
        >>> class_count(torch.tensor([0, 2, 1]), None), class_count(torch.tensor([0.5]), None)
        (3, None)
    """
    if y.is_floating_point():
        if num_classes is not None:
            raise UsageError(f"num_classes={num_classes} needs integer labels, got y of {y.dtype}")
        return None
    if y.ndim != 1:
        raise UsageError(f"class labels must be (n,) indices, got y of shape {tuple(y.shape)}")
    num_classes = num_classes or int(y.max()) + 1
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes or num_classes < 2:
        raise UsageError(
            f"class labels must be in [0, num_classes) with num_classes >= 2, "
            f"got labels from {low} to {high} and num_classes={num_classes}"
        )
    return num_classes
