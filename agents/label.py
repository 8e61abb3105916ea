"""The label learner: online supervised learning from the label revealed after acting.

With ``feedback="label"`` a supervised env scores each prediction with a detached reward
and then reveals the batch's labels in ``info["target"]``: the online-learning protocol
(predict, then be told). This agent learns from that label. It picks its own loss, as a
d2l reader would (§3.1, §4.1): cross-entropy for class labels, BCE for one logit, squared
error for regression targets. Its model and optimizer are the gradient learner's; only what
it learns from differs. ``scripts/label_vs_reward.py`` sets it beside the gradient learner
(the loss's gradient) and PPO (a 0/1 reward) on the same digits.
"""

from __future__ import annotations

from typing import Any

import torch.nn.functional as F
from torch import Tensor

from agents.gradient import GradientAgent, GradientConfig
from sandbox.core import Env, Transition, UsageError


def label_loss(y_hat: Tensor, y: Tensor) -> Tensor:
    """The learner's own loss for predictions ``y_hat`` of labels ``y``, averaged over the batch.

    Class indices ``(N,)`` with logits ``(N, C)``: cross-entropy; 0/1 labels with one logit
    ``(N,)``: BCE with logits; float targets: squared error summed over target dimensions.

    Example:
        >>> import torch
        >>> float(label_loss(torch.zeros(2, 2), torch.tensor([0, 1])))  # log 2
        0.6931471824645996
        >>> float(label_loss(torch.tensor([[1.0], [3.0]]), torch.tensor([[1.0], [1.0]])))
        2.0
    """
    if y.is_floating_point():
        return (y_hat - y).square().reshape(len(y), -1).sum(dim=1).mean()
    if y_hat.dim() == 1:
        return F.binary_cross_entropy_with_logits(y_hat, y.float())
    return F.cross_entropy(y_hat, y)


def require_label_feedback(agent: str, env: Env) -> None:
    """Refuse an env that will not reveal labels, before any run directory exists."""
    feedback = getattr(env, "feedback", "label")
    if feedback != "label":
        raise UsageError(
            f"agent {agent!r} learns from the label revealed after acting, but this env's "
            f"feedback is {feedback!r}; use --env.feedback label"
        )


def revealed_label(agent: str, transition: Transition) -> Tensor:
    """The labels a step revealed, ``info["target"]``; a clear error when it revealed none."""
    target = transition.info.get("target")
    if target is None:
        raise UsageError(
            f"agent {agent!r} learns from the label revealed after acting, but this env's "
            f"info holds {sorted(transition.info) or 'nothing'}; use a supervised env "
            "with --env.feedback label"
        )
    return target


class LabelAgent(GradientAgent):
    """A model + optimizer that descends its own loss on the label the env reveals.

    Args:
        env: a supervised env with ``feedback="label"`` (``info["target"]`` after acting).
        config: the gradient learner's hyperparameters (model, optimizer, lr, ...).
        net: a model of your own; by default ``config.model`` from the zoo.
    """

    Config = GradientConfig
    name = "label"

    def __init__(self, env: Env, config: GradientConfig | None = None, **kwargs: Any) -> None:
        require_label_feedback("label", env)
        super().__init__(env, config, **kwargs)

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """One optimizer step on ``label_loss(action, info["target"])``."""
        target = revealed_label("label", transition)
        loss = label_loss(transition.action, target)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"train/loss": loss.detach()}
