"""Named datasets as registered envs: ``sandbox/LinReg-v0``, ``sandbox/Digits-v0``, ...

Each class is one id: it loads its tensors (``envs/loaders.py``: scikit-learn's bundled sets
and generators, torchvision's files under ``--env.data-root``) and ``SupervisedEnv`` does the
rest (splits, standardization, feedback modes, scores). Nothing is downloaded at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from envs.loaders import load_sklearn, load_vision, make_blobs, make_moons, synthetic_linear
from envs.supervised import SupervisedConfig, SupervisedEnv


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

    data_root: str = ""
    """Folder holding torchvision's files (<root>/MNIST/raw, <root>/cifar-10-batches-py, ...);
    empty: $SANDBOX_DATA_ROOT, else ./data."""


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


@dataclass(frozen=True)
class LinRegConfig:
    """d2l §3.4's synthetic linear regression data."""

    num_samples: int = 1000
    """Samples generated (split 70/10/20 into train/val/test)."""
    noise: float = 0.01
    """Standard deviation of the Gaussian noise on y."""
    true_w: tuple[float, ...] = (2.0, -3.4)
    """The weights to recover."""
    true_b: float = 4.2
    """The bias to recover."""
    data_seed: int = 0
    """Seed of the data and of the split (not of the batch order)."""

    def __post_init__(self) -> None:
        if self.num_samples < 10:
            raise ValueError(f"num_samples must be at least 10, got {self.num_samples}")
        if self.noise < 0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")


class LinRegEnv(SupervisedEnv):
    """``sandbox/LinReg-v0``: recover ``w = [2, -3.4]``, ``b = 4.2`` from rewards -(y_hat - y)².

    The raw ``X`` and ``y`` are shown, not standardized, so the learnt weights are ``w`` and ``b``.
    """

    Config = LinRegConfig

    def __init__(
        self,
        num_envs: int = 10,
        *,
        device: str | torch.device = "cpu",
        split: str = "train",
        **config: Any,
    ) -> None:
        self.config = LinRegConfig(**config)
        cfg = self.config
        X, y = synthetic_linear(cfg.num_samples, cfg.true_w, cfg.true_b, cfg.noise, cfg.data_seed)
        super().__init__(
            X,
            y,
            num_envs=num_envs,
            device=device,
            split=split,
            standardize=False,
            data_seed=self.config.data_seed,
        )
