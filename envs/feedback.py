"""What a labelled dataset's reward reveals: the three feedbacks of ``SupervisedEnv`` (DESIGN §1).

``gradient``: minus the loss, with its graph back to the action; ``bandit``: 1 if the class
index is right, else 0, no gradient; ``label``: minus the loss, detached (the env adds the
labels to ``info``). Each reward maps a batch of answers and labels to one figure per sample.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium
import numpy as np
import torch  # noqa: F401  the examples below use it
import torch.nn.functional as F
from gymnasium import spaces
from torch import Tensor

FEEDBACK = ("gradient", "bandit", "label")


# --- rewards: (N, *action_shape), (N, *target_shape) -> (N,) -----------------------------
def squared_error_reward(y_hat: Tensor, y: Tensor) -> Tensor:
    """``-sum((y_hat - y)**2)`` per sample, over target dimensions.

    Example:
        >>> squared_error_reward(torch.tensor([[1.0], [3.0]]), torch.tensor([[1.0], [1.0]]))
        tensor([-0., -4.])
    """
    return -(y_hat - y).square().reshape(len(y), -1).sum(dim=1)


def cross_entropy_reward(logits: Tensor, y: Tensor) -> Tensor:
    """``log softmax(logits)[y]``: minus the cross-entropy of each sample.

    Example:
        >>> cross_entropy_reward(torch.tensor([[0.0, 0.0]]), torch.tensor([1]))  # -log 2
        tensor([-0.6931])
    """
    return -F.cross_entropy(logits, y, reduction="none")


def binary_cross_entropy_reward(logit: Tensor, y: Tensor) -> Tensor:
    """``log sigmoid(±logit)``: minus the BCE of one logit per sample against a 0/1 label.

    Example:
        >>> binary_cross_entropy_reward(torch.tensor([0.0, -2.0]), torch.tensor([1, 0]))
        tensor([-0.6931, -0.1269])
    """
    return -F.binary_cross_entropy_with_logits(logit, y.float(), reduction="none")


def hit_reward(action: Tensor, y: Tensor) -> Tensor:
    """Bandit feedback: 1.0 where the class index is right, else 0.0 (no gradient).

    Example:
        >>> hit_reward(torch.tensor([2, 0]), torch.tensor([2, 1]))
        tensor([1., 0.])
    """
    return (action == y).float()


def reward_and_action_space(
    y: Tensor, num_classes: int | None, feedback: str
) -> tuple[Callable[[Tensor, Tensor], Tensor], gymnasium.Space]:
    """The reward function and one sample's action space for labels ``y`` and ``feedback``.

    Regression (``num_classes`` ``None``): predictions, squared error. Classes: logits and
    cross-entropy, one logit and BCE for two classes, or one class index as a bandit.

    Example:
        >>> fn, space = reward_and_action_space(torch.tensor([0, 2]), 3, "bandit")
        >>> fn.__name__, space
        ('hit_reward', Discrete(3))
    """
    if num_classes is None:
        return squared_error_reward, spaces.Box(-np.inf, np.inf, tuple(y.shape[1:]), np.float32)
    if feedback == "bandit":
        return hit_reward, spaces.Discrete(num_classes)
    if num_classes == 2:  # one logit per sample: p(y = 1) = sigmoid(logit)
        return binary_cross_entropy_reward, spaces.Box(-np.inf, np.inf, (), np.float32)
    return cross_entropy_reward, spaces.Box(-np.inf, np.inf, (num_classes,), np.float32)
