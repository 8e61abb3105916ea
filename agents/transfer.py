"""Transfer learning (d2l §14.2 fine-tuning): a torchvision backbone, its weights, a new head.

A model pretrained on a large source dataset has learnt features that serve other tasks.
Keep its layers (the backbone), replace its output layer (the head) with a fresh one sized
for the env's action, and train: all of it (fine-tuning) or, with the backbone frozen, the
head alone. Weights come from a state_dict file in torchvision's format or from
torchvision's cache; nothing is downloaded: when they are missing the error says where the
file must be and the one command that fetches it on a machine with internet.
``TransferNet`` also adapts the env's images to the backbone: resized, grey repeated to RGB.
"""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from agents.nets import _head
from sandbox.core import UsageError

MODELS = ("resnet18", "mobilenet_v3_small")
"""torchvision classification models whose last ``nn.Linear`` is the head."""


def weights_path(name: str, weights: str) -> Path:
    """Where the weights ``weights`` of model ``name`` are: a file, or torchvision's cache.

    ``weights`` is a state_dict file, or a torchvision weights name (``DEFAULT``,
    ``IMAGENET1K_V1``), looked up under ``torch.hub.get_dir()/checkpoints`` as torchvision
    saves it. Raises a one-line ``UsageError`` naming the path and how to fill it.
    """
    import torchvision

    enum = torchvision.models.get_model_weights(name)
    scratch = "or --weights none to train from scratch"
    if weights in enum.__members__:
        entry = enum[weights]  # DEFAULT is an alias of the best weights, IMAGENET1K_V1 here
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(entry.url).path).name
        fetch = f"python -c \"import torchvision; torchvision.models.{name}(weights='{weights}')\""
        if not path.is_file():
            raise UsageError(
                f"no {name} weights {entry.name} in torchvision's cache: {path} is missing; "
                f"on a machine with internet `{fetch}` writes it (then copy it here), or pass "
                f"--weights PATH (a state_dict file), {scratch}"
            )
        return path
    path = Path(weights).expanduser()
    if not path.is_file():
        raise UsageError(
            f"no weights file {path}: --weights takes a state_dict file, a torchvision weights "
            f"name ({', '.join(enum.__members__)}), {scratch}"
        )
    return path


def load_weights(name: str, weights: str) -> dict[str, Tensor]:
    """The state_dict ``weights`` names for model ``name`` (``weights_path``), on the CPU."""
    path = weights_path(name, weights)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UsageError(f"cannot read weights {path} as a state_dict: {e}") from None


def last_linear(net: nn.Module) -> str:
    """The name of ``net``'s last ``nn.Linear``: the head of a torchvision classifier."""
    names = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise ValueError(f"{type(net).__name__} has no nn.Linear head to replace")
    return names[-1]


class TransferNet(nn.Module):
    """A torchvision backbone for the env's images, its head replaced; optionally frozen.

    ``(N, C, H, W)`` with ``C`` 1 or 3 -> resized to ``input_size``² (grey repeated to three
    channels) -> the backbone -> a new ``nn.Linear`` head -> ``(N, *action_shape)``. With
    ``freeze``, every parameter but the head's has ``requires_grad`` False and the backbone
    stays in eval mode, so its BatchNorm keeps the running statistics it was trained with.

    Args:
        name: a torchvision model (``MODELS``).
        obs_shape: the env's image shape ``(C, H, W)``.
        action_shape: the env's action shape (``(C,)`` logits, ``()`` one logit).
        state_dict: weights in torchvision's format; the head's entries are dropped (the
            head is new), every other entry must fit. ``None``: random initialization.
        freeze: train the head alone.
        input_size: the side the images are resized to.

    Example:
        >>> net = TransferNet("resnet18", (1, 8, 8), (10,), freeze=True)
        >>> net(torch.zeros(5, 1, 8, 8)).shape, [n for n, p in net.named_parameters()
        ...                                      if p.requires_grad]
        (torch.Size([5, 10]), ['backbone.fc.weight', 'backbone.fc.bias'])
    """

    def __init__(
        self,
        name: str,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        state_dict: dict[str, Tensor] | None = None,
        freeze: bool = False,
        input_size: int = 32,
    ) -> None:
        super().__init__()
        import torchvision

        if len(obs_shape) != 3 or obs_shape[0] not in (1, 3):
            raise ValueError(
                f"model {name!r} needs images (C, H, W) with 1 or 3 channels, got observations "
                f"of shape {tuple(obs_shape)}"
            )
        self.channels, self.input_size, self.frozen = obs_shape[0], input_size, freeze
        self.backbone = torchvision.models.get_model(name)  # random init; nothing downloaded
        self.head_name = last_linear(self.backbone)
        if state_dict is not None:
            self._load(state_dict)
        parent, _, attr = self.head_name.rpartition(".")
        old = self.backbone.get_submodule(self.head_name)
        head = nn.Linear(old.in_features, math.prod(action_shape))
        setattr(self.backbone.get_submodule(parent), attr, head)
        self.reshape = _head(action_shape)  # (N, prod(action_shape)) -> (N, *action_shape)
        if freeze:
            for p in self.backbone.parameters():
                p.requires_grad_(False)
            self.head.requires_grad_(True)
        self.train()  # puts a frozen backbone in eval mode from the start

    @property
    def head(self) -> nn.Linear:
        """The new output layer (``backbone.fc`` of a ResNet, ``backbone.classifier.3`` of a
        MobileNetV3)."""
        return self.backbone.get_submodule(self.head_name)

    def _load(self, state_dict: dict[str, Tensor]) -> None:
        """Every backbone entry of ``state_dict``; the old head's entries are not needed."""
        head = self.head_name + "."
        body = {k: v for k, v in state_dict.items() if not k.startswith(head)}
        try:
            missing, unexpected = self.backbone.load_state_dict(body, strict=False)
        except RuntimeError as e:  # a shape mismatch: another architecture's weights
            raise UsageError(f"weights do not fit {type(self.backbone).__name__}: {e}") from None
        missing = [k for k in missing if not k.startswith(head)]
        if missing or unexpected:
            raise UsageError(
                f"weights do not fit {type(self.backbone).__name__}: missing {missing[:3]}, "
                f"unexpected {unexpected[:3]} (expected a torchvision state_dict)"
            )

    def train(self, mode: bool = True) -> TransferNet:
        """As ``nn.Module.train``, but a frozen backbone stays in eval mode (its BatchNorm
        statistics and dropout are part of what was transferred); only the head follows."""
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
            self.head.train(mode)
        return self

    def forward(self, X: Tensor) -> Tensor:
        """``(N, C, H, W)`` -> ``(N, *action_shape)``."""
        size = (self.input_size, self.input_size)
        if X.shape[-2:] != size:
            X = F.interpolate(X, size=size, mode="bilinear", align_corners=False)  # (N, C, s, s)
        if self.channels == 1:
            X = X.expand(-1, 3, -1, -1)  # grey -> RGB, as the backbone's first conv expects
        return self.reshape(self.backbone(X))


def transfer_net(
    name: str,
    obs_shape: tuple[int, ...],
    action_shape: tuple[int, ...],
    weights: str | None,
    freeze: bool = False,
    input_size: int = 32,
) -> TransferNet:
    """``TransferNet`` with ``weights`` loaded (``load_weights``); ``None``/``"none"``: random."""
    scratch = weights is None or weights.lower() == "none"
    state_dict = None if scratch else load_weights(name, weights)
    return TransferNet(name, obs_shape, action_shape, state_dict, freeze, input_size)
