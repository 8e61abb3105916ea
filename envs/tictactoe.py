"""Tic-tac-toe, torch-native and batched: ``N`` boards stepped together on the env's device.

The same game as PettingZoo's ``classic.tictactoe_v3``, move for move (tests/test_games.py):
squares 0..8 row-major, ``player_1`` (X) moves first, observations ``(3, 3, 2)`` planes of the
observer's marks then the opponent's, +1/-1 to winner/loser and 0 each on a draw. A round is
two turns (X then O); rewards of a round are revealed after its last turn, together with
``terminated`` (the boards whose game ended in it), and those boards start afresh. A board whose
game ended on X's move sits out O's turn (its action is ignored). Illegal moves are refused;
a player may ``resign`` instead (an illegal move's forfeit in ``envs/board.py``).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
import torch
from torch import Tensor

from sandbox.errors import UsageError
from sandbox.multi import PlayerView

# The 8 lines of three squares: (8, 3) indices into the flat board.
LINES = torch.tensor(
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8], [2, 4, 6]]
)


class TicTacToe:
    """``N`` tic-tac-toe boards as one ``MultiAgentEnv`` with action masks.

    Args:
        num_envs: boards played together.
        device: where the boards live.

    Example:
        >>> game = TicTacToe(4)
        >>> game.reset(seed=0)
        >>> game.observe("player_1").shape, game.action_mask("player_1").shape
        (torch.Size([4, 3, 3, 2]), torch.Size([4, 9]))
    """

    possible_agents = ["player_1", "player_2"]

    def __init__(self, num_envs: int = 1, device: str | torch.device = "cpu") -> None:
        self.num_envs, self.device = num_envs, torch.device(device)
        self.agents = list(self.possible_agents)
        self._obs_space = gymnasium.spaces.Box(0, 1, (3, 3, 2), np.float32)
        self._act_space = gymnasium.spaces.Discrete(9)
        self.lines = LINES.to(self.device)
        self.board = torch.zeros(num_envs, 9, dtype=torch.int8, device=self.device)  # (N, 9)
        self.final_board = self.board.clone()  # (N, 9): the boards as the last round left them
        self.over = torch.zeros(num_envs, dtype=torch.bool, device=self.device)  # (N,)
        self._round_reward = torch.zeros(2, num_envs, device=self.device)  # (players, N)
        self.rewards: dict[str, Tensor] = {}
        self.terminated = torch.zeros_like(self.over)
        self.agent_selection = "player_1"

    def player_view(self, agent: str) -> PlayerView:
        """One board's spaces for ``agent`` (both players see the same shapes)."""
        return PlayerView(self._obs_space, self._act_space, self.num_envs, self.device)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        """Empty every board; X's turn (tic-tac-toe draws nothing at random: seed unused)."""
        self.board.zero_()
        self.over.zero_()
        self._round_reward.zero_()
        self.rewards, self.agent_selection = {}, "player_1"

    def observe(self, agent: str) -> Tensor:
        """``(N, 3, 3, 2)`` float: ``agent``'s marks, then its opponent's."""
        return self._planes(self.board, agent)

    def observe_final(self, agent: str) -> Tensor:
        """``(N, 3, 3, 2)``: ``observe`` as the last round ended (finished boards not restarted)."""
        return self._planes(self.final_board, agent)

    def _planes(self, board: Tensor, agent: str) -> Tensor:
        me = self.possible_agents.index(agent) + 1
        planes = torch.stack([board == me, board == 3 - me], -1)  # (N, 9, 2)
        return planes.view(-1, 3, 3, 2).float()

    def action_mask(self, agent: str) -> Tensor:
        """``(N, 9)`` bool: the empty squares where it is ``agent``'s turn; any square elsewhere."""
        if agent != self.agent_selection:
            return torch.zeros(self.num_envs, 9, dtype=torch.bool, device=self.device)
        return (self.board == 0) | self.over[:, None]  # a finished board ignores the move

    def resign(self, rows: Tensor) -> None:
        """The selected player gives up the games of ``rows`` ``(N,)`` bool still on: -1 to it,
        +1 to the other, revealed at the round's end like any ending; its move there is ignored."""
        turn = self.possible_agents.index(self.agent_selection)
        rows = rows.to(self.device) & ~self.over
        self._round_reward[turn] -= rows.float()
        self._round_reward[1 - turn] += rows.float()
        self.over |= rows

    def step(self, action: Tensor) -> None:
        """Mark the selected player's squares ``(N,)``; reveal the round's rewards after O."""
        turn = self.possible_agents.index(self.agent_selection)
        action = action.to(self.device).long().view(self.num_envs, 1)  # (N, 1)
        playing = ~self.over  # (N,)
        legal = self.board.gather(1, action).squeeze(1) == 0
        if not bool((legal | ~playing).all()):
            raise UsageError(f"{self.agent_selection} chose an occupied square (use action_mask)")
        mark = torch.where(playing, turn + 1, 0).to(torch.int8)[:, None]  # (N, 1)
        self.board.scatter_(1, action, torch.maximum(self.board.gather(1, action), mark))
        won = (self.board[:, self.lines] == turn + 1).all(-1).any(-1) & playing  # (N,)
        full = (self.board != 0).all(-1) & playing
        self._round_reward[turn] += won.float()
        self._round_reward[1 - turn] -= won.float()
        self.over |= won | full
        self.rewards = {}
        if turn == 1:  # the round's end: reveal, then start the finished boards afresh
            self.rewards = dict(zip(self.possible_agents, self._round_reward.clone(), strict=True))
            self.terminated = self.over.clone()
            self.final_board.copy_(self.board)
            self.board[self.over] = 0
            self.over.zero_()
            self._round_reward.zero_()
        self.agent_selection = self.possible_agents[1 - turn]

    def render_text(self, index: int = 0) -> str:
        """Board ``index`` as three lines of X, O and dots."""
        marks = ".XO"
        squares = [marks[int(v)] for v in self.board[index].tolist()]
        return "\n".join("".join(squares[r * 3 : r * 3 + 3]) for r in range(3))
