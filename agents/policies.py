"""Networks of the RL agents: an actor-critic (REINFORCE, PPO) and a Q-network (DQN).

The distributions are written out (a log-softmax per categorical head for Discrete,
MultiDiscrete and MultiBinary, logits of masked-out actions at the lowest float, the mask
read from the observation's ``action_mask`` part where it has one; a diagonal
Gaussian with a state-independent log-std for Box) rather than a ``torch.distributions``
object built (its arguments checked and broadcast) at every step; a test checks them
against it.
Also here: the action-space check every RL agent makes before it builds anything.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from gymnasium import spaces
from torch import Tensor

from agents.attention import AttentionNet
from agents.encoders import encoder_for, is_flat
from sandbox.core import Env, UsageError
from sandbox.spaces import Flattened

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}
CATEGORICAL = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)  # action spaces


def categories(space: spaces.Space) -> list[int]:
    """Classes per categorical head: ``[n]`` (Discrete), ``nvec`` flattened (MultiDiscrete),
    ``[2] * n`` (MultiBinary: each bit a 2-class head)."""
    if isinstance(space, spaces.Discrete):
        return [int(space.n)]
    if isinstance(space, spaces.MultiDiscrete):
        return [int(n) for n in space.nvec.reshape(-1)]
    return [2] * int(np.prod(space.shape))


def require_action_space(agent: str, env: Env, allowed: tuple[type, ...]) -> spaces.Space:
    """The env's single action space if it is one of ``allowed``; else a ``UsageError``
    naming both the space the agent needs and the one the env has."""
    space = env.single_action_space
    if not isinstance(space, allowed):
        needs = " or ".join(cls.__name__ for cls in allowed)
        env_id = getattr(getattr(env, "spec", None), "id", type(env).__name__)
        raise UsageError(
            f"agent {agent!r} needs a {needs} action space, but env {env_id!r} has the action "
            f"space {space}; pick an agent for {type(space).__name__} actions"
            + (" (ppo, reinforce)" if isinstance(space, (spaces.Box, *CATEGORICAL)) else "")
        )
    return space


def obs_dim(env: Env) -> int:
    """Features per observation: the product of the observation shape (images flattened)."""
    return int(np.prod(env.single_observation_space.shape))


class MLP(nn.Sequential):
    """``Flatten → [Linear → act] x num_layers → Linear``; orthogonal init as in PPO's code.

    Orthogonal weights with gain sqrt(2) and a small last layer (gain 0.01 for a policy)
    are among the "implementation details" that matter (Huang et al., 2022, ICLR blog).
    A plain ``nn.Sequential``: its forward runs the modules in order, so hooks on its layers
    run (``envs/representation.py`` reads features that way); state-dict keys are the
    layers' indices (``1.weight``, ``3.weight``, ...; 0 is the ``Flatten``).

    Example:
        >>> net = MLP(4, 2, num_hiddens=8, num_layers=2, activation="tanh", out_gain=1.0)
        >>> net(torch.ones(3, 4)).shape, [k for k in net.state_dict() if k.endswith("weight")]
        (torch.Size([3, 2]), ['1.weight', '3.weight', '5.weight'])
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_hiddens: int,
        num_layers: int,
        activation: str,
        out_gain: float,
    ) -> None:
        layers: list[nn.Module] = [nn.Flatten()]  # (B, *obs) -> (B, in_dim)
        dims = [in_dim] + [num_hiddens] * num_layers
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
            layers += [_init(nn.Linear(d_in, d_out), math.sqrt(2)), ACTIVATIONS[activation]()]
        layers.append(_init(nn.Linear(dims[-1], out_dim), out_gain))  # (B, out_dim)
        super().__init__(*layers)

    def __getitem__(self, idx: int | slice) -> nn.Module:
        """A layer, or a slice of them as a plain ``nn.Sequential`` (names kept): the
        inherited slice would call ``MLP(...)`` with the layers, which it does not take."""
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)


def encoded_mlp(env: Env, encoder: nn.Module | None, out_dim: int, *mlp_args: object) -> nn.Module:
    """The MLP on the observation as it is (a flat Box), else ``encoder → MLP`` with the
    encoder given or chosen from the space (``agents/encoders.py``)."""
    space = env.single_observation_space
    if encoder is None and is_flat(space):
        return MLP(obs_dim(env), out_dim, *mlp_args)
    encoder = encoder if encoder is not None else encoder_for(space)
    return nn.Sequential(encoder, MLP(int(encoder.out_features), out_dim, *mlp_args))


def attention(
    env: Env, out_dim: int, num_hiddens: int, num_layers: int, out_gain: float
) -> AttentionNet:
    """The zoo's self-attention encoder over ``(L, d)`` observations, its readout initialised
    as the MLP's last layer (orthogonal, gain ``out_gain``)."""
    try:
        net = AttentionNet(
            env.single_observation_space.shape, (out_dim,), num_hiddens, 4, num_layers
        )
    except ValueError as e:
        raise UsageError(f"the attention policy: {e}") from None
    _init(net.readout, out_gain)
    return net


def _init(layer: nn.Linear, gain: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def action_mask_part(env: Env, nvec: list[int] | None) -> slice | None:
    """Where the observations hold the action mask (a ``Flattened`` Dict's ``action_mask``),
    or ``None``; a ``UsageError`` where a mask cannot apply (Box actions, a wrong size)."""
    space = env.single_observation_space
    where = space.mask if isinstance(space, Flattened) else None
    if where is None:
        return None
    if nvec is None:
        raise UsageError(
            f"the observations hold an action_mask, but the action space "
            f"{env.single_action_space} is not Discrete, MultiDiscrete or MultiBinary"
        )
    size = where.stop - where.start
    if size != sum(nvec):
        raise UsageError(
            f"action_mask has {size} entries, expected {sum(nvec)}: one per class of each "
            f"part of the action space {env.single_action_space}"
        )
    return where


class ActorCritic(nn.Module):
    """Separate policy and value MLPs on one shared encoder; a categorical or a diagonal
    Gaussian policy.

    The encoder (chosen from the observation space, or the user's; none for a flat Box) is
    one module under both MLPs, as Stable-Baselines3's ``CnnPolicy`` and CleanRL's
    ``ppo_atari`` share their CNN: the pixels are encoded once per forward, and the value
    loss trains the CNN too. ``evaluate_and_value`` gives both heads from one encoder pass.

    With ``net="attention"`` each of the two is the zoo's self-attention encoder
    (``agents/attention.py``, ``num_layers`` blocks of ``num_hiddens`` units and 4 heads) over
    sequence observations ``(L, d)``; ``activation`` is then unused.

    ``sample`` draws an action as the policy indexes it (a Gaussian sample may leave the
    Box); ``to_env`` turns it into what the env takes (clipped to the bounds; offset by a
    Discrete space's ``start``) and ``from_env`` maps the env's action back, which is what the
    agents store and score (a clipped Box action is scored where it was clipped to).

    Action masks: where the observation space is a ``Flattened`` Dict with an ``action_mask``
    part (``(sum(nvec),)``, nonzero: allowed), ``sample``, ``mode`` and ``evaluate`` apply it
    to the logits; the mask travels inside the observation, so an agent's rollout scores its
    actions under the very masks they were drawn with.
    """

    def __init__(
        self,
        env: Env,
        num_hiddens: int = 64,
        num_layers: int = 2,
        activation: str = "tanh",
        net: str = "mlp",
        encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        space = env.single_action_space
        # Discrete, MultiDiscrete and MultiBinary: categorical heads of ``nvec`` classes each
        # (MultiBinary's bits are 2 classes); Box: a diagonal Gaussian
        self.discrete = isinstance(space, CATEGORICAL)
        self.nvec = categories(space) if self.discrete else []
        self.multi = self.discrete and not isinstance(space, spaces.Discrete)  # (B, k) actions
        num_outputs = sum(self.nvec) if self.discrete else int(np.prod(space.shape))
        obs_space = env.single_observation_space
        self.encoder: nn.Module | None = None  # (B, *obs) -> (B, features); None: obs as is
        if net == "attention":
            self.actor = attention(env, num_outputs, num_hiddens, num_layers, out_gain=0.01)
            self.critic = attention(env, 1, num_hiddens, num_layers, out_gain=1.0)
        else:
            if encoder is not None or not is_flat(obs_space):
                self.encoder = encoder if encoder is not None else encoder_for(obs_space)
            in_dim = obs_dim(env) if self.encoder is None else int(self.encoder.out_features)
            mlp = (num_hiddens, num_layers, activation)
            self.actor = MLP(in_dim, num_outputs, *mlp, out_gain=0.01)
            self.critic = MLP(in_dim, 1, *mlp, out_gain=1.0)
        self.action_shape = space.shape
        self.mask_part = action_mask_part(env, self.nvec if self.discrete else None)
        if self.discrete:
            # a Python int: no device read per step (MultiDiscrete and MultiBinary start at 0)
            self.action_start = int(space.start) if isinstance(space, spaces.Discrete) else 0
        else:
            self.log_std = nn.Parameter(torch.zeros(num_outputs))  # state-independent
            self.register_buffer("low", torch.as_tensor(space.low, dtype=torch.float32))
            self.register_buffer("high", torch.as_tensor(space.high, dtype=torch.float32))

    def features(self, obs: Tensor) -> Tensor:
        """The encoder's features (B, out_features), or the observations as they are."""
        return obs if self.encoder is None else self.encoder(obs)

    def logits(self, obs: Tensor, mask: Tensor | None = None) -> Tensor:
        """The actor's logits (B, sum(nvec)) with masked-out actions (``mask`` (B, sum(nvec))
        bool, False: not allowed) at the dtype's lowest value: never sampled, probability 0
        (a finite value rather than -inf, so that 0 * log 0 in the entropy is 0, not NaN)."""
        return self._logits(obs, self.features(obs), mask)

    def _logits(self, obs: Tensor, feats: Tensor, mask: Tensor | None) -> Tensor:
        out = self.actor(feats)
        if mask is None and self.mask_part is not None:
            mask = obs[:, self.mask_part] != 0  # (B, sum(nvec)): the obs' action_mask part
        if mask is None:
            return out
        return out.masked_fill(~mask.reshape(out.shape), torch.finfo(out.dtype).min)

    def _log_softmax(self, logits: Tensor) -> Tensor:
        """Log-probabilities per head, concatenated: (B, sum(nvec))."""
        if not self.multi:
            return F.log_softmax(logits, dim=-1)
        return torch.cat([F.log_softmax(x, -1) for x in logits.split(self.nvec, -1)], -1)

    def _argmax(self, scores: Tensor) -> Tensor:
        """The best class of each head: (B,) for Discrete, (B, k) for k heads."""
        if not self.multi:
            return scores.argmax(-1)
        heads = [x.argmax(-1) for x in scores.split(self.nvec, -1)]
        return torch.stack(heads, -1).reshape(-1, *self.action_shape)

    def value(self, obs: Tensor) -> Tensor:
        """V(obs): (B,)."""
        return self.critic(self.features(obs)).squeeze(-1)

    def sample(self, obs: Tensor, mask: Tensor | None = None) -> Tensor:
        """A sampled action: (B,) or (B, *shape), as drawn (``to_env`` makes it the env's).

        Its log-probability is ``evaluate``'s: the agents score a whole rollout's actions in
        one batched forward at update time, rather than a few rows at every step.
        """
        if self.discrete:
            out = self.logits(obs, mask)  # (B, sum(nvec))
            # Gumbel-max: argmax(logits + G), G = -log E with E ~ Exp(1), is a draw from
            # softmax(logits), straight from the logits (torch.multinomial needs probabilities)
            log_e = torch.empty_like(out).exponential_().log_()  # (B, sum(nvec)) = -G
            return self._argmax(out - log_e)  # (B,) or (B, k)
        out = self.actor(self.features(obs))  # (B, action_dim) means
        action = out + self.log_std.exp() * torch.randn_like(out)  # (B, action_dim)
        return action.reshape(-1, *self.action_shape)

    def mode(self, obs: Tensor, mask: Tensor | None = None) -> Tensor:
        """The most likely allowed action: argmax of the logits, or the Gaussian's mean."""
        if self.discrete:
            return self._argmax(self.logits(obs, mask))
        return self.actor(self.features(obs)).reshape(-1, *self.action_shape)

    def evaluate(
        self, obs: Tensor, action: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """log pi(action | obs) (B,), and what the policy's entropy comes from (``entropy``):
        its log-probabilities (B, sum(nvec)), or the Gaussian's log-std (B, action_dim)."""
        return self._evaluate(obs, self.features(obs), action, mask)

    def evaluate_and_value(
        self, obs: Tensor, action: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``evaluate``'s two and V(obs) (B,), from one pass of the encoder."""
        feats = self.features(obs)
        return *self._evaluate(obs, feats, action, mask), self.critic(feats).squeeze(-1)

    def _evaluate(
        self, obs: Tensor, feats: Tensor, action: Tensor, mask: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        if self.discrete:
            log_p = self._log_softmax(self._logits(obs, feats, mask))  # (B, sum(nvec))
            idx = action.long().reshape(len(log_p), -1)  # (B, k) class of each head
            if self.multi:  # each head's class -> its column in the concatenated logits
                offsets = torch.tensor([0, *self.nvec[:-1]], device=idx.device).cumsum(0)
                idx = idx + offsets
            return log_p.gather(-1, idx).sum(-1), log_p  # heads independent: log-probs add
        out = self.actor(feats)
        log_std = self.log_std.expand(len(out), -1)  # (B, action_dim): state-independent
        return self._gaussian_logprob(out, action.reshape(len(out), -1)), log_std

    def entropy(self, dist: Tensor) -> Tensor:
        """The entropy of ``evaluate``'s distribution, one per row: (B,) from (B, sum(nvec))
        log-probabilities (the heads' entropies add) or (B, action_dim) log-stds; any
        leading dimensions are kept."""
        if self.discrete:
            return -(dist.exp() * dist).sum(-1)
        return (0.5 + 0.5 * math.log(2 * math.pi) + dist).sum(-1)

    def _gaussian_logprob(self, mean: Tensor, action: Tensor) -> Tensor:
        z = (action - mean) / self.log_std.exp()  # (B, action_dim)
        return (-0.5 * z.square() - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def to_env(self, action: Tensor) -> Tensor:
        """The action the env takes: clipped into the Box, or offset by Discrete's start."""
        if self.discrete:
            return action + self.action_start if self.action_start else action
        return torch.maximum(torch.minimum(action, self.high), self.low)

    def from_env(self, action: Tensor) -> Tensor:
        """An action as an env took it, as the policy scores it: Discrete's start taken off
        (a Box action is scored as it is)."""
        if self.discrete and self.action_start:
            return action - self.action_start
        return action


class QNetwork(nn.Module):
    """Q(obs, ·): one value per discrete action, an MLP with ReLU."""

    def __init__(
        self,
        env: Env,
        num_hiddens: int = 64,
        num_layers: int = 2,
        encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        num_actions = int(env.single_action_space.n)
        self.net = encoded_mlp(env, encoder, num_actions, num_hiddens, num_layers, "relu", 1.0)

    def forward(self, obs: Tensor) -> Tensor:
        """Q-values: (B, num_actions)."""
        return self.net(obs)
