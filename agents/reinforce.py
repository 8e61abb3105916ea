"""REINFORCE with a baseline (Williams, 1992; Sutton & Barto, 2018, §13.4).

Play ``num_steps`` steps in every sub-env, compute each step's return-to-go
``G_t = r_t + gamma * G_{t+1}``, and ascend ``(G_t - b(s_t)) * grad log pi(a_t | s_t)``,
where the baseline ``b`` is a learned state value fitted to ``G_t``: it lowers the variance
without biasing the gradient. One gradient step per batch of episodes. A return cut by the
rollout's end or a time limit is completed with the baseline's value of the state where it
was cut (the only bootstrapping). d2l's policy-gradient section (§17) in code.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from agents.policies import CATEGORICAL, ActorCritic, require_action_space
from sandbox.core import Env, Transition, env_device


@dataclass(frozen=True)
class ReinforceConfig:
    """Hyperparameters of REINFORCE with a baseline."""

    num_steps: int = 200
    """Steps collected from every sub-env per gradient step."""
    lr: float = 3e-3
    """Adam learning rate (policy and baseline)."""
    gamma: float = 0.99
    """Discount factor."""
    vf_coef: float = 0.5
    """Weight of the baseline's squared error."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    normalize_advantage: bool = True
    """Scale G - b to unit variance per batch (a common variance reduction)."""
    max_grad_norm: float = 1.0
    """Gradient norm clip."""
    num_hiddens: int = 64
    """Hidden units per layer."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Hidden activation."""

    def __post_init__(self) -> None:
        if self.num_steps < 1 or self.num_hiddens < 1:
            raise ValueError("num_steps and num_hiddens must be >= 1")
        if not self.lr > 0 or not 0 <= self.gamma <= 1:
            raise ValueError(f"lr must be > 0 and gamma in [0, 1], got {self.lr}, {self.gamma}")


def discounted_returns(reward: Tensor, done: Tensor, bootstrap: Tensor, gamma: float) -> Tensor:
    """Returns-to-go (T, N): ``G_t = r_t + gamma * (done_t ? bootstrap_t : G_{t+1})``.

    ``bootstrap[t]`` is what a return cut at step ``t`` continues with: 0 where the episode
    terminated, V(s') where it was truncated or the rollout ended (``done`` is then set).
    """
    returns = torch.empty_like(reward)
    future = torch.zeros_like(reward[0])  # (N,)
    for t in reversed(range(len(reward))):
        future = reward[t] + gamma * torch.where(done[t], bootstrap[t], future)
        returns[t] = future
    return returns


class ReinforceAgent:
    """REINFORCE with a learned baseline, for Discrete or Box actions."""

    Config = ReinforceConfig
    name = "reinforce"
    training_only = ("rollout", "step")
    """``state_dict`` entries only learning needs: ``sandbox.load`` keeps a fresh agent's own
    (the rollout's shape follows ``num_envs``; acting needs the network alone)."""

    def __init__(self, env: Env, config: ReinforceConfig | None = None) -> None:
        self.config = cfg = config or ReinforceConfig()
        require_action_space("reinforce", env, (*CATEGORICAL, spaces.Box))
        self.device, self.num_envs = env_device(env), env.num_envs
        self.net = ActorCritic(env, cfg.num_hiddens, 2, cfg.activation).to(self.device)
        self.params = list(self.net.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr, fused=True)
        T, N = cfg.num_steps, env.num_envs
        obs_space = env.single_observation_space
        obs_shape = obs_space.shape
        # pixels stay uint8 in the rollout (4x less memory); the encoder scales them
        obs_dtype = torch.uint8 if obs_space.dtype == np.uint8 else torch.float32
        action_shape = env.single_action_space.shape
        action_dtype = torch.long if self.net.discrete else torch.float32
        self.rollout = {  # preallocated, filled in place; obs and next_obs (T, N, *obs)
            "obs": torch.zeros(T, N, *obs_shape, dtype=obs_dtype, device=self.device),
            "next_obs": torch.zeros(T, N, *obs_shape, dtype=obs_dtype, device=self.device),
            "action": torch.zeros(T, N, *action_shape, dtype=action_dtype, device=self.device),
            "reward": torch.zeros(T, N, device=self.device),  # (T, N)
            "terminated": torch.zeros(T, N, dtype=torch.bool, device=self.device),  # (T, N)
            "done": torch.zeros(T, N, dtype=torch.bool, device=self.device),  # (T, N)
        }
        self.step = 0

    def act(self, obs: Tensor, *, deterministic: bool = False) -> Tensor:
        """Sample from the policy (its mode when ``deterministic``)."""
        with torch.inference_mode():
            if deterministic:
                return self.net.to_env(self.net.mode(obs))
            return self.net.to_env(self.net.sample(obs))

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """Store one step; after ``num_steps`` of them, one policy-gradient step."""
        t, i, r = transition, self.step, self.rollout
        action = self.net.from_env(t.action)  # the env's action, as the policy indexes it
        done = t.terminated | t.truncated  # (N,)
        next_obs = t.next_obs
        if "final_obs" in t.info:  # after autoreset s' is the final obs, not the reset obs
            mask = done.view(-1, *[1] * (next_obs.dim() - 1))
            next_obs = torch.where(mask, t.info["final_obs"], next_obs)
        r["obs"][i], r["next_obs"][i], r["action"][i] = t.obs, next_obs, action
        r["reward"][i], r["terminated"][i], r["done"][i] = t.reward.detach(), t.terminated, done
        self.step += 1
        if self.step < self.config.num_steps:
            return {}
        self.step = 0
        return self.update()

    def update(self) -> dict[str, Tensor]:
        """Returns-to-go, then one step on the policy-gradient and baseline losses."""
        cfg, r = self.config, self.rollout
        T, N = r["reward"].shape
        # 1. returns-to-go; a return cut short continues with the baseline's V(s')
        done = r["done"].clone()
        done[-1] = True  # the rollout's end cuts every running episode
        with torch.no_grad():
            next_value = self.net.value(r["next_obs"].flatten(0, 1)).view(T, N)
            bootstrap = torch.where(r["terminated"], 0.0, next_value)
            returns = discounted_returns(r["reward"], done, bootstrap, cfg.gamma)  # (T, N)
        b_obs, b_action, b_returns = (
            r["obs"].flatten(0, 1),
            r["action"].flatten(0, 1),
            returns.flatten(),
        )

        # 2. the policy gradient with the baseline, and the baseline's regression
        logprob, dist, value = self.net.evaluate_and_value(b_obs, b_action)  # (B,) each
        advantage = (b_returns - value).detach()
        if cfg.normalize_advantage:
            advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
        pg_loss = -(logprob * advantage).mean()
        value_loss = (b_returns - value).square().mean()
        entropy_loss = -self.net.entropy(dist).mean()
        loss = pg_loss + cfg.vf_coef * value_loss + cfg.ent_coef * entropy_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
        self.optimizer.step()
        return {
            "train/policy_gradient_loss": pg_loss.detach(),
            "train/value_loss": value_loss.detach(),
            "train/entropy_loss": entropy_loss.detach(),
            "train/loss": loss.detach(),
            "train/learning_rate": torch.tensor(cfg.lr, device=self.device),
        }

    def state_dict(self) -> dict[str, Any]:
        """Network, optimizer, the partial rollout and its position: an exact resume."""
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            # the rows filled so far: all an exact resume needs (none at a rollout's end,
            # where a run of whole rollouts stops: pixels would weigh tens of MB)
            "rollout": {k: v[: self.step].clone() for k, v in self.rollout.items()},
            "step": self.step,
            "config": dataclasses.asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        for key, value in state["rollout"].items():  # (step, N, ...); older: (T, N, ...)
            self.rollout[key][: len(value)].copy_(value)
        self.step = state["step"]
