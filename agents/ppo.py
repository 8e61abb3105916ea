"""Proximal Policy Optimization (Schulman et al., 2017, arXiv:1707.06347).

Collect ``num_steps`` steps from every sub-env with the current policy, estimate advantages
with GAE (Schulman et al., 2016, arXiv:1506.02438), then take several epochs of minibatch
steps on the clipped surrogate ``min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)``, which
keeps the new policy near the one that collected the data, plus a value loss and an entropy
bonus. Extends the policy gradient of d2l's RL chapter (§17) with a trust region made cheap.
Details follow CleanRL's ``ppo.py`` and Stable-Baselines3 (their tags, their defaults).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn as nn
from gymnasium import spaces
from torch import Tensor

from agents.compiling import Compiled
from agents.policies import CATEGORICAL, ActorCritic, require_action_space
from sandbox import distributed
from sandbox.core import Env, Transition, env_device


@dataclass(frozen=True)
class PPOConfig:
    """Hyperparameters of PPO (defaults: CleanRL's ``ppo.py``)."""

    num_steps: int = 128
    """Steps collected from every sub-env before each update (rollout length T)."""
    num_epochs: int = 4
    """Passes over the rollout per update."""
    num_minibatches: int = 4
    """Minibatches per epoch; the minibatch size is num_steps * num_envs / num_minibatches."""
    lr: float = 2.5e-4
    """Adam learning rate."""
    anneal: bool = False
    """Decay lr and clip_coef linearly to 0 over the run's budget (RL Zoo's lin_*)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE's lambda: 0 is one-step TD, 1 is Monte Carlo."""
    clip_coef: float = 0.2
    """Clip range of the probability ratio (and of the value change, with clip_vloss)."""
    clip_vloss: bool = False
    """Clip the value function's change as well (the paper's code; off in SB3 by default)."""
    norm_adv: bool = True
    """Normalise advantages within each minibatch."""
    ent_coef: float = 0.0
    """Weight of the entropy bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss (mean squared error, as SB3)."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    target_kl: float | None = None
    """Stop an update's epochs once approx KL exceeds 1.5x this (reads the device: optional)."""
    num_hiddens: int = 64
    """Hidden units per layer of the policy and value MLPs."""
    num_layers: int = 2
    """Hidden layers of each MLP."""
    activation: Literal["tanh", "relu"] = "tanh"
    """Hidden activation."""
    net: Literal["mlp", "attention"] = "mlp"
    """Policy and value networks: MLPs, or self-attention encoders over (L, d) sequences."""
    compile: bool = False
    """torch.compile the minibatch loss (forward and backward) and the clip-and-step; the
    first update pays the compile (logged once as time/compile_s); a compile failure falls
    back to eager with one warning line."""

    def __post_init__(self) -> None:
        for name in ("num_steps", "num_epochs", "num_minibatches", "num_hiddens", "num_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if not (0 <= self.gamma <= 1 and 0 <= self.gae_lambda <= 1):
            raise ValueError(
                f"gamma and gae_lambda must be in [0, 1], got {self.gamma}, {self.gae_lambda}"
            )
        if self.clip_coef <= 0:
            raise ValueError(f"clip_coef must be > 0, got {self.clip_coef}")


CARTPOLE_ZOO = dict(
    num_steps=32,
    num_epochs=20,
    num_minibatches=1,
    lr=1e-3,
    gamma=0.98,
    gae_lambda=0.8,
    clip_coef=0.2,
    ent_coef=0.0,
)
"""RL Zoo's tuned PPO for CartPole-v1 with 8 envs; add ``anneal=True`` for its linear decay
of lr and clip range over the run's budget (what the tests, scripts and bench/ppo_cartpole.py
run)."""


def compute_gae(
    reward: Tensor,
    value: Tensor,
    next_value: Tensor,
    terminated: Tensor,
    done: Tensor,
    gamma: float,
    gae_lambda: float,
) -> Tensor:
    """Generalized advantage estimates, (T, N) from (T, N) inputs.

    ``next_value[t]`` is V of the state that really followed step ``t`` (the final obs of a
    finished episode, not the reset obs), so a truncated episode bootstraps from where it
    was cut and only ``terminated`` zeroes the bootstrap; any ``done`` stops the recursion.
        delta_t = r_t + gamma * V(s'_t) * (1 - terminated_t) - V(s_t)
        A_t     = delta_t + gamma * lambda * (1 - done_t) * A_{t+1}
    """
    delta = reward + gamma * next_value * (~terminated) - value  # (T, N)
    carry = gamma * gae_lambda * (~done)  # (T, N)
    # one op per step (rows from unbind, a fused multiply-add, one stack at the end): the
    # recursion is T small ops, where indexing and writing each row would be five
    advantages, last = [], torch.zeros_like(delta[0])  # (N,)
    for delta_t, carry_t in zip(reversed(delta.unbind()), reversed(carry.unbind()), strict=True):
        last = torch.addcmul(delta_t, carry_t, last)  # delta_t + carry_t * A_{t+1}
        advantages.append(last)
    return torch.stack(advantages[::-1])


def normalize(advantage: Tensor) -> Tensor:
    """Advantages shifted and scaled to mean 0 and standard deviation 1 (B,)."""
    return (advantage - advantage.mean()) / (advantage.std() + 1e-8)


def ppo_loss(
    logprob: Tensor,
    old_logprob: Tensor,
    advantage: Tensor,
    value: Tensor,
    old_value: Tensor,
    returns: Tensor,
    clip_coef: float | Tensor,
    clip_vloss: bool = False,
) -> tuple[Tensor, Tensor]:
    """The clipped surrogate and value losses of a minibatch, all inputs (B,).

    Returns ``(pg_loss, v_loss)``: the loss to minimise is ``-min(r A, clip(r, 1-eps, 1+eps) A)``
    averaged, ``r = pi / pi_old``; the value loss is the mean squared error (of the worse of
    clipped and unclipped values with ``clip_vloss``).
    """
    ratio = (logprob - old_logprob).exp()
    surrogate = ratio * advantage
    clipped = ratio.clamp(1 - clip_coef, 1 + clip_coef) * advantage
    pg_loss = -torch.minimum(surrogate, clipped).mean()
    v_loss = (value - returns).square()
    if clip_vloss:
        v_clipped = old_value + (value - old_value).clamp(-clip_coef, clip_coef)
        v_loss = torch.maximum(v_loss, (v_clipped - returns).square())
    return pg_loss, v_loss.mean()


@torch.no_grad()
def ratio_stats(logprob: Tensor, old_logprob: Tensor, clip_coef: float) -> tuple[Tensor, Tensor]:
    """Approx KL ``mean((r - 1) - log r)`` (Schulman's low-variance estimator) and the share
    of ratios ``r`` outside ``[1 - eps, 1 + eps]``, over inputs of any (matching) shape."""
    log_ratio = logprob - old_logprob
    ratio = log_ratio.exp()
    approx_kl = ((ratio - 1) - log_ratio).mean()
    clip_fraction = ((ratio - 1).abs() > clip_coef).float().mean()
    return approx_kl, clip_fraction


def evaluate_actions(
    net: ActorCritic, obs: Tensor, action: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """log pi(action | obs) (B,), the policy's distribution (``ActorCritic.evaluate``) and
    V(obs) (B,): the update's one forward, one encoder pass (under torchrun, run by
    DistributedDataParallel, whose backward averages gradients)."""
    return net.evaluate_and_value(obs, action)


class PPOAgent:
    """PPO for Discrete or Box actions, buffering ``num_steps`` transitions per update.

    ``act`` samples an action (one policy forward per step); the actions' log-probabilities
    and the states' values are computed for the whole rollout in one batched forward at
    update time: the parameters do not change during a rollout, so these are the behaviour
    policy's, as if kept at every step.
    """

    Config = PPOConfig
    name = "ppo"
    training_only = ("rollout", "step")
    """``state_dict`` entries only learning needs: ``sandbox.load`` keeps a fresh agent's own
    (the rollout's shape follows ``num_envs``; acting needs the network alone)."""

    def __init__(
        self, env: Env, config: PPOConfig | None = None, *, encoder: nn.Module | None = None
    ) -> None:
        """``encoder``: a user's ``nn.Module`` (with ``out_features``) for the observations,
        instead of the one chosen from the space (``agents/encoders.py``)."""
        self.config = cfg = config or PPOConfig()
        require_action_space("ppo", env, (*CATEGORICAL, spaces.Box))
        self.device, self.num_envs = env_device(env), env.num_envs
        net = ActorCritic(
            env, cfg.num_hiddens, cfg.num_layers, cfg.activation, cfg.net, encoder=encoder
        )
        self.net = net.to(self.device)
        self.params = list(self.net.parameters())  # listed once: .parameters() walks modules
        self.train_net = distributed.wrap(self.net, evaluate_actions)
        self.world_size = distributed.world_size()  # samples: every rank's, for annealing
        # Eager, fused Adam: one kernel steps every parameter. Compiled, the plain loop (which
        # inductor fuses itself), and lr and clip as 0-d tensors set in place at each update:
        # floats would be compiled in as constants, each annealed value compiling again.
        self.lr = torch.tensor(cfg.lr, device=self.device) if cfg.compile else None
        self.clip = torch.tensor(cfg.clip_coef, device=self.device) if cfg.compile else None
        lr = cfg.lr if self.lr is None else self.lr
        kind = dict(foreach=False) if cfg.compile else dict(fused=True)
        self.optimizer = torch.optim.Adam(self.params, lr=lr, eps=1e-5, **kind)
        self._minibatch_loss, self._clip_and_step = self.minibatch_loss, self.clip_and_step
        self.compile_seconds: float | None = None  # the first update's time, compile included
        if cfg.compile:  # acting and GAE stay eager
            failed: dict[str, bool] = {}  # one warning, and the agent all eager, on a failure
            loss, step = "agent 'ppo''s minibatch loss", "agent 'ppo''s clip-and-step"
            self._minibatch_loss = Compiled(self.minibatch_loss, loss, failed)
            self._clip_and_step = Compiled(self.clip_and_step, step, failed)
        T, N = cfg.num_steps, env.num_envs
        obs_space = env.single_observation_space
        obs_shape = obs_space.shape
        # pixels stay uint8 in the rollout (4x less memory); the encoder scales them
        obs_dtype = torch.uint8 if obs_space.dtype == np.uint8 else torch.float32
        action_shape = env.single_action_space.shape
        action_dtype = torch.long if self.net.discrete else torch.float32
        zeros = dict(device=self.device)
        self.rollout = {  # preallocated, filled in place
            "obs": torch.zeros(T, N, *obs_shape, dtype=obs_dtype, **zeros),  # (T, N, *obs)
            # (T, N, *obs): s' really seen
            "next_obs": torch.zeros(T, N, *obs_shape, dtype=obs_dtype, **zeros),
            "action": torch.zeros(T, N, *action_shape, dtype=action_dtype, **zeros),
            "reward": torch.zeros(T, N, **zeros),  # (T, N)
            "terminated": torch.zeros(T, N, dtype=torch.bool, **zeros),  # (T, N)
            "done": torch.zeros(T, N, dtype=torch.bool, **zeros),  # (T, N)
        }
        self.step = 0  # position in the rollout
        self.samples = 0  # samples learned from, for the annealing schedule
        self.budget: int | None = None  # the run's samples, from on_start; None: no annealing

    def on_start(self, run: Any) -> None:
        """Called by the loop before the first step: the run's budget in samples
        (``run.config.steps``), which ``anneal`` decays over. On a resume ``samples`` comes
        back with the state dict, so the schedule continues where it stopped. Without this
        call (an agent driven by hand) nothing anneals."""
        self.budget = run.config.steps

    def act(self, obs: Tensor, *, deterministic: bool = False) -> Tensor:
        """Sample from the policy (its mode when ``deterministic``); the env-ready action."""
        with torch.inference_mode():
            if deterministic:
                return self.net.to_env(self.net.mode(obs))
            return self.net.to_env(self.net.sample(obs))

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """Store one step; after ``num_steps`` of them, run the PPO update."""
        t, i = transition, self.step
        action = self.net.from_env(t.action)  # the env's action, as the policy indexes it
        done = t.terminated | t.truncated  # (N,)
        next_obs = t.next_obs
        if "final_obs" in t.info:  # after autoreset s' is the final obs, not the reset obs
            mask = done.view(-1, *[1] * (next_obs.dim() - 1))
            next_obs = torch.where(mask, t.info["final_obs"], next_obs)
        r = self.rollout
        r["obs"][i], r["next_obs"][i], r["action"][i] = t.obs, next_obs, action
        r["reward"][i], r["terminated"][i], r["done"][i] = t.reward.detach(), t.terminated, done
        self.step += 1
        self.samples += self.num_envs * self.world_size
        if self.step < self.config.num_steps:
            return {}
        self.step = 0
        return self.update()

    def next_values(self, value: Tensor) -> Tensor:
        """V(s') (T, N) of the stored rollout, given V(s) (T, N): s'_t is s_{t+1} unless the
        episode ended at t (s'_t is then its final obs) or t is the rollout's last step, so
        only the rows where s'_t differs from s_{t+1} go through the network again (a
        compare of the stored observations tells them; one host read of their count)."""
        r = self.rollout
        T, N = value.shape
        same = torch.zeros(T, N, dtype=torch.bool, device=value.device)  # (T, N)
        if T > 1:
            same[:-1] = (r["next_obs"][:-1] == r["obs"][1:]).reshape(T - 1, N, -1).all(-1)
        next_value = torch.cat([value[1:], value[-1:]])  # (T, N): V(s_{t+1}) where same
        rows = (~same).flatten().nonzero().squeeze(1)  # (K,) the rest
        fresh = self.net.value(r["next_obs"].flatten(0, 1)[rows])  # (K,)
        return next_value.flatten().index_copy(0, rows, fresh).view(T, N)

    def update(self) -> dict[str, Tensor]:
        """GAE over the stored rollout, then minibatch epochs on the clipped objective."""
        cfg, r = self.config, self.rollout
        T, N = r["reward"].shape
        progress = min(self.samples / self.budget, 1.0) if cfg.anneal and self.budget else 0.0
        lr, clip_coef = cfg.lr * (1 - progress), cfg.clip_coef * (1 - progress)
        started = time.perf_counter() if cfg.compile and self.compile_seconds is None else None
        if self.lr is not None and self.clip is not None:  # compiled: the same tensors, refilled
            self.lr.fill_(lr)
            self.clip.fill_(clip_coef)
        for group in self.optimizer.param_groups:  # (a checkpoint's load sets its own lr)
            group["lr"] = lr if self.lr is None else self.lr

        b_obs, b_action = r["obs"].flatten(0, 1), r["action"].flatten(0, 1)  # (B, ...)
        # 1. the behaviour policy's log-probabilities and V(s) in one forward, V(s') from
        # them, then advantages and returns
        with torch.no_grad():
            b_logprob, _, value = self.net.evaluate_and_value(b_obs, b_action)  # (B,) each
            value = value.view(T, N)
            next_value = self.next_values(value)  # (T, N)
            advantage = compute_gae(
                r["reward"],
                value,
                next_value,
                r["terminated"],
                r["done"],
                cfg.gamma,
                cfg.gae_lambda,
            )  # (T, N)
            returns = advantage + value
        b_value, b_advantage, b_returns = value.flatten(), advantage.flatten(), returns.flatten()

        # 2. minibatch epochs
        batch_size = T * N
        mb_size = max(batch_size // cfg.num_minibatches, 1)
        # advantages normalised per minibatch; one minibatch is the whole batch: once, here
        norm_each = cfg.norm_adv and 1 < mb_size < batch_size
        if cfg.norm_adv and mb_size == batch_size > 1:
            b_advantage = normalize(b_advantage)
        # Per step, references only: the statistics SB3 logs (means over the steps) are
        # computed once at the end, from everything stacked, not at every step.
        steps: dict[str, list[Tensor]] = {k: [] for k in ("pg", "v", "dist", "logp", "old")}
        batch = (b_obs, b_action, b_logprob, b_advantage, b_value, b_returns)  # (B, ...) each
        clip = clip_coef if self.clip is None else self.clip
        for _ in range(cfg.num_epochs):
            # One minibatch is the whole batch, whose mean loss ignores order: no shuffle,
            # and slices are views (no gather per step).
            perm = torch.randperm(batch_size, device=self.device) if mb_size < batch_size else None
            for start in range(0, batch_size - mb_size + 1, mb_size):
                mb = slice(None) if perm is None else perm[start : start + mb_size]  # (M,)
                minibatch = [x[mb] for x in batch]  # (M, ...) each
                loss, pg_loss, v_loss, dist, logprob = self._minibatch_loss(
                    minibatch, clip, norm_each
                )
                if not self.net.discrete:  # a view of the log-std, which the step below
                    dist = dist.detach().clone()  # changes in place: this step's own, now
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self._clip_and_step()
                record = (pg_loss, v_loss, dist, logprob, minibatch[2])  # [2]: old logprob
                for values, x in zip(steps.values(), record, strict=True):
                    values.append(x.detach())
            if cfg.target_kl is not None:
                # every rank takes the same decision (the ranks' mean KL of the epoch's last
                # minibatch), or DDP would wait forever
                approx_kl, _ = ratio_stats(logprob, minibatch[2], clip_coef)
                if float(distributed.all_reduce_mean(approx_kl)) > 1.5 * cfg.target_kl:
                    break

        # 3. what SB3 logs: means over the minibatch steps
        with torch.no_grad():
            pg_loss, v_loss = torch.stack(steps["pg"]).mean(), torch.stack(steps["v"]).mean()
            entropy_loss = -self.net.entropy(torch.stack(steps["dist"])).mean()
            approx_kl, clip_fraction = ratio_stats(
                torch.stack(steps["logp"]), torch.stack(steps["old"]), clip_coef
            )
            loss = pg_loss + cfg.vf_coef * v_loss + cfg.ent_coef * entropy_loss
        # 1 - Var[G - V] / Var[G]; undefined when every return is equal (a bandit that pays
        # the same to all): reported as 0 there, where SB3's NaN would stop the run.
        var_returns = b_returns.var()
        explained_variance = torch.where(
            var_returns > 0, 1 - (b_returns - b_value).var() / var_returns, 0.0
        )
        metrics = {
            "train/policy_gradient_loss": pg_loss,
            "train/value_loss": v_loss,
            "train/entropy_loss": entropy_loss,
            "train/approx_kl": approx_kl,
            "train/clip_fraction": clip_fraction,
            "train/loss": loss,
            "train/explained_variance": explained_variance,
            "train/learning_rate": torch.tensor(lr, device=self.device),
            "train/clip_range": torch.tensor(clip_coef, device=self.device),
        }
        if not self.net.discrete:
            metrics["train/std"] = self.net.log_std.detach().exp().mean()
        if started is not None:  # the first update: what compiling cost, once a run
            self.compile_seconds = time.perf_counter() - started
            metrics["time/compile_s"] = torch.tensor(self.compile_seconds, device=self.device)
        return metrics

    def minibatch_loss(
        self, minibatch: list[Tensor], clip_coef: float | Tensor, norm_each: bool
    ) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """The clipped objective on one minibatch (obs, action, old logprob, advantage, old
        value, returns; (M, ...) each): the loss to minimise, and what SB3 logs of the step,
        ``(loss, pg_loss, v_loss, dist, logprob)``."""
        cfg = self.config
        obs, action, old_logprob, advantage, old_value, returns = minibatch
        logprob, dist, value = self.train_net(obs, action)
        advantage = normalize(advantage) if norm_each else advantage
        pg_loss, v_loss = ppo_loss(
            logprob, old_logprob, advantage, value, old_value, returns, clip_coef, cfg.clip_vloss
        )
        loss = pg_loss + cfg.vf_coef * v_loss
        if cfg.ent_coef:  # a zero-weight term would still cost its backward pass
            loss = loss - cfg.ent_coef * self.net.entropy(dist).mean()
        return loss, pg_loss, v_loss, dist, logprob

    def clip_and_step(self) -> None:
        """Clip the gradients' global norm to ``max_grad_norm``, then the Adam step."""
        torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        """Network, optimizer, the partial rollout and counters: an exact resume."""
        return {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            # the rows filled so far: all an exact resume needs (none at a rollout's end,
            # where a run of whole rollouts stops: pixels would weigh tens of MB)
            "rollout": {k: v[: self.step].clone() for k, v in self.rollout.items()},
            "step": self.step,
            "samples": self.samples,
            "config": dataclasses.asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``."""
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        for key, buffer in self.rollout.items():  # (older checkpoints also hold "logprob")
            saved = state["rollout"][key]  # (step, N, ...); older checkpoints: (T, N, ...)
            buffer[: len(saved)].copy_(saved)
        self.step, self.samples = state["step"], state["samples"]
