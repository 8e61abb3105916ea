"""Any PettingZoo AEC or Parallel env as a batched sandbox game (the Gymnasium adapter's twin).

``N`` copies of the env step together. Turns go round ``possible_agents`` in order; a copy acts
in a turn when its own ``agent_selection`` is that player and its game is still on (otherwise
the row's action is ignored). Observations are torch tensors ``(N, *obs)``; a Dict observation's
``action_mask`` becomes ``action_mask(agent)`` ``(N, A)`` bool and an illegal move is refused
before it reaches the env. Each round's rewards (summed per player over its turns) are revealed
after its last turn, with ``terminated`` for the copies whose game ended, which then restart
(``observe_final`` keeps their last observations). A player may ``resign`` a copy's game.
A Parallel env enters through ``pettingzoo.utils.parallel_to_aec``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import torch
from torch import Tensor

from sandbox.errors import UsageError
from sandbox.multi import PlayerView


def env_creator(name: str) -> Callable[[], Any]:
    """The callable that makes one raw env: ``pkg.mod`` (its ``env``) or ``pkg.mod:callable``.

    A module that fails to import for want of a dependency names the pip extra to install.
    """
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name == "pettingzoo":
            raise UsageError(
                f"env {module_name!r} needs the optional package 'pettingzoo', which is not "
                "installed: pip install -e .[games]"
            ) from None
        if e.name and module_name.startswith(e.name + ".") or e.name == module_name:
            raise UsageError(
                f"no PettingZoo env module {module_name!r} (expected e.g. "
                "pettingzoo.classic.tictactoe_v3)"
            ) from None
        family = module_name.split(".")[1] if module_name.startswith("pettingzoo.") else ""
        extra = f"pettingzoo[{family}]" if family else f"the package that provides {e.name}"
        raise UsageError(f"{module_name} needs {e.name!r}: pip install '{extra}'") from None
    creator = getattr(module, attr or "env", None)
    if not callable(creator):
        raise UsageError(f"{module_name} has no callable {attr or 'env'!r} that makes an env")
    return creator


def to_aec(raw: Any) -> Any:
    """An AEC env from an AEC or a Parallel one."""
    from pettingzoo import AECEnv, ParallelEnv
    from pettingzoo.utils import parallel_to_aec

    if isinstance(raw, ParallelEnv):
        return parallel_to_aec(raw)
    if not isinstance(raw, AECEnv):
        raise UsageError(f"expected a PettingZoo AECEnv or ParallelEnv, got {type(raw).__name__}")
    return raw


class PettingZooGame:
    """``num_envs`` copies of a PettingZoo env as one batched ``MultiAgentEnv``.

    Args:
        make_env: makes one raw AEC or Parallel env.
        num_envs: copies stepped together.
        device: where observations, masks and rewards live.

    Example:
        >>> game = PettingZooGame(env_creator("pettingzoo.classic.tictactoe_v3"), 2)
        >>> game.reset(seed=0)
        >>> game.agent_selection, game.observe("player_1").shape
        ('player_1', torch.Size([2, 3, 3, 2]))
    """

    def __init__(
        self, make_env: Callable[[], Any], num_envs: int = 1, device: str | torch.device = "cpu"
    ):
        self._make_env = make_env
        self.envs = [to_aec(make_env()) for _ in range(num_envs)]
        self.num_envs, self.device = num_envs, torch.device(device)
        self.possible_agents = list(self.envs[0].possible_agents)
        self.agents = list(self.possible_agents)
        self._views = {a: self._view(a) for a in self.possible_agents}
        self.rewards: dict[str, Tensor] = {}
        self.terminated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        self.agent_selection = self.possible_agents[0]
        self._resigned = np.zeros(num_envs, bool)  # (N,): given up, to restart at the round's end
        self._final: dict[int, dict[str, Any]] = {}  # copy -> raw obs by player, as it ended

    def _view(self, agent: str) -> PlayerView:
        obs_space = self.envs[0].observation_space(agent)
        self._masked = isinstance(obs_space, gymnasium.spaces.Dict)
        if self._masked:
            obs_space = obs_space["observation"]
        return PlayerView(obs_space, self.envs[0].action_space(agent), self.num_envs, self.device)

    def player_view(self, agent: str) -> PlayerView:
        """One copy's spaces for ``agent``; unknown players are one line."""
        if agent not in self._views:
            raise UsageError(
                f"this game has the seats {', '.join(self.possible_agents)}; got {agent!r}"
            )
        return self._views[agent]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Reset every copy (copy ``i`` with ``seed + i``); the first player's turn."""
        for i, env in enumerate(self.envs):
            env.reset(seed=None if seed is None else seed + i, options=options)
        self._round = np.zeros((len(self.possible_agents), self.num_envs), np.float32)
        self._resigned[:] = False
        self.rewards, self.agent_selection = {}, self.possible_agents[0]

    def _over(self, i: int) -> bool:
        env = self.envs[i]
        if self._resigned[i] or not env.agents:
            return True
        return all(env.terminations[a] or env.truncations[a] for a in env.agents)

    def _raw(self, agent: str) -> list[Any]:
        return [env.observe(agent) for env in self.envs]

    def observe(self, agent: str) -> Tensor:
        """``(N, *obs)`` float32: each copy's observation for ``agent``."""
        return self._tensor(self._raw(agent))

    def observe_final(self, agent: str) -> Tensor:
        """``observe`` as the last round ended: a finished copy's last observation."""
        raw = self._raw(agent)
        return self._tensor(
            [self._final[i][agent] if i in self._final else o for i, o in enumerate(raw)]
        )

    def _tensor(self, raw: list[Any]) -> Tensor:
        obs = np.stack([o["observation"] if self._masked else o for o in raw])
        return torch.as_tensor(obs, dtype=torch.float32, device=self.device)

    def action_mask(self, agent: str) -> Tensor:
        """``(N, A)`` bool legal moves; all legal in copies that sit this turn out."""
        space = self._views[agent].single_action_space
        mask = np.ones((self.num_envs, int(space.n)), bool)
        for i, env in enumerate(self.envs):
            if not self._acts(i, agent):
                continue
            if agent != self.agent_selection:
                mask[i] = False
            elif self._masked:
                mask[i] = env.observe(agent)["action_mask"].astype(bool)
        return torch.as_tensor(mask, device=self.device)

    def _acts(self, i: int, agent: str) -> bool:
        return self.envs[i].agent_selection == agent and not self._over(i)

    def resign(self, rows: Tensor) -> None:
        """The selected player gives up the games of ``rows`` ``(N,)`` bool still on: -1 to it,
        the rest shared by the others, revealed at the round's end; its move there is ignored."""
        players, agent = self.possible_agents, self.agent_selection
        for i in np.flatnonzero(rows.cpu().numpy()):
            if self._over(i):
                continue
            self._resigned[i] = True
            for k, p in enumerate(players):
                self._round[k, i] += -1.0 if p == agent else 1.0 / (len(players) - 1)

    def step(self, action: Tensor) -> None:
        """Apply the selected player's ``(N, ...)`` action in the copies where it moves."""
        agent = self.agent_selection
        mask = self.action_mask(agent) if self._masked else None
        actions = action.detach().cpu().numpy()
        players = self.possible_agents
        for i, env in enumerate(self.envs):
            if not self._acts(i, agent):
                continue
            if mask is not None and not mask[i, int(actions[i])]:
                raise UsageError(
                    f"{agent} chose the illegal move {int(actions[i])} in copy {i} "
                    "(use action_mask)"
                )
            env.step(actions[i])
            for p in players:  # env.rewards: the last step's rewards, every agent
                self._round[players.index(p), i] += float(env.rewards.get(p, 0.0))
        self.rewards = {}
        turn = players.index(agent)
        if turn == len(players) - 1:
            self._end_round()
        self.agent_selection = players[(turn + 1) % len(players)]

    def _end_round(self) -> None:
        over = np.array([self._over(i) for i in range(self.num_envs)])
        self.rewards = {
            p: torch.as_tensor(self._round[k].copy(), device=self.device)
            for k, p in enumerate(self.possible_agents)
        }
        self.terminated = torch.as_tensor(over, device=self.device)
        self._final = {
            int(i): {p: self.envs[i].observe(p) for p in self.possible_agents}
            for i in np.flatnonzero(over)
        }
        for i in np.flatnonzero(over):
            self.envs[i].reset()
        self._resigned[:] = False
        self._round[:] = 0.0

    def pettingzoo_env(self) -> Any:
        """A fresh raw env, for PettingZoo's own ``api_test`` (``sandbox check``)."""
        return to_aec(self._make_env())

    def render_text(self, index: int = 0) -> str:
        """Copy ``index`` as text: a board of two planes ``(rows, columns, 2)`` (the first
        player's marks X, the second's O), as ``envs/board.py`` draws it; the env's repr else."""
        from envs.board import board_text

        obs = self.observe(self.possible_agents[0])[index]
        return board_text(obs) if obs.dim() == 3 and obs.shape[-1] == 2 else str(self.envs[index])
