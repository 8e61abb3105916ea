"""Named datasets as envs: scikit-learn's bundled sets and generators, torchvision's image sets.

Nothing is downloaded at run time (DESIGN §6). scikit-learn ships digits, iris, wine, breast
cancer and diabetes, and generates moons and blobs. MNIST, FashionMNIST and CIFAR-10 are read
from ``--env.data-root`` in torchvision's own layout; when the files are missing the error
says where they must be and the one command that fetches them on a machine with internet.
Each class below is one registered id; ``SupervisedEnv`` does the rest (splits,
standardization, feedback modes, scores).
"""

from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from envs.supervised import SupervisedConfig, SupervisedEnv
from sandbox.core import UsageError

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


def load_vision(name: str, root: str | Path) -> tuple[Tensor, Tensor, int]:
    """A torchvision dataset from local files: uint8 images ``(n, C, H, W)``, labels, ``num_test``.

    The official train set comes first and the official test set last (``num_test`` rows).
    Raises ``DatasetNotFoundError`` naming the missing files and how to fetch them.
    """
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


def _cifar_batch(path: Path) -> tuple[Tensor, Tensor]:
    """One pickled CIFAR-10 batch: images ``(n, 3, 32, 32)`` uint8 (its rows are CHW already)."""
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")  # the format torchvision itself reads
    X = torch.as_tensor(np.asarray(entry["data"], dtype=np.uint8)).reshape(-1, 3, 32, 32)
    return X, torch.as_tensor(entry["labels"], dtype=torch.long)


# --- the registered envs ------------------------------------------------------------------
class DatasetEnv(SupervisedEnv):
    """A named dataset as an env; subclasses give ``load(config) -> (X, y, num_test)``."""

    Config = SupervisedConfig

    def __init__(
        self,
        num_envs: int = 32,
        *,
        device: str | torch.device = "cpu",
        split: str = "train",
        **config: Any,
    ) -> None:
        self.config = cfg = self.Config(**config)
        X, y, num_test = self.load(cfg)
        super().__init__(
            X, y, num_envs=num_envs, device=device, split=split, config=cfg, num_test=num_test
        )

    @staticmethod
    def load(cfg: Any) -> tuple[Tensor, Tensor, int]:
        """The dataset's features, labels and the size of its official test set (0: none)."""
        raise NotImplementedError


class DigitsEnv(DatasetEnv):
    """``sandbox/Digits-v0``: 1797 handwritten digits as ``(1, 8, 8)`` images, 10 classes."""

    @staticmethod
    def load(cfg: SupervisedConfig) -> tuple[Tensor, Tensor, int]:
        """scikit-learn's digits, pixels 0..16."""
        X, y = load_sklearn("digits")
        return X.reshape(-1, 1, 8, 8), y, 0


class IrisEnv(DatasetEnv):
    """``sandbox/Iris-v0``: 150 flowers, 4 measurements, 3 species."""

    @staticmethod
    def load(cfg: SupervisedConfig) -> tuple[Tensor, Tensor, int]:
        """scikit-learn's iris."""
        return *load_sklearn("iris"), 0


class WineEnv(DatasetEnv):
    """``sandbox/Wine-v0``: 178 wines, 13 chemical measurements, 3 cultivars."""

    @staticmethod
    def load(cfg: SupervisedConfig) -> tuple[Tensor, Tensor, int]:
        """scikit-learn's wine."""
        return *load_sklearn("wine"), 0


class BreastCancerEnv(DatasetEnv):
    """``sandbox/BreastCancer-v0``: 569 tumours, 30 features, binary: one logit ``(N,)``, BCE."""

    @staticmethod
    def load(cfg: SupervisedConfig) -> tuple[Tensor, Tensor, int]:
        """scikit-learn's breast cancer (0 malignant, 1 benign)."""
        return *load_sklearn("breast_cancer"), 0


class DiabetesEnv(DatasetEnv):
    """``sandbox/Diabetes-v0``: 442 patients, 10 features, regression of disease progression."""

    @staticmethod
    def load(cfg: SupervisedConfig) -> tuple[Tensor, Tensor, int]:
        """scikit-learn's diabetes; the target is standardized with the other features."""
        X, y = load_sklearn("diabetes")
        return X, y.float(), 0


@dataclass(frozen=True)
class MoonsConfig(SupervisedConfig):
    """Two interleaving half circles."""

    num_samples: int = 1000
    """Samples generated."""
    noise: float = 0.2
    """Standard deviation of the Gaussian noise on the points."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_samples < 10 or self.noise < 0:
            raise ValueError(
                f"num_samples must be >= 10 and noise >= 0, got {self.num_samples} and {self.noise}"
            )


class MoonsEnv(DatasetEnv):
    """``sandbox/Moons-v0``: two half moons in 2-D, binary (a linear model cannot separate them)."""

    Config = MoonsConfig

    @staticmethod
    def load(cfg: MoonsConfig) -> tuple[Tensor, Tensor, int]:
        """Generated from ``data_seed``."""
        return *make_moons(cfg.num_samples, cfg.noise, cfg.data_seed), 0


@dataclass(frozen=True)
class BlobsConfig(SupervisedConfig):
    """Gaussian blobs, one per class."""

    num_samples: int = 1000
    """Samples generated."""
    num_classes: int = 3
    """Blobs, one per class."""
    num_features: int = 2
    """Dimensions of each point."""
    cluster_std: float = 1.0
    """Standard deviation of each blob."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_samples < 10 or self.num_classes < 2 or self.num_features < 1:
            raise ValueError(
                "num_samples >= 10, num_classes >= 2 and num_features >= 1 expected, got "
                f"{self.num_samples}, {self.num_classes} and {self.num_features}"
            )
        if self.cluster_std <= 0:
            raise ValueError(f"cluster_std must be > 0, got {self.cluster_std}")


class BlobsClassificationEnv(DatasetEnv):
    """``sandbox/BlobsClassification-v0``: label the blob each point came from."""

    Config = BlobsConfig

    @staticmethod
    def load(cfg: BlobsConfig) -> tuple[Tensor, Tensor, int]:
        """Generated from ``data_seed``."""
        X, y = make_blobs(
            cfg.num_samples, cfg.num_classes, cfg.num_features, cfg.cluster_std, cfg.data_seed
        )
        return X, y, 0


@dataclass(frozen=True)
class VisionConfig(SupervisedConfig):
    """A torchvision dataset read from local files; its official test set is the test split."""

    data_root: str = "data"
    """Folder holding torchvision's files (data/MNIST/raw, data/cifar-10-batches-py, ...)."""


class MNISTEnv(DatasetEnv):
    """``sandbox/MNIST-v0``: 70,000 handwritten digits, ``(1, 28, 28)``, 10 classes."""

    Config = VisionConfig

    @staticmethod
    def load(cfg: VisionConfig) -> tuple[Tensor, Tensor, int]:
        """From ``<data_root>/MNIST/raw``."""
        return load_vision("MNIST", cfg.data_root)


class FashionMNISTEnv(DatasetEnv):
    """``sandbox/FashionMNIST-v0``: 70,000 clothing images, ``(1, 28, 28)``, 10 classes."""

    Config = VisionConfig

    @staticmethod
    def load(cfg: VisionConfig) -> tuple[Tensor, Tensor, int]:
        """From ``<data_root>/FashionMNIST/raw``."""
        return load_vision("FashionMNIST", cfg.data_root)


class CIFAR10Env(DatasetEnv):
    """``sandbox/CIFAR10-v0``: 60,000 colour images, ``(3, 32, 32)``, 10 classes."""

    Config = VisionConfig

    @staticmethod
    def load(cfg: VisionConfig) -> tuple[Tensor, Tensor, int]:
        """From ``<data_root>/cifar-10-batches-py``."""
        return load_vision("CIFAR10", cfg.data_root)
