"""The gradient learner: a model and an optimizer that ascend the env's reward.

Supervised learning as d2l §3.2 writes it (predict, measure the loss, step against its
gradient) with one change of viewpoint: the agent never sees a label. The env turns the
agent's prediction into a reward ``-loss`` that keeps its autograd graph, and the agent
minimises ``-reward.mean()``. So the same agent serves regression, classification and each
player of a GAN: whatever reward is differentiable with respect to its action.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn as nn
from gymnasium import spaces
from torch import Tensor

from agents import transfer
from agents.compiling import Compiled
from agents.nets import make_net
from sandbox import distributed
from sandbox.core import Env, Transition, UsageError, env_device


@dataclass(frozen=True)
class GradientConfig:
    """Hyperparameters of the gradient learner."""

    model: Literal["linear", "mlp", "cnn", "attention", "resnet18", "mobilenet_v3_small"] = "linear"
    """Model from the zoo (agents/nets.py): linear (softmax) regression, MLP, or a small CNN;
    attention: multi-head self-attention over sequence observations (L, d); resnet18,
    mobilenet_v3_small: a torchvision backbone with a new head (agents/transfer.py)."""
    num_hiddens: int = 256
    """Hidden units of the MLP (and of the CNN's dense layer)."""
    num_layers: int = 1
    """Hidden layers of the MLP (encoder blocks of the attention model)."""
    num_heads: int = 4
    """Heads of the attention model (num_hiddens must be a multiple)."""
    dropout: float = 0.0
    """Dropout probability after each hidden layer (off during evaluation)."""
    optimizer: Literal["sgd", "adam"] = "sgd"
    """Minibatch SGD as in d2l §3.4, or Adam."""
    lr: float = 0.03
    """Learning rate."""
    momentum: float = 0.0
    """SGD momentum."""
    weight_decay: float = 0.0
    """L2 penalty (d2l §3.7)."""
    weights: str | None = "DEFAULT"
    """torchvision models: a state_dict file, weights named by torchvision (DEFAULT,
    IMAGENET1K_V1) read from its cache, or none (random initialization: from scratch)."""
    freeze: bool = False
    """torchvision models: train the new head only (backbone weights and BatchNorm fixed)."""
    input_size: int = 32
    """torchvision models: the side the images are resized to (grey repeated to RGB)."""
    compile: bool = False
    """torch.compile the net's training forward and backward and the optimizer's step; the
    first step pays the compile (logged once as time/compile_s); a compile failure falls
    back to eager with one warning line."""

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.num_hiddens < 1 or self.num_layers < 1:
            raise ValueError(
                f"num_hiddens and num_layers must be >= 1, got {self.num_hiddens} and "
                f"{self.num_layers}"
            )
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.momentum < 0 or self.weight_decay < 0:
            raise ValueError(
                "momentum and weight_decay must be >= 0, "
                f"got {self.momentum} and {self.weight_decay}"
            )
        pretrained = self.weights not in ("DEFAULT", None, "none")
        if self.model not in transfer.MODELS and (self.freeze or pretrained):
            raise ValueError(
                f"weights and freeze apply to the torchvision models {transfer.MODELS}, "
                f"not to {self.model!r}"
            )
        if self.input_size < 1:
            raise ValueError(f"input_size must be >= 1, got {self.input_size}")


class GradientAgent:
    """Any ``nn.Module`` + optimizer, learning by gradient ascent on the reward.

    Args:
        env: the env it acts in; its action space must be ``Box`` (a prediction).
        config: hyperparameters; defaults to ``GradientConfig()``.
        net: a model of your own; by default ``config.model`` from the zoo.
    """

    Config = GradientConfig
    name = "gradient"

    def __init__(
        self, env: Env, config: GradientConfig | None = None, *, net: nn.Module | None = None
    ) -> None:
        self.config = cfg = config or GradientConfig()
        if not isinstance(env.single_action_space, spaces.Box):
            raise UsageError(
                f"agent 'gradient' needs a Box action space (a prediction whose reward has a "
                f"gradient), but the env's action space is {env.single_action_space}; "
                "an RL agent learns from reward values alone"
            )
        obs_shape, action_shape = env.single_observation_space.shape, env.single_action_space.shape
        self.device = env_device(env)
        if net is None and cfg.model in transfer.MODELS:  # d2l §14.2: pretrained, new head
            try:
                net = transfer.transfer_net(
                    cfg.model, obs_shape, action_shape, cfg.weights, cfg.freeze, cfg.input_size
                )
            except ValueError as e:
                raise UsageError(f"agent 'gradient': {e}") from None
        if net is None:
            try:
                net = make_net(
                    cfg.model,
                    obs_shape,
                    action_shape,
                    cfg.num_hiddens,
                    cfg.dropout,
                    cfg.num_layers,
                    num_heads=cfg.num_heads,
                )
            except ValueError as e:
                raise UsageError(f"agent 'gradient': {e}") from None
        self.net = net.to(self.device)
        # Training forwards go through DistributedDataParallel under torchrun, so that the
        # backward in learn() averages gradients across ranks; the net itself otherwise.
        self.train_net = distributed.wrap(self.net)
        self._grad_reward: Tensor | None = None  # -1/N per sample, reused every step
        params = [p for p in self.net.parameters() if p.requires_grad]  # not a frozen backbone
        if cfg.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(
                params,
                lr=cfg.lr,
                momentum=cfg.momentum,
                weight_decay=cfg.weight_decay,
            )
        else:
            self.optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        # --compile: the training forward (its backward compiled with it) and the optimizer
        # step, through torch.compile; evaluation stays eager (it runs rarely, without grad).
        self.forward: Callable[[Tensor], Tensor] = self.train_net
        self.compile_seconds: float | None = None  # the first step's time, compile included
        self._started: float | None = None
        if cfg.compile:
            failed: dict[str, bool] = {}  # one warning, and the agent all eager, on a failure
            self.forward = Compiled(self.train_net, f"agent {self.name!r}'s net", failed)
            # self.optimizer is read at each call: the GAN players rebuild it after __init__.
            step = lambda: self.optimizer.step()  # noqa: E731
            self._step = Compiled(step, f"agent {self.name!r}'s optimizer step", failed)

    def act(self, obs: Tensor, *, deterministic: bool = False) -> Tensor:
        """Predict for a batch; in training the output keeps its graph for ``learn``."""
        if self.net.training == deterministic:  # toggle dropout only when the mode changes
            self.net.train(not deterministic)
        if deterministic:
            with torch.no_grad():
                return self.net(obs)
        if self.config.compile and self.compile_seconds is None:
            self._started = time.perf_counter()
        return self.forward(obs)

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """One SGD step on ``-reward.mean()``: the loss, for a reward that is ``-loss``."""
        if not transition.reward.requires_grad:
            raise UsageError(
                "agent 'gradient' got a reward without a gradient: this env reveals reward "
                "values only (bandit feedback, or label feedback's detached reward); use an RL "
                "agent, or the env's gradient mode (--env.feedback gradient)"
            )
        reward = transition.reward  # (N,)
        # d(-reward.mean())/d(reward) is -1/N for every sample: backpropagate that vector
        # directly instead of recording a mean and a negation (two autograd nodes fewer,
        # forward and backward).
        if self._grad_reward is None or self._grad_reward.shape != reward.shape:
            self._grad_reward = torch.full_like(reward, -1.0 / len(reward)).detach()  # (N,)
        self.optimizer.zero_grad(set_to_none=True)
        reward.backward(self._grad_reward)
        if not self.config.compile:
            self.optimizer.step()
            # the loss per sample, averaged when the loop reads it (as reward/mean is): no
            # reduction op per step
            return {"train/loss": -reward.detach()}
        self._step()
        metrics = {"train/loss": -reward.detach()}
        if self.compile_seconds is None and self._started is not None:
            # forward, backward and step of the first step: what compiling cost, once a run
            self.compile_seconds = time.perf_counter() - self._started
            metrics["time/compile_s"] = torch.tensor(self.compile_seconds, device=self.device)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """Model and optimizer state, and the config as a plain dict."""
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "config": dataclasses.asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict`` (the config must match the one this agent was built with)."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
