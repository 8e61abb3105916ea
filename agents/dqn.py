"""Deep Q-Network (Mnih et al., 2015, Nature 518:529), with a Double DQN option.

Act epsilon-greedily on Q(s, ·); store every transition in a replay buffer; every
``train_freq`` samples take ``gradient_steps`` minibatch steps on the squared TD error
against a target network's bootstrapped value, ``r + gamma * max_a' Q_target(s', a')``;
copy the online network into the target every ``target_update_interval`` samples. Double
DQN (van Hasselt et al., 2016) picks ``a'`` with the online network and values it with the
target. Extends d2l's Q-learning (§17.3) from a table to a network. Discrete actions only.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from gymnasium import spaces
from torch import Tensor

from agents.buffers import ReplayBuffer
from agents.compiling import Compiled
from agents.policies import QNetwork, action_mask_part, require_action_space
from sandbox.core import Env, Transition, env_device


@dataclass(frozen=True)
class DQNConfig:
    """Hyperparameters of DQN (defaults: RL Zoo's CartPole-v1 DQN, smaller net)."""

    lr: float = 2.3e-3
    """Adam learning rate."""
    buffer_size: int = 100_000
    """Replay capacity in transitions."""
    learning_starts: int = 1_000
    """Samples collected before the first update."""
    batch_size: int = 64
    """Transitions per gradient step."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 256
    """Samples between training phases."""
    gradient_steps: int = 128
    """Gradient steps per training phase."""
    target_update_interval: int = 10
    """Samples between target-network syncs (checked at each training phase)."""
    tau: float = 1.0
    """Target update rate: 1 copies, < 1 is Polyak averaging."""
    exploration_initial_eps: float = 1.0
    """Epsilon at the start."""
    exploration_final_eps: float = 0.04
    """Epsilon after the schedule."""
    exploration_steps: int = 8_000
    """Samples over which epsilon decays linearly."""
    double_dqn: bool = False
    """Double DQN: the online network picks the next action, the target values it."""
    max_grad_norm: float = 10.0
    """Gradient norm clip."""
    num_hiddens: int = 256
    """Hidden units per layer of the Q-network."""
    num_layers: int = 2
    """Hidden layers of the Q-network."""
    compile: bool = False
    """torch.compile the TD loss (forward and backward) and the clip-and-step; the first
    training phase pays the compile (logged once as time/compile_s); a compile failure falls
    back to eager with one warning line."""

    def __post_init__(self) -> None:
        for name in ("buffer_size", "batch_size", "train_freq", "gradient_steps", "num_hiddens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0 or not 0 < self.tau <= 1:
            raise ValueError(f"lr must be > 0 and tau in (0, 1], got {self.lr}, {self.tau}")


def td_target(reward: Tensor, next_q: Tensor, terminated: Tensor, gamma: float) -> Tensor:
    """``r + gamma * Q(s', a') * (1 - terminated)``; all (B,). Truncation still bootstraps."""
    return reward + gamma * next_q * (~terminated)


def epsilon(samples: int, cfg: DQNConfig) -> float:
    """The linear schedule from ``exploration_initial_eps`` to ``exploration_final_eps``."""
    progress = min(samples / max(cfg.exploration_steps, 1), 1.0)
    return cfg.exploration_initial_eps + progress * (
        cfg.exploration_final_eps - cfg.exploration_initial_eps
    )


class DQNAgent:
    """DQN for Discrete actions: replay buffer on the device, target network, epsilon-greedy."""

    Config = DQNConfig
    name = "dqn"
    training_only = ("buffer",)
    """``state_dict`` entries only learning needs: ``sandbox.load`` keeps a fresh agent's own
    (the replay buffer's capacity is rounded to ``num_envs``; acting needs the Q-network)."""

    def __init__(self, env: Env, config: DQNConfig | None = None) -> None:
        self.config = cfg = config or DQNConfig()
        space = require_action_space("dqn", env, (spaces.Discrete,))
        self.device, self.num_envs = env_device(env), env.num_envs
        self.num_actions, self.action_start = int(space.n), int(space.start)
        # the observations' action_mask part (a Flattened Dict's), or None: greedy actions,
        # exploration and the TD target's max stay within the legal actions
        self.mask_part = action_mask_part(env, [self.num_actions])
        self.q = QNetwork(env, cfg.num_hiddens, cfg.num_layers).to(self.device)
        self.q_target = QNetwork(env, cfg.num_hiddens, cfg.num_layers).to(self.device)
        self.q_target.load_state_dict(self.q.state_dict())
        self.params = list(self.q.parameters())
        # eager, fused Adam (one kernel for every parameter); compiled, the plain loop, which
        # inductor fuses itself
        kind = dict(foreach=False) if cfg.compile else dict(fused=True)
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr, **kind)
        self._td_loss, self._clip_and_step = self.td_loss, self.clip_and_step
        self.compile_seconds: float | None = None  # the first phase's time, compile included
        if cfg.compile:  # acting and sampling the buffer stay eager
            failed: dict[str, bool] = {}  # one warning, and the agent all eager, on a failure
            self._td_loss = Compiled(self.td_loss, "agent 'dqn''s TD loss", failed)
            step = "agent 'dqn''s clip-and-step"
            self._clip_and_step = Compiled(self.clip_and_step, step, failed)
        self.buffer = ReplayBuffer(
            cfg.buffer_size, env.num_envs, env.single_observation_space.shape, (), self.device
        )
        self.samples = 0  # samples seen
        self.next_train = cfg.learning_starts
        self.last_target_sync = 0

    def act(self, obs: Tensor, *, deterministic: bool = False) -> Tensor:
        """Greedy on Q, or with probability epsilon a uniformly random action."""
        with torch.inference_mode():
            legal = self.legal(obs)  # (N, num_actions) bool, or None
            action = self.masked(self.q(obs), legal).argmax(-1)  # (N,)
            if not deterministic:
                eps = epsilon(self.samples, self.config)
                explore = torch.rand(len(obs), device=self.device) < eps  # (N,)
                if legal is None:
                    random = torch.randint(self.num_actions, (len(obs),), device=self.device)
                else:  # uniform over the legal actions
                    random = torch.multinomial(legal.float(), 1).squeeze(-1)
                action = torch.where(explore, random, action)
        return action + self.action_start if self.action_start else action

    def legal(self, obs: Tensor) -> Tensor | None:
        """The legal actions ``(B, num_actions)`` bool from the observations, or ``None``."""
        return None if self.mask_part is None else obs[:, self.mask_part] != 0

    @staticmethod
    def masked(q: Tensor, legal: Tensor | None) -> Tensor:
        """Q-values ``(B, num_actions)`` with illegal actions at the dtype's lowest value (finite:
        a terminal s' with no legal action still gives a finite, then zeroed, target)."""
        return q if legal is None else q.masked_fill(~legal, torch.finfo(q.dtype).min)

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """Store the batch; every ``train_freq`` samples, ``gradient_steps`` TD updates."""
        cfg, t = self.config, transition
        next_obs = t.next_obs
        if "final_obs" in t.info:  # bootstrap from the final obs, not the reset obs
            done = (t.terminated | t.truncated).view(-1, *[1] * (next_obs.dim() - 1))
            next_obs = torch.where(done, t.info["final_obs"], next_obs)
        action = t.action - self.action_start if self.action_start else t.action
        self.buffer.add(t.obs, action, t.reward.detach(), next_obs, t.terminated)
        self.samples += self.num_envs
        metrics = {
            "rollout/exploration_rate": torch.tensor(epsilon(self.samples, cfg), device=self.device)
        }
        if self.samples >= self.next_train:
            self.next_train += cfg.train_freq
            metrics |= self.train()
        return metrics

    def train(self) -> dict[str, Tensor]:
        """One training phase: sync the target if due, then ``gradient_steps`` TD steps."""
        cfg = self.config
        started = time.perf_counter() if cfg.compile and self.compile_seconds is None else None
        if self.samples - self.last_target_sync >= cfg.target_update_interval:
            self.last_target_sync = self.samples
            for p, p_target in zip(self.q.parameters(), self.q_target.parameters(), strict=True):
                p_target.data.lerp_(p.data, cfg.tau)
        loss_sum = torch.zeros((), device=self.device)
        for _ in range(cfg.gradient_steps):
            b = self.buffer.sample(cfg.batch_size)
            loss = self._td_loss(b["obs"], b["action"], b["reward"], b["next_obs"], b["terminated"])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self._clip_and_step()
            loss_sum += loss.detach()
        metrics = {
            "train/loss": loss_sum / cfg.gradient_steps,
            "train/learning_rate": torch.tensor(cfg.lr, device=self.device),
        }
        if started is not None:  # the first phase: what compiling cost, once a run
            self.compile_seconds = time.perf_counter() - started
            metrics["time/compile_s"] = torch.tensor(self.compile_seconds, device=self.device)
        return metrics

    def td_loss(
        self, obs: Tensor, action: Tensor, reward: Tensor, next_obs: Tensor, terminated: Tensor
    ) -> Tensor:
        """The Huber loss of Q(s, a) against the TD target on a replay minibatch (B, ...)."""
        cfg = self.config
        with torch.no_grad():
            legal = self.legal(next_obs)  # (B, num_actions): a' ranges over these
            q_next = self.q_target(next_obs)  # (B, num_actions)
            if cfg.double_dqn:  # online net picks, target net values
                online = self.masked(self.q(next_obs), legal)
                next_q = q_next.gather(-1, online.argmax(-1, keepdim=True)).squeeze(-1)
            else:
                next_q = self.masked(q_next, legal).max(-1).values  # (B,)
            # an s' whose mask allows nothing has no max: 0 rather than the lowest float
            next_q = next_q if legal is None else torch.where(legal.any(-1), next_q, 0.0)
            target = td_target(reward, next_q, terminated, cfg.gamma)
        q = self.q(obs).gather(-1, action[:, None]).squeeze(-1)  # (B,)
        return F.smooth_l1_loss(q, target)  # Huber, as SB3 and the Nature paper's clip

    def clip_and_step(self) -> None:
        """Clip the gradients' global norm to ``max_grad_norm``, then the Adam step."""
        torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizer, replay buffer and counters: an exact resume."""
        return {
            "q": self.q.state_dict(),
            "q_target": self.q_target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "buffer": self.buffer.state_dict(),
            "counters": [self.samples, self.next_train, self.last_target_sync],
            "config": dataclasses.asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``."""
        self.q.load_state_dict(state["q"])
        self.q_target.load_state_dict(state["q_target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        self.samples, self.next_train, self.last_target_sync = state["counters"]
