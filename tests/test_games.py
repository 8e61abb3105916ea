"""Board games: PettingZoo envs through the batched adapter, the torch-native tic-tac-toe."""

from __future__ import annotations

import sys

import pytest
import torch
from pettingzoo.test import api_test

from agents.opponents import RandomPlayer, ScriptedPlayer, play_games
from envs.pettingzoo_adapter import PettingZooGame, env_creator
from envs.tictactoe import TicTacToe
from sandbox.errors import UsageError

GAMES = ["pettingzoo.classic.tictactoe_v3", "pettingzoo.classic.connect_four_v3"]


@pytest.mark.parametrize("name", GAMES)
def test_api_test_passes_on_the_raw_env(name):
    api_test(env_creator(name)(), num_cycles=100)


@pytest.mark.parametrize("name", GAMES)
def test_random_games_never_break_a_mask(name):
    # the adapter refuses an illegal move, so 300 turns of masked random play over 16 copies
    # must finish games (rewards revealed) without a UsageError
    game = PettingZooGame(env_creator(name), 16)
    players = {p: RandomPlayer(game, p, seed=i) for i, p in enumerate(game.possible_agents)}
    result = play_games(game, players, num_games=64)
    first = game.possible_agents[0]
    assert abs(sum(result[f"{first}_{k}"] for k in ("win", "draw", "loss")) - 1) < 1e-6


def test_an_illegal_move_is_refused():
    game = PettingZooGame(env_creator(GAMES[0]), 2)
    game.reset(seed=0)
    game.step(torch.tensor([4, 4]))
    with pytest.raises(UsageError, match="illegal move 4"):
        game.step(torch.tensor([4, 0]))
    native = TicTacToe(2)
    native.reset()
    native.step(torch.tensor([4, 4]))
    with pytest.raises(UsageError, match="occupied"):
        native.step(torch.tensor([4, 0]))


def test_torch_native_matches_pettingzoo_move_for_move():
    native, zoo = TicTacToe(8), PettingZooGame(env_creator(GAMES[0]), 8)
    native.reset(seed=0)
    zoo.reset(seed=0)
    gen = torch.Generator().manual_seed(0)
    ended = 0
    for _ in range(400):  # 200 rounds over 8 boards: dozens of games, every ending
        player = native.agent_selection
        assert player == zoo.agent_selection
        assert torch.equal(native.observe(player), zoo.observe(player))
        mask = native.action_mask(player)
        assert torch.equal(mask, zoo.action_mask(player))
        action = torch.multinomial(mask.float(), 1, generator=gen).squeeze(1)
        native.step(action)
        zoo.step(action)
        assert native.rewards.keys() == zoo.rewards.keys()
        for p, reward in native.rewards.items():
            assert torch.equal(reward, zoo.rewards[p])
        if native.rewards:
            assert torch.equal(native.terminated, zoo.terminated)
            ended += int(native.terminated.sum())
    assert ended > 100


def test_random_and_scripted_rates():
    game = TicTacToe(256)
    rand = {p: RandomPlayer(game, p, seed=i) for i, p in enumerate(game.possible_agents)}
    result = play_games(game, rand, num_games=2000)
    assert 0.54 < result["player_1_win"] < 0.63  # random vs random: X wins ~58.5%
    scripted = {**rand, "player_1": ScriptedPlayer(game, "player_1")}
    assert play_games(game, scripted, num_games=2000)["player_1_win"] > 0.85


def test_unknown_seat_is_one_line():
    game = TicTacToe(2)
    with pytest.raises(UsageError, match="seats player_1, player_2; got 'player_3'"):
        RandomPlayer(game, "player_3")
    zoo = PettingZooGame(env_creator(GAMES[0]), 1)
    with pytest.raises(UsageError, match="got 'black'"):
        zoo.player_view("black")


def test_missing_extra_names_the_pip_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygame", None)  # import pygame now fails
    for mod in [m for m in sys.modules if m.startswith("pettingzoo.classic")]:
        monkeypatch.delitem(sys.modules, mod)
    with pytest.raises(UsageError) as e:
        env_creator("pettingzoo.classic.chess_v6")
    assert "pip install 'pettingzoo[classic]'" in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_pettingzoo_names_the_games_extra(monkeypatch):
    class Absent:  # finds pettingzoo nowhere, as when it is not installed
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] == "pettingzoo":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    for mod in [m for m in sys.modules if m.partition(".")[0] == "pettingzoo"]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(sys, "meta_path", [Absent(), *sys.meta_path])
    with pytest.raises(UsageError) as e:
        env_creator("pettingzoo.classic.tictactoe_v3")
    assert str(e.value).endswith("pip install -e .[games]") and "\n" not in str(e.value)


def test_unknown_module_is_one_line():
    with pytest.raises(UsageError, match="no PettingZoo env module 'pettingzoo.classic.nope'"):
        env_creator("pettingzoo.classic.nope")


@pytest.mark.slow  # ~15 s: 300 PPO updates of 256 self-play games on the CPU
def test_ppo_self_play_beats_random_and_its_first_checkpoint(monkeypatch):
    monkeypatch.syspath_prepend("scripts")
    from self_play import PolicyPlayer, non_loss, train

    torch.set_num_threads(1)
    policy, pool = train(updates=300, seed=0, log=lambda line: None)
    assert non_loss(policy, RandomPlayer) >= 0.9
    game = TicTacToe(200)
    for seat, other in (("player_1", "player_2"), ("player_2", "player_1")):
        players = {
            seat: PolicyPlayer(policy, game, seat),
            other: PolicyPlayer(pool[0], game, other),
        }
        result = play_games(game, players, 400)
        assert result[f"{seat}_win"] > result[f"{seat}_loss"]


@pytest.mark.parametrize("name", GAMES)
def test_sandbox_check_runs_api_test_and_the_game_contract(name):
    import sandbox
    from sandbox.apps.check import run_checks

    rows = run_checks(sandbox.make(name, 4), lambda: sandbox.make(name, 1))
    names = [r.name for r in rows]  # the learner's vector env, then the game behind it
    assert "gymnasium check_env (single-env NumPy view)" in names
    assert names[-2:] == ["board game contract", "PettingZoo api_test"]
    assert all(r.ok and not r.detail for r in rows), rows


def test_the_torch_native_game_keeps_the_game_contract():
    from sandbox.multi import check_game

    check_game(TicTacToe(4), num_rounds=6)


def test_self_play_evaluation_logs_rates_rating_and_a_board(monkeypatch):
    monkeypatch.syspath_prepend("scripts")
    from self_play import MaskedPolicy, log_eval

    class Writer:  # records what TensorBoard would get
        def __init__(self):
            self.scalars, self.texts = {}, {}

        def add_scalar(self, tag, value, step):
            self.scalars[tag] = value

        def add_text(self, tag, text, step):
            self.texts[tag] = text

    torch.manual_seed(0)
    writer = Writer()
    log_eval(writer, MaskedPolicy(), rating=12.0, step=256)
    assert set(writer.scalars) == {"eval/score", "eval/draw", "eval/loss", "eval/elo"}
    assert (
        abs(
            writer.scalars["eval/score"]
            + writer.scalars["eval/draw"]
            + writer.scalars["eval/loss"]
            - 1
        )
        < 1e-6
    )
    board = writer.texts["eval/game"]
    assert "X" in board and "O" in board
