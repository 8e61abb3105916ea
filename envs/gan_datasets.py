"""The registered GAN games: digits, a ring of Gaussians, MNIST and Fashion-MNIST.

Each is a ``GANGame`` (envs/gan_game.py) over its own real samples, with its own evaluation:
a Frechet distance in a digits classifier's features, the modes of the ring covered, or a
Frechet distance on raw pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from envs.gan_eval import digits_classifier, ring_plot
from envs.gan_game import GANConfig, GANGame
from envs.loaders import load_sklearn, load_vision


class DigitsGAN(GANGame):
    """``sandbox/DigitsGAN-v0``: scikit-learn's 1,797 digits, 8×8 in [-1, 1].

    ``eval/frechet`` is measured in the 256 hidden features of a small digits classifier that
    is trained once per process, deterministically, on the training split.
    """

    def __init__(self, num_envs: int = 64, *, device: str | torch.device = "cpu", **kw: Any):
        split, cfg = kw.pop("split", "train"), GANConfig(**kw)
        X = load_sklearn("digits")[0].reshape(-1, 1, 8, 8) / 8 - 1  # (1797, 1, 8, 8) in [-1, 1]
        super().__init__(X, num_envs, device=device, bounds=(-1.0, 1.0), split=split, config=cfg)

    def features(self, x: Tensor) -> Tensor:
        """The classifier's hidden layer: (n, 1, 8, 8) in [-1, 1] -> (n, 256)."""
        net = digits_classifier(self.config.data_seed, self.config.test_fraction).to(x.device)
        return net[:2]((x.flatten(1) + 1) / 2)  # Linear, ReLU on pixels in [0, 1]


@dataclass(frozen=True)
class RingConfig(GANConfig):
    """The classic 2-D test of mode collapse (Metz et al. 2017): Gaussians on a circle."""

    latent_dim: int = 2
    """Size of the generator's noise vector."""
    num_modes: int = 8
    """Gaussians, evenly spaced on the circle."""
    radius: float = 2.0
    """Radius of the circle."""
    std: float = 0.05
    """Standard deviation of each Gaussian (Metz et al. use 0.02); within 3 std is near it."""
    num_samples: int = 20_000
    """Real samples drawn (train + held-out)."""


class RingGAN(GANGame):
    """``sandbox/RingGAN-v0``: 8 Gaussians on a ring; ``eval/modes`` counts modes covered.

    A mode is covered when at least 1% of the generated samples lie within 3 std of its centre
    (PacGAN's criterion, Lin et al. 2018); ``eval/near_mode`` is the share within 3 std of any.
    ``eval/score`` is ``modes / num_modes * near_mode``: both must be high.
    """

    Config = RingConfig

    def __init__(self, num_envs: int = 64, *, device: str | torch.device = "cpu", **kw: Any):
        split = kw.pop("split", "train")
        cfg = RingConfig(**kw)
        g = torch.Generator().manual_seed(cfg.data_seed)
        angles = torch.arange(cfg.num_modes) * (2 * math.pi / cfg.num_modes)
        self.centres = cfg.radius * torch.stack([angles.cos(), angles.sin()], 1)  # (K, 2)
        which = torch.randint(cfg.num_modes, (cfg.num_samples,), generator=g)
        real = self.centres[which] + cfg.std * torch.randn(cfg.num_samples, 2, generator=g)
        super().__init__(real, num_envs, device=device, split=split, config=cfg)
        self.centres = self.centres.to(self.device)

    @torch.inference_mode()
    def score(self, policies: dict[str, Any]) -> dict[str, Tensor]:
        """``{"score", "modes", "near_mode"}`` of samples from fixed noise."""
        fake = policies["generator"](self._eval_noise)  # (M, 2)
        dist = torch.cdist(fake, self.centres)  # (M, K)
        nearest, mode = dist.min(dim=1)
        near = nearest < 3 * self.config.std  # (M,)
        counts = torch.bincount(mode[near], minlength=self.config.num_modes)  # (K,)
        modes = (counts >= 0.01 * len(fake)).sum().float()
        near_mode = near.float().mean()
        return {
            "score": modes / self.config.num_modes * near_mode,
            "modes": modes,
            "near_mode": near_mode,
        }

    @torch.inference_mode()
    def media(self, agents: dict[str, Any]) -> dict[str, Tensor]:
        """``{"samples": (1, 3, H, W)}``: a scatter plot of samples over the real modes."""
        fake = agents["generator"].act(self._eval_noise, deterministic=True).cpu()
        return {"samples": ring_plot(fake, self.centres.cpu(), self.config.std, self.config.radius)}


@dataclass(frozen=True)
class TorchvisionConfig(GANConfig):
    """A torchvision image dataset, read from local files (never downloaded at run time)."""

    data_root: str = ""
    """Folder holding torchvision's files (<root>/MNIST/raw, ...); empty: $SANDBOX_DATA_ROOT,
    else ./data."""


class MNISTGAN(GANGame):
    """``sandbox/MNISTGAN-v0``: MNIST's 70,000 digits (train + test files), 28×28 in [-1, 1].

    Read from ``data_root`` when the files are there (a clear error says how to get them when
    they are not). ``eval/frechet`` is measured on raw pixels: no classifier is trained here.
    """

    Config = TorchvisionConfig
    dataset = "MNIST"

    def __init__(self, num_envs: int = 64, *, device: str | torch.device = "cpu", **kw: Any):
        split = kw.pop("split", "train")
        cfg = TorchvisionConfig(**kw)
        images, _, _ = load_vision(self.dataset, cfg.data_root)  # (70000, 1, 28, 28) uint8
        images = images.float() / 127.5 - 1  # [-1, 1]
        super().__init__(
            images, num_envs, device=device, bounds=(-1.0, 1.0), split=split, config=cfg
        )


class FashionMNISTGAN(MNISTGAN):
    """``sandbox/FashionMNISTGAN-v0``: Fashion-MNIST's 70,000 images, 28×28 in [-1, 1]."""

    dataset = "FashionMNIST"
