"""Opponents for board games: a uniformly random player and a simple scripted one.

Both read the legal moves from the game (``game.action_mask(player)``, ``(N, A)`` bool), so
neither ever plays an illegal move. The scripted player takes a winning square if it has one,
else blocks the opponent's, else plays at random (tic-tac-toe only: it reads ``game.board``).
Neither learns: they are the fixed yardsticks of ``play_games``' win/draw/loss rates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from sandbox.errors import UsageError


class RandomPlayer:
    """Plays a uniformly random legal move in every copy."""

    def __init__(self, game: Any, player: str, seed: int = 0) -> None:
        if player not in game.possible_agents:
            raise UsageError(
                f"this game has the seats {', '.join(game.possible_agents)}; got {player!r}"
            )
        self.game, self.player = game, player
        self.generator = torch.Generator(device=game.device).manual_seed(seed)

    def act(self, obs: Tensor) -> Tensor:
        """``(N,)`` long: one legal square per copy."""
        mask = self.game.action_mask(self.player).float()  # (N, A)
        return torch.multinomial(mask, 1, generator=self.generator).squeeze(1)

    def learn(self, t: Any) -> dict[str, Tensor]:
        """Nothing to learn."""
        return {}


class ScriptedPlayer(RandomPlayer):
    """Win if one move wins, else block the opponent's winning move, else random (tic-tac-toe)."""

    def act(self, obs: Tensor) -> Tensor:
        """``(N,)`` long: the winning, the blocking, or a random legal square."""
        if not hasattr(self.game, "board"):
            raise UsageError("the scripted opponent plays tic-tac-toe only (sandbox TicTacToe)")
        mask = self.game.action_mask(self.player)  # (N, 9)
        score = torch.rand(mask.shape, generator=self.generator, device=mask.device)  # (N, 9)
        me = self.game.possible_agents.index(self.player) + 1
        score += 2 * self._completes(me) + 1 * self._completes(3 - me)  # win > block > random
        return score.masked_fill(~mask, -1.0).argmax(1)

    def _completes(self, mark: int) -> Tensor:
        """``(N, 9)`` float: 1 where ``mark`` playing that empty square makes three in a line."""
        board, lines = self.game.board, self.game.lines  # (N, 9), (8, 3)
        cells = board[:, lines]  # (N, 8, 3)
        two = ((cells == mark).sum(-1) == 2) & ((cells == 0).sum(-1) == 1)  # (N, 8)
        empty = (cells == 0) & two[..., None]  # (N, 8, 3): the line's missing square
        out = torch.zeros(board.shape, device=board.device)
        out.scatter_add_(
            1,
            lines.expand(len(board), -1, -1).reshape(len(board), -1),
            empty.reshape(len(board), -1).float(),
        )
        return (out > 0).float()


def play_games(
    game: Any, players: dict[str, Any], num_games: int, seed: int = 0
) -> dict[str, float]:
    """Play until ``num_games`` games ended; each seat's win, draw and loss rates.

    Returns:
        ``{"<seat>_win": ..., "<seat>_draw": ..., "<seat>_loss": ...}`` as fractions.
    """
    game.reset(seed=seed)
    totals = {p: torch.zeros(3) for p in game.possible_agents}  # win, draw, loss counts
    played = 0
    while played < num_games:
        player = game.agent_selection
        game.step(players[player].act(game.observe(player)))
        if game.rewards:  # a round ended
            done = game.terminated.cpu()
            for p, r in game.rewards.items():
                r = r.cpu()[done]
                totals[p] += torch.stack([(r > 0).sum(), (r == 0).sum(), (r < 0).sum()]).float()
            played += int(done.sum())
    return {
        f"{p}_{k}": float(v[i] / v.sum())
        for p, v in totals.items()
        for i, k in enumerate(("win", "draw", "loss"))
    }


class PastSelf(RandomPlayer):
    """A seat played by the learner's past selves (self-play), one drawn from ``pool`` per game.

    ``pool`` is a list of agents (snapshots of the learner) that the game's owner fills; each
    copy keeps its draw until its game ends (``new_games``). A past self's illegal move is
    replaced by a random legal one, so the learner always meets a legal game; with an empty
    pool (no learner seen yet) every move is random.
    """

    def __init__(
        self,
        game: Any,
        player: str,
        pool: list[Any],
        seed: int = 0,
        view: Callable[[Tensor, Tensor], Tensor] | None = None,
        fixed: Tensor | None = None,
    ) -> None:
        """``view(obs, mask)``: what the learner sees (the board env's ``LearnerView``), so that
        a past self acts on what it was trained on; ``None``: the raw observation.
        ``fixed`` ``(N,)`` long: the past self of each copy, for good (an evaluation's
        per-member games), instead of a draw per game."""
        super().__init__(game, player, seed)
        self.pool, self.view, self.fixed = pool, view, fixed is not None
        zeros = torch.zeros(game.num_envs, dtype=torch.long, device=game.device)
        self.which = fixed if fixed is not None else zeros  # (N,)

    def new_games(self, rows: Tensor) -> None:
        """Draw a past self for the copies ``rows`` ``(N,)`` bool whose new game starts."""
        if self.pool and not self.fixed:
            drawn = torch.randint(
                len(self.pool), rows.shape, generator=self.generator, device=rows.device
            )
            self.which = torch.where(rows, drawn, self.which)

    def act(self, obs: Tensor) -> Tensor:
        """``(N,)`` long: each copy's past self's move, or a random legal one."""
        anyone = super().act(obs)  # (N,) a random legal move
        if not self.pool:
            return anyone
        if self.view is not None:
            obs = self.view(obs, self.game.action_mask(self.player))
        moves = torch.stack([past.act(obs).long() for past in self.pool])  # (P, N)
        move = moves.gather(0, self.which.clamp(max=len(self.pool) - 1)[None]).squeeze(0)
        legal = self.game.action_mask(self.player).gather(1, move[:, None]).squeeze(1)
        return torch.where(legal, move, anyone)
