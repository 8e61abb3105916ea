"""The GAN game (Goodfellow et al. 2014, d2l §20.1) as a turn-based two-player env.

A round, as in the usual alternating training loop: the generator observes noise and acts
with a batch of samples; the discriminator observes real + detached fake and acts with one
logit per sample, rewarded ``-(BCE(D(real), 1) + BCE(D(fake), 0))``; then it scores the
attached fake, and the generator is rewarded ``-BCE(D(fake), 1)`` (the non-saturating loss).
Rewards keep their graphs, so two plain gradient learners play it; the generator's gradient
reaches it through the discriminator's action. A round consumes ``num_envs`` real samples.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from torch import Tensor

from envs.gan_eval import frechet_distance
from envs.sampler import Sampler
from sandbox.device import canonical_device
from sandbox.errors import ActionError, NonFiniteError, UsageError
from sandbox.multi import PlayerView
from sandbox.spaces import ActionChecker

PLAYERS = ["generator", "discriminator"]


@dataclass(frozen=True)
class GANConfig:
    """Options of every GAN game."""

    latent_dim: int = 16
    """Size of the generator's noise vector."""
    test_fraction: float = 0.2
    """Share of the real samples held out for evaluation."""
    eval_samples: int = 1000
    """Generated samples per evaluation (from fixed noise)."""
    data_seed: int = 0
    """Seed of the data, the split and the evaluation noise (not of the training noise)."""

    def __post_init__(self) -> None:
        if self.latent_dim < 1 or self.eval_samples < 2:
            raise ValueError(
                f"latent_dim must be >= 1 and eval_samples >= 2, "
                f"got {self.latent_dim} and {self.eval_samples}"
            )
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must be in (0, 1), got {self.test_fraction}")


def discriminator_reward(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``-(BCE(D(real), 1) + BCE(D(fake), 0))`` per sample: (N,), (N,) -> (N,).

    Example:
        >>> r = discriminator_reward(torch.zeros(2), torch.zeros(2))  # D unsure: 2 log 1/2
        >>> torch.allclose(r, torch.full((2,), -2 * torch.log(torch.tensor(2.0))))
        True
    """
    # -BCE(x, 1) = log sigmoid(x) and -BCE(x, 0) = log sigmoid(-x): two fused, stable ops.
    return F.logsigmoid(real_logits) + F.logsigmoid(-fake_logits)


def generator_reward(fake_logits: Tensor) -> Tensor:
    """``-BCE(D(fake), 1) = log sigmoid(D(fake))`` per sample, non-saturating: (N,) -> (N,).

    Example:
        >>> x = torch.tensor([-3.0, 0.0, 5.0])
        >>> bce = torch.nn.functional.binary_cross_entropy_with_logits
        >>> torch.allclose(generator_reward(x), -bce(x, torch.ones(3), reduction="none"))
        True
    """
    return F.logsigmoid(fake_logits)


def player_spaces(
    latent_dim: int, shape: tuple[int, ...], bounds: tuple[float, float] | None
) -> dict[str, tuple[spaces.Box, spaces.Box]]:
    """Per player, one sample's (observation space, action space)."""
    low, high = bounds if bounds is not None else (-np.inf, np.inf)
    sample = spaces.Box(low, high, shape, np.float32)
    return {
        "generator": (spaces.Box(-np.inf, np.inf, (latent_dim,), np.float32), sample),
        "discriminator": (sample, spaces.Box(-np.inf, np.inf, (), np.float32)),
    }


class GANGame:
    """Any tensor of real samples as the two-player GAN game (``sandbox.multi.MultiAgentEnv``).

    Turns per round: ``generator`` (noise ``(N, latent)`` -> samples ``(N, *shape)``),
    ``discriminator`` (real then fake ``(2N, *shape)`` -> logits ``(2N,)``), ``discriminator``
    again (the attached fake ``(N, *shape)`` -> logits ``(N,)``). Evaluation: the Fréchet
    distance of generated to held-out samples (in ``features`` space; raw samples here).

    Args:
        real: the real samples ``(n, *shape)``, scaled to ``bounds`` if bounds are given.
        num_envs: samples per round (the batch of both players).
        device: where everything lives; the data moves there once.
        bounds: the samples' range ``(low, high)``, or ``None`` for unbounded samples.
        split: ``"train"`` or ``"test"`` (the held-out share, for evaluation).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}
    RESERVED_KWARGS = ("split",)
    possible_agents = PLAYERS
    Config = GANConfig

    def __init__(
        self,
        real: Tensor,
        num_envs: int = 64,
        *,
        device: str | torch.device = "cpu",
        bounds: tuple[float, float] | None = None,
        split: str = "train",
        config: GANConfig | None = None,
    ) -> None:
        self.config = cfg = config or GANConfig()
        real = torch.as_tensor(real, dtype=torch.float32)
        if real.ndim < 2 or len(real) < 4:
            raise UsageError(f"real samples must be (n >= 4, *shape), got {tuple(real.shape)}")
        if split not in ("train", "test"):
            raise UsageError(f"split must be 'train' or 'test', got {split!r}")
        self.device = canonical_device(device)
        self.num_envs, self.split = num_envs, split
        self.agents = list(PLAYERS)
        self.spec = None
        perm = torch.randperm(len(real), generator=torch.Generator().manual_seed(cfg.data_seed))
        num_test = max(2, round(len(real) * cfg.test_fraction))
        self._parts = {"train": perm[num_test:], "test": perm[:num_test]}
        self._all = real  # every split stays on the CPU; the used one is copied once
        self._use_split(split)
        self.bounds = bounds
        self._spaces = player_spaces(cfg.latent_dim, tuple(real.shape[1:]), bounds)
        logit = self._spaces["discriminator"][1]
        self._checks = [  # turn -> (checker, what the action is)
            (ActionChecker(self._spaces["generator"][1], num_envs, self.device), "samples"),
            (ActionChecker(logit, 2 * num_envs, self.device), "scores of real + fake"),
            (ActionChecker(logit, num_envs, self.device), "scores of the fake"),
        ]
        # Unbounded logits: reading them would sync with the device each turn for nothing;
        # a NaN score makes a NaN reward, caught by the loop's per-interval check (as on GPU).
        for check, _ in self._checks[1:]:
            check.check_values = False
        self.rewards: dict[str, Tensor] = {}
        self.infos: dict[str, dict[str, Any]] = {p: {} for p in PLAYERS}
        self.reset()

    def _use_split(self, split: str) -> None:
        train = split == "train"
        X = self._all[self._parts[split]]  # (n_split, *shape)
        self.sampler = Sampler((X,), self.num_envs, device=self.device, shuffle=train, strict=train)
        self.split, self.X = split, self.sampler.tensors[0]

    # --- the turn-based API ---------------------------------------------------------------
    def observation_space(self, agent: str) -> spaces.Box:
        """One sample's observation of ``agent``."""
        return self._spaces[agent][0]

    def action_space(self, agent: str) -> spaces.Box:
        """One sample's action of ``agent``."""
        return self._spaces[agent][1]

    def player_view(self, agent: str) -> PlayerView:
        """The single-agent face of ``agent``: what its agent's constructor reads."""
        obs, act = self._spaces[agent]
        return PlayerView(obs, act, self.num_envs, self.device)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Start a new game at round 0 (reseeding the noise and batch order if ``seed``)."""
        self.sampler.reset(seed)
        self.round = 0
        self._new_round()

    def observe(self, agent: str) -> Tensor:
        """The generator's noise; the discriminator's real + fake (or, on its 2nd turn, fake)."""
        return self._noise if agent == "generator" else self._disc_obs

    def last(self) -> tuple[Tensor, Tensor | None, bool, bool, dict[str, Any]]:
        """AEC's ``last``: the selected player's observation and the reward of its last action."""
        agent = self.agent_selection
        return self.observe(agent), self.rewards.get(agent), False, False, self.infos[agent]

    def step(self, action: Tensor) -> None:
        """Apply the selected player's action; ``rewards`` then holds what this turn revealed."""
        self._check(action)
        n = self.num_envs
        if self._turn == 0:  # the generator's samples
            self._fake = action
            self._disc_obs = torch.cat([self._real, action.detach()])  # (2N, *shape)
            self.rewards = {}
            self.agent_selection, self._turn = "discriminator", 1
        elif self._turn == 1:  # the discriminator's scores of real + detached fake
            self.rewards = {"discriminator": discriminator_reward(action[:n], action[n:])}
            self._disc_obs, self._turn = self._fake, 2  # next: the attached fake
        else:  # the discriminator's scores of the attached fake: the generator's reward
            self.rewards = {"generator": generator_reward(action)}
            self.round += 1
            self._new_round()

    def _check(self, action: Tensor) -> None:
        check, what = self._checks[self._turn]
        try:
            check(action)
        except ActionError as e:
            who = f"round {self.round}: the {self.agent_selection}'s {what}"
            if action.shape == check.shape and not bool(torch.isfinite(action.detach()).all()):
                raise NonFiniteError(f"{who} hold NaN/inf values: the game diverged") from None
            raise ActionError(f"{who}: {e}") from None

    def shard(self, rank: int, world_size: int) -> None:
        """Play this rank's slice of each global round (a data-parallel run).

        Every rank draws the same order (``Sampler.shard``) and noise for ``world_size *
        num_envs`` samples a round and takes rows ``[rank N, (rank + 1) N)``: together, one
        process's round.
        """
        self.sampler.shard(rank, world_size)

    def _new_round(self) -> None:
        (self._real,) = self.sampler.next_batch()  # (N, *shape)
        n, rank, world_size = self.num_envs, self.sampler.rank, self.sampler.world_size
        shape = (n * world_size, self.config.latent_dim)  # every rank's noise, drawn alike
        # the noise comes from the batch order's generator: one stream, saved with the order
        noise = torch.randn(shape, generator=self.sampler.generator, device=self.device)
        self._noise = noise[rank * n : (rank + 1) * n]  # (N, latent)
        self._disc_obs = self._real  # before the generator acts, only the real batch is there
        self.agent_selection, self._turn = "generator", 0

    # --- evaluation, media, resume --------------------------------------------------------
    def pettingzoo_env(self) -> Any:
        """This game as a NumPy PettingZoo AEC env (``envs/pettingzoo_view.py``)."""
        # imported here: PettingZoo is an optional (dev) dependency; the view needs no GANGame
        from envs.pettingzoo_view import GANGameAEC

        return GANGameAEC(self)

    def eval_env(self) -> GANGame:
        """The held-out game the loop evaluates on: the test split, fixed noise."""
        other = copy.copy(self)
        other._use_split("test")
        g = torch.Generator(self.device).manual_seed(self.config.data_seed + 1)
        shape = (self.config.eval_samples, self.config.latent_dim)
        other._eval_noise = torch.randn(shape, generator=g, device=self.device)  # (M, latent)
        return other

    def features(self, x: Tensor) -> Tensor:
        """The space the Fréchet distance is measured in: flattened samples ``(n, d)``."""
        return x.flatten(1)

    @torch.inference_mode()
    def score(self, policies: dict[str, Any]) -> dict[str, Tensor]:
        """``{"score": -frechet, "frechet"}`` of the generator's samples from fixed noise."""
        fake = policies["generator"](self._eval_noise)  # (M, *shape)
        frechet = frechet_distance(self.features(fake), self.features(self.X))
        return {"score": -frechet, "frechet": frechet}

    @torch.inference_mode()
    def media(self, agents: dict[str, Any]) -> dict[str, Tensor]:
        """``{"samples": (64, C, H, W)}``: the generator's images from fixed noise, in [0, 1]."""
        fake = agents["generator"].act(self._eval_noise[:64], deterministic=True)
        if fake.ndim != 4 or self.bounds is None:
            return {}
        low, high = self.bounds
        return {"samples": ((fake - low) / (high - low)).clamp(0, 1)}

    def state_dict(self) -> dict[str, Any]:
        """Batch order and noise generator, the round and its noise (saved between rounds)."""
        if self._turn != 0:
            raise RuntimeError("a GAN game is saved between rounds, not in the middle of one")
        return {"sampler": self.sampler.state_dict(), "round": self.round, "noise": self._noise}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``: the next round is the one the saved game would have played."""
        self.sampler.load_state_dict(state["sampler"])
        (self._real,) = self.sampler.batch()
        self.round, self._noise = state["round"], state["noise"].to(self.device)
        self._disc_obs = self._real
        self.agent_selection, self._turn = "generator", 0

    @property
    def unwrapped(self) -> GANGame:
        """Gymnasium's ``make_vec`` sets ``spec`` on it."""
        return self

    def close(self) -> None:
        """Nothing to release."""
