"""A board game seen from its learner's seats: a single-agent vector env whose step plays the rest.

``sandbox run GAME AGENT`` trains one learner through the ordinary loop (DESIGN §3), so the
game gets what every run gets (TensorBoard, checkpoints, ``eval/*``). The learner's sub-envs
are split into one *table* per seat it plays; on each table the other seats are played inside
``step`` by random or scripted opponents or by the learner's past selves (self-play: a pool of
snapshots of the learner, taken every ``pool_every`` samples; each game draws one). A learner
sub-env is one seat's games in a row: its observation is that seat's view at its turn, its
reward the game's outcome for the seat (+1 win, 0 draw, -1 loss) once the game ends.

The learner sees its seat's board and its legal moves: a Dict observation ``{"observation",
"action_mask"}`` travelling flat (``sandbox.spaces.Flattened``), whose mask the RL agents honour
(``agents/policies.py``), so PPO never plays an illegal move. An agent that ignores the mask
may still play one: it forfeits the game (reward -1, as PettingZoo's
``TerminateIllegalWrapper``), so the reward reveals legality to any agent. A seat whose game the
opponents ended must still answer its next turn (the move is ignored) before its loss is
revealed, as a PettingZoo agent steps its last observation.

Evaluation (``score``) plays ``eval_games`` games from empty boards in every learner seat
against the random and (tic-tac-toe) scripted players: ``eval/win_rate_vs_random``,
``draw_rate_vs_random``, ``loss_rate_vs_random``, the same ``_vs_scripted``, ``illegal_rate``
(games lost by an illegal move), and ``eval/score`` = the win rate against random. With
past selves in the pool, ``eval/elo`` rates the learner (Elo, random = 0) from its games
against random and against each past self, rated as the learner was when it was taken.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space
from torch import Tensor

from agents.opponents import PastSelf, RandomPlayer, ScriptedPlayer
from envs.pettingzoo_adapter import PettingZooGame, env_creator
from envs.tictactoe import TicTacToe
from sandbox.device import canonical_device
from sandbox.errors import UsageError
from sandbox.spaces import ActionChecker, Flattened

KINDS = ("learner", "random", "scripted", "self")
ELO_SPAN = 1600.0
"""How far beyond its opponents' ratings a perfect (or null) score puts a rating."""
"""Who may sit in a seat: the learner, a random or scripted player, or a past self."""

MAX_TURNS = 10_000
"""Learner turns an evaluation waits for every game to end (a game that never ends stops it)."""


@dataclass(frozen=True)
class BoardConfig:
    """Options of a board game env (``--env.*``)."""

    seats: str = ""
    """Who plays each seat, PLAYER=KIND,... with KIND learner, random, scripted or self (a past
    self); empty: the learner in every seat against its past selves (self-play)."""
    pool_every: int = 10_000
    """Samples (learner moves) between snapshots of the learner into its pool of past selves."""
    pool_size: int = 8
    """Past selves kept, the newest (each game draws its opponent among them)."""
    eval_games: int = 500
    """Games per learner seat and opponent at each evaluation."""

    def __post_init__(self) -> None:
        for name in ("pool_every", "pool_size", "eval_games"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def parse_seats(seats: str, players: list[str], game: str) -> dict[str, str]:
    """``{seat: kind}`` from ``PLAYER=KIND,...`` ("" : the learner everywhere); one-line errors.

    Example:
        >>> parse_seats("player_1=learner,player_2=random", ["player_1", "player_2"], "ttt")
        {'player_1': 'learner', 'player_2': 'random'}
    """
    if not seats:
        return dict.fromkeys(players, "learner")
    given: dict[str, str] = {}
    for part in seats.split(","):
        seat, sep, kind = part.strip().partition("=")
        if not sep:
            raise UsageError(f"expected PLAYER=KIND for each seat of {game}, got {part!r}")
        if seat not in players:
            raise UsageError(f"{game} has the seats {', '.join(players)}; got {seat!r}")
        if kind not in KINDS:
            raise UsageError(f"seat {seat}: expected one of {', '.join(KINDS)}, got {kind!r}")
        given[seat] = kind
    if set(given) != set(players):
        raise UsageError(
            f"{game} has the seats {', '.join(players)}: name each once, got {', '.join(given)}"
        )
    if "learner" not in given.values():
        raise UsageError(f"seats {seats!r}: leave at least one seat to the learner")
    return {p: given[p] for p in players}


def learner_from_players(spec: str, agents: list[str]) -> tuple[str, str]:
    """The positional ``PLAYER=AGENT,...`` of ``sandbox run``: ``(agent name, seats option)``.

    A seat naming an agent (one of ``agents``, or ``module:Class``) is the learner's: one
    agent learns, and the same name in several seats is self-play; ``random``, ``scripted``
    and ``self`` name opponents.

    Example:
        >>> learner_from_players("player_1=ppo,player_2=random", ["ppo", "dqn"])
        ('ppo', 'player_1=learner,player_2=random')
    """
    learners, seats = [], []
    for part in spec.split(","):
        seat, sep, name = part.strip().partition("=")
        if not sep:
            raise UsageError(f"expected PLAYER=AGENT for each seat, got {part!r} in {spec!r}")
        if name in KINDS[1:]:
            seats.append(f"{seat}={name}")
            continue
        if name not in agents and ":" not in name:
            raise UsageError(
                f"seat {seat}: expected an agent ({', '.join(agents)}) or an opponent "
                f"(random, scripted, self), got {name!r}"
            )
        learners.append(name)
        seats.append(f"{seat}=learner")
    names = sorted(set(learners))
    if len(names) != 1:
        raise UsageError(
            "a board game trains one agent: name it in one seat or more and random, scripted "
            f"or self in the others, e.g. player_1=ppo,player_2=random; got {spec!r}"
        )
    return names[0], ",".join(seats)


def performance_rating(results: list[tuple[float, float, int]]) -> float:
    """The Elo rating that expects the scores achieved: ``results`` of (opponent rating,
    mean score in [0, 1], games); the R where sum n (s - 1 / (1 + 10^((r - R) / 400))) = 0,
    found by bisection (the sum falls as R grows), within ``ELO_SPAN`` of the opponents.

    Example:
        >>> round(performance_rating([(0.0, 0.5, 100)]))
        0
        >>> round(performance_rating([(0.0, 0.76, 100), (200.0, 0.5, 100)]))
        200
    """
    ratings = [r for r, _, _ in results]
    low, high = min(ratings) - ELO_SPAN, max(ratings) + ELO_SPAN

    def surplus(rating: float) -> float:
        return sum(n * (s - 1 / (1 + 10 ** ((r - rating) / 400))) for r, s, n in results)

    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if surplus(mid) > 0 else (low, mid)
    return (low + high) / 2


class Pool:
    """The learner's past selves (``members``, newest last, at most ``size``) and the Elo rating
    each was taken at; ``rating`` is the learner's latest (its evaluation's ``eval/elo``)."""

    def __init__(self, size: int) -> None:
        self.size, self.members, self.ratings, self.rating = size, [], [], 0.0

    def add(self, agent: Any) -> None:
        """A snapshot of ``agent`` at the learner's current rating."""
        self.members.append(copy.deepcopy(agent))
        self.ratings.append(self.rating)
        del self.members[: -self.size], self.ratings[: -self.size]


def board_text(obs: Tensor) -> str:
    """A ``(rows, columns, 2)`` board as text lines: X for the first plane, O for the second."""
    marks = (obs[..., 0] > 0).long() + 2 * (obs[..., 1] > 0).long()  # (rows, columns)
    return "\n".join("".join(".XO"[int(v)] for v in row) for row in marks.tolist())


class LearnerView:
    """What a learner sees of a seat: the board ``(n, *obs)`` and its legal moves ``(n, A)`` as
    one flat ``(n, D)`` row per copy of the ``Flattened`` Dict space ``space``."""

    def __init__(self, board: spaces.Box, num_moves: int) -> None:
        parts = {"observation": board, "action_mask": spaces.MultiBinary(num_moves)}
        self.space = Flattened(spaces.Dict(parts))
        self.dtype = torch.uint8 if self.space.dtype == np.uint8 else torch.float32

    def __call__(self, obs: Tensor, mask: Tensor) -> Tensor:
        out = obs.new_empty(len(obs), *self.space.shape, dtype=self.dtype)  # (n, D)
        for key, part in (("observation", obs), ("action_mask", mask)):
            out[:, self.space.parts[key][1]] = part.flatten(1).to(self.dtype)
        return out


class Table:
    """``game``'s copies with the learner in ``seat`` and ``players`` (opponents) in the others;
    ``view(obs, mask)`` is what the learner sees (``LearnerView``)."""

    def __init__(self, game: Any, seat: str, players: dict[str, Any], view: LearnerView) -> None:
        self.game, self.seat, self.players, self.view = game, seat, players, view
        self.n = game.num_envs

    def start(self, seed: int | None) -> None:
        """New games on every copy; the opponents before the learner's seat move."""
        self.game.reset(seed=seed)
        for k, player in enumerate(self.players.values()):
            if seed is not None:
                player.generator.manual_seed(seed + 1 + k)
            if isinstance(player, PastSelf):
                player.new_games(torch.ones(self.n, dtype=torch.bool, device=self.game.device))
        self._reward = torch.zeros(self.n, device=self.game.device)
        self._terminated = torch.zeros(self.n, dtype=torch.bool, device=self.game.device)
        self._final: Tensor | None = None
        self._others()

    def play(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The learner's move ``(n,)`` long, then the others' until its turn comes back.

        Returns:
            reward ``(n,)``, terminated ``(n,)``, the final observation ``(n, *obs)`` (where
            terminated) and ``(n,)`` bool where the move was illegal (its game forfeited).
        """
        game = self.game
        self._reward = torch.zeros(self.n, device=game.device)
        self._terminated = torch.zeros(self.n, dtype=torch.bool, device=game.device)
        self._final = None
        legal = game.action_mask(self.seat).gather(1, action[:, None]).squeeze(1)  # (n,)
        game.resign(~legal)
        game.step(action)  # a resigned copy ignores its move
        self._collect()
        self._others()
        final = self._final if self._final is not None else game.observe(self.seat)
        # the mask beside a final board is the seat's mask now; it matters to no one (a final
        # observation only feeds the value of a state that has none)
        final = self.view(final, game.action_mask(self.seat))
        return self._reward, self._terminated, final, ~legal

    def _others(self) -> None:
        game = self.game
        while game.agent_selection != self.seat:
            player = game.agent_selection
            game.step(self.players[player].act(game.observe(player)))
            self._collect()

    def _collect(self) -> None:
        """At a round's end: the seat's reward, the ended games, new draws of past selves."""
        game = self.game
        if not game.rewards:
            return
        self._reward += game.rewards[self.seat]
        self._terminated |= game.terminated
        self._final = game.observe_final(self.seat)
        for player in self.players.values():
            if isinstance(player, PastSelf):
                player.new_games(game.terminated)

    def observe(self) -> Tensor:
        """The learner's view of its seat ``(n, D)``."""
        return self.view(self.game.observe(self.seat), self.game.action_mask(self.seat))


class BoardEnv(gymnasium.vector.VectorEnv):
    """A batched board game (``MultiAgentEnv`` with ``action_mask`` and ``resign``) from its
    learner's seats, as a vector env; subclasses say which game (``make_game``).

    Args:
        make_game: ``make_game(n)`` builds ``n`` copies of the game on ``device``.
        num_envs: the learner's sub-envs, split as evenly as they go over its seats.
        device: where every tensor lives.
        name: the game's name in messages.
        **config: ``BoardConfig`` fields.
    """

    Config = BoardConfig
    RESERVED_KWARGS = ()
    learner_from_players = staticmethod(learner_from_players)  # sandbox run's PLAYER=AGENT,...
    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        make_game: Callable[[int], Any],
        num_envs: int,
        *,
        device: str | torch.device = "cpu",
        name: str = "this game",
        **config: Any,
    ) -> None:
        self.config = cfg = BoardConfig(**config)
        self.make_game, self.name = make_game, name
        self.num_envs, self.device = num_envs, canonical_device(device)
        probe = make_game(1)
        self.possible_agents = list(probe.possible_agents)
        self.seats = parse_seats(cfg.seats, self.possible_agents, name)
        learner = [s for s, kind in self.seats.items() if kind == "learner"]
        views = [probe.player_view(s) for s in learner]
        obs_space, act_space = views[0].single_observation_space, views[0].single_action_space
        if any(v.single_observation_space.shape != obs_space.shape for v in views):
            raise UsageError(f"{name}: the learner's seats {learner} see different observations")
        if not isinstance(act_space, spaces.Discrete):
            raise UsageError(f"{name}: board games with {act_space} moves are not supported")
        # the games' boards are float32 tensors, whatever the raw env's dtype
        low, high = (np.broadcast_to(b, obs_space.shape) for b in (obs_space.low, obs_space.high))
        board = spaces.Box(
            low.astype(np.float32), high.astype(np.float32), obs_space.shape, np.float32
        )
        self.view = LearnerView(board, int(act_space.n))
        self.single_observation_space = self.view.space
        self.single_action_space = act_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._check_action = ActionChecker(act_space, num_envs, self.device)
        self.pool = Pool(cfg.pool_size)  # past selves (self-play), filled from on_start
        self.learner: Any = None
        self.samples = 0  # learner moves so far (all sub-envs), for the snapshot schedule
        sizes = [
            num_envs // len(learner) + (i < num_envs % len(learner)) for i in range(len(learner))
        ]
        self.tables = [
            self._table(make_game(n), seat, n, k)
            for k, (seat, n) in enumerate(zip(learner, sizes, strict=True))
            if n > 0
        ]
        self._slices = np.cumsum([0] + [t.n for t in self.tables])
        self._length = torch.zeros(num_envs, dtype=torch.long, device=self.device)  # (N,)
        self._truncated = torch.zeros(num_envs, dtype=torch.bool, device=self.device)  # (N,)

    def _table(self, game: Any, seat: str, n: int, k: int) -> Table:
        players = {}
        for j, (other, kind) in enumerate(self.seats.items()):
            if other != seat:
                kind = "self" if kind == "learner" else kind
                players[other] = self._opponent(kind, game, other, seed=100 * k + j)
        return Table(game, seat, players, self.view)

    def _opponent(self, kind: str, game: Any, seat: str, seed: int) -> Any:
        if kind == "random":
            return RandomPlayer(game, seat, seed)
        if kind == "scripted":
            if not scripted_plays(game):
                raise UsageError(
                    f"seat {seat}: the scripted opponent plays tic-tac-toe only "
                    f"(sandbox/TicTacToe-v0), not {self.name}; use random or self"
                )
            return ScriptedPlayer(game, seat, seed)
        return PastSelf(game, seat, self.pool.members, seed, view=self.view)

    def on_start(self, run: Any) -> None:
        """The loop shows the run before its first reset: the learner, its first past self
        (untrained: rated as random, 0)."""
        self.learner = run.agent
        self.pool.members.clear(), self.pool.ratings.clear()
        self.pool.add(self.learner)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Tensor, dict[str, Any]]:
        """New games at every table (table ``k`` seeded ``seed + 1000 k``)."""
        for k, table in enumerate(self.tables):
            table.start(None if seed is None else seed + 1000 * k)
        self._length.zero_()
        return self._observe(), {}

    def _observe(self) -> Tensor:
        return torch.cat([t.observe() for t in self.tables])  # (N, *obs)

    def step(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Any]]:
        """The learner's moves ``(N,)``; every table plays on until the learner's turn."""
        self._check_action(action)
        action = action.long()
        parts = [
            t.play(action[a:b])
            for t, a, b in zip(self.tables, self._slices[:-1], self._slices[1:], strict=True)
        ]
        reward, terminated, final, _ = (torch.cat(x) for x in zip(*parts, strict=True))
        self._length += 1
        info = {
            "final_obs": final,
            "_final_obs": terminated,
            "episode": {"r": reward, "l": self._length.clone()},
            "_episode": terminated,
        }
        self._length[terminated] = 0
        self.samples += self.num_envs
        every = self.config.pool_every
        if (
            self.learner is not None
            and self.samples // every > (self.samples - self.num_envs) // every
        ):
            self.pool.add(self.learner)
        return self._observe(), reward, terminated, self._truncated, info

    # --- evaluation and media -------------------------------------------------------------

    def score(self, policy: Callable[[Tensor], Tensor]) -> dict[str, Tensor]:
        """Win, draw and loss rates of ``policy`` from empty boards in every learner seat
        against each fixed opponent (``eval_games`` games each); ``score`` = win rate vs random."""
        figures: dict[str, Tensor] = {}
        illegal = []
        for kind in self._eval_opponents():
            rates = []
            for seat in self._learner_seats():
                outcome, forfeit = self._eval_table(seat, kind).first_games(policy)
                rates.append(
                    torch.stack([(outcome > 0), (outcome == 0), (outcome < 0)]).float().mean(1)
                )
                illegal.append(forfeit.float().mean())
            win, draw, loss = torch.stack(rates).mean(0)
            figures |= {
                f"win_rate_vs_{kind}": win,
                f"draw_rate_vs_{kind}": draw,
                f"loss_rate_vs_{kind}": loss,
            }
        figures["illegal_rate"] = torch.stack(illegal).mean()
        if self.pool.members:
            figures["elo"] = self._elo(policy, figures)
        return {"score": figures["win_rate_vs_random"], **figures}

    def _elo(self, policy: Callable[[Tensor], Tensor], figures: dict[str, Tensor]) -> Tensor:
        """The learner's rating from its games against random (rated 0) and each past self
        (``eval_games`` per seat shared among them), which past selves taken later inherit."""
        vs_random = figures["win_rate_vs_random"] + figures["draw_rate_vs_random"] / 2
        games = self.config.eval_games
        results = [(0.0, float(vs_random), games)]
        members = len(self.pool.members)
        per_self = max(games // members, 1)
        # copy i plays past self i % members: every member's games in one batched table a seat
        which = torch.arange(per_self * members, device=self.device) % members  # (G,)
        wins = torch.zeros(members, device=self.device)  # (P,) summed over seats
        for seat in self._learner_seats():
            game = self.make_game(per_self * members)
            players = {
                p: PastSelf(game, p, self.pool.members, seed=j, view=self.view, fixed=which)
                for j, p in enumerate(self.possible_agents)
                if p != seat
            }
            outcome, _ = EvalTable(game, seat, players, self.view).first_games(policy)  # (G,)
            points = (outcome > 0).float() + (outcome == 0).float() / 2  # (G,) 1, 1/2 or 0
            wins += torch.zeros_like(wins).index_add_(0, which, points) / per_self
        mean = (wins / len(self._learner_seats())).tolist()  # (P,) mean score per member
        results += list(zip(self.pool.ratings, mean, [per_self] * members, strict=True))
        self.pool.rating = performance_rating(results)
        return torch.tensor(self.pool.rating, device=self.device)

    def _learner_seats(self) -> list[str]:
        return [s for s, kind in self.seats.items() if kind == "learner"]

    def _eval_opponents(self) -> list[str]:
        return ["random", "scripted"] if scripted_plays(self.tables[0].game) else ["random"]

    def _eval_table(self, seat: str, kind: str) -> EvalTable:
        """The evaluation's games for ``seat`` against ``kind`` (built once, reset each time)."""
        cache = self.__dict__.setdefault("_eval_tables", {})
        if (seat, kind) not in cache:
            game = self.make_game(self.config.eval_games)
            players = {
                p: self._opponent(kind, game, p, seed=j)
                for j, p in enumerate(self.possible_agents)
                if p != seat
            }
            cache[seat, kind] = EvalTable(game, seat, players, self.view)
        return cache[seat, kind]

    def media(self, agent: Any) -> dict[str, Any]:
        """One game of the agent (greedy, its first seat) against random, as text boards."""
        seat = self._learner_seats()[0]
        game = self.make_game(1)
        players = {
            p: RandomPlayer(game, p, seed=j)
            for j, p in enumerate(self.possible_agents)
            if p != seat
        }
        table = Table(game, seat, players, self.view)
        table.start(seed=0)
        boards = [self._text(game, game.observe(self.possible_agents[0]))]
        for _ in range(MAX_TURNS):
            _, terminated, final, illegal = table.play(
                agent.act(table.observe(), deterministic=True).long()
            )
            if bool(terminated[0]):
                first = game.observe_final(self.possible_agents[0])
                boards.append(
                    self._text(game, first)
                    + ("  (illegal move: forfeit)" if bool(illegal[0]) else "")
                )
                break
            boards.append(self._text(game, game.observe(self.possible_agents[0])))
        # Markdown: each board an indented (code) block
        title = f"the agent as {seat} (greedy) against random"
        return {
            "game": title + "\n\n" + "\n\n".join("    " + b.replace("\n", "\n    ") for b in boards)
        }

    def _text(self, game: Any, obs: Tensor) -> str:
        if obs.dim() == 4 and obs.shape[-1] == 2:
            return board_text(obs[0])
        return game.render_text(0)

    def _sharing_pool(self, copy_: BoardEnv) -> BoardEnv:
        """``copy_`` (an evaluation copy) with this env's pool: ``eval/elo`` rates the learner
        against the past selves it trains against, and keeps their ratings here."""
        copy_.pool = self.pool
        return copy_

    # --- checkpoints ----------------------------------------------------------------------

    def config_dict(self) -> dict[str, Any]:
        """The options, as ``sandbox.make`` takes them."""
        return dataclasses.asdict(self.config)

    def state_dict(self) -> dict[str, Any]:
        """The pool of past selves and the snapshot schedule (the boards restart on resume)."""
        pool = self.pool
        return {
            "pool": [past.state_dict() for past in pool.members],
            "ratings": list(pool.ratings),
            "rating": pool.rating,
            "samples": self.samples,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the pool (as copies of the learner given ``on_start``); ``None``: reset."""
        if self.learner is not None:
            self.pool.members[:] = [copy.deepcopy(self.learner) for _ in state["pool"]]
            for past, saved in zip(self.pool.members, state["pool"], strict=True):
                past.load_state_dict(saved)
            self.pool.ratings[:] = state["ratings"]
            self.pool.rating = state["rating"]
        self.samples = state["samples"]
        return None


class EvalTable(Table):
    """A table that plays one game per copy from empty boards, for the evaluation's rates."""

    def first_games(self, policy: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
        """Each copy's outcome ``(n,)`` (+1/0/-1) of its first game, and where it was forfeited."""
        self.start(seed=0)
        device = self.game.device
        outcome = torch.zeros(self.n, device=device)
        forfeit = torch.zeros(self.n, dtype=torch.bool, device=device)
        done = torch.zeros(self.n, dtype=torch.bool, device=device)
        for _ in range(MAX_TURNS):
            reward, terminated, _, illegal = self.play(policy(self.observe()).long())
            new = terminated & ~done
            outcome = torch.where(new, reward, outcome)
            forfeit = torch.where(new, illegal, forfeit)
            done |= terminated
            if bool(done.all()):
                break
        return outcome, forfeit


def scripted_plays(game: Any) -> bool:
    """Whether the scripted (win > block > random) player can play ``game`` (tic-tac-toe)."""
    return isinstance(game, TicTacToe)


class TicTacToeEnv(BoardEnv):
    """``sandbox/TicTacToe-v0``: the torch-native tic-tac-toe (``envs/tictactoe.py``) from the
    learner's seats."""

    def __init__(self, num_envs: int = 64, *, device: str | torch.device = "cpu", **config: Any):
        device = canonical_device(device)
        super().__init__(
            lambda n: TicTacToe(n, device), num_envs, device=device, name="tic-tac-toe", **config
        )

    def eval_env(self) -> TicTacToeEnv:
        """A fresh copy for evaluation (its games are its own, its past selves ours)."""
        return self._sharing_pool(
            TicTacToeEnv(self.num_envs, device=self.device, **self.config_dict())
        )


class PettingZooEnv(BoardEnv):
    """A PettingZoo AEC or Parallel game with action masks (``pettingzoo.classic.*``), through
    the batched adapter (``envs/pettingzoo_adapter.py``), from the learner's seats."""

    def __init__(
        self, env_id: str, num_envs: int = 8, *, device: str | torch.device = "cpu", **config: Any
    ):
        device = canonical_device(device)
        creator = env_creator(env_id)
        self.env_id = env_id
        super().__init__(
            lambda n: PettingZooGame(creator, n, device),
            num_envs,
            device=device,
            name=env_id,
            **config,
        )
        self.spec = EnvSpec(id=env_id)

    def eval_env(self) -> PettingZooEnv:
        """A fresh copy for evaluation (its games are its own, its past selves ours)."""
        return self._sharing_pool(
            PettingZooEnv(self.env_id, self.num_envs, device=self.device, **self.config_dict())
        )

    def pettingzoo_env(self) -> Any:
        """A fresh raw env, for PettingZoo's own ``api_test`` (``sandbox check``)."""
        return self.tables[0].game.pettingzoo_env()
