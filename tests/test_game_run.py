"""Board games through ``sandbox run``: the learner's seats as a vector env (envs/board.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import sandbox
from envs.board import PettingZooEnv, Pool, TicTacToeEnv, performance_rating
from sandbox import presets
from sandbox.apps.cli import main
from tests.conftest import read_scalars, sandbox_cli

VS_RANDOM = "player_1=ppo,player_2=random"
FAST_PPO = ["--num-steps", "16", "--lr", "1e-3", "--ent-coef", "0.01"]


def only_run(tmp_path):
    (run_dir,) = (tmp_path / "runs" / "default").iterdir()
    return run_dir


def run(tmp_path, *args):
    """``sandbox run ...`` in this process (the console script's ``main``), into tmp_path."""
    logdir = str(tmp_path / "runs")
    return main(["run", *args, "--logdir", logdir, "--no-progress", "--device", "cpu"])


def test_cli_run_logs_rates_score_and_a_board(tmp_path):
    args = ["--steps", "1024", "--seed", "0", "--env.eval-games", "64", "--eval-every", "512"]
    assert run(tmp_path, "sandbox/TicTacToe-v0", VS_RANDOM, *args) == 0
    run_dir = only_run(tmp_path)
    scalars = read_scalars(run_dir)
    final = {tag: points[-1][1] for tag, points in scalars.items() if tag.startswith("eval/")}
    assert final["eval/score"] == final["eval/win_rate_vs_random"]
    for opponent in ("random", "scripted"):
        rates = [final[f"eval/{k}_rate_vs_{opponent}"] for k in ("win", "draw", "loss")]
        assert abs(sum(rates) - 1) < 1e-6 and all(0 <= r <= 1 for r in rates)
    assert 0 <= final["eval/illegal_rate"] <= 1
    # a game has no train split: no train score, no generalization gap (datasets have them)
    assert "eval/train_score" not in final and "eval/generalization_gap" not in final
    assert "rollout/ep_rew_mean" in scalars  # the learner's games, as episodes
    events = EventAccumulator(str(run_dir))
    events.Reload()
    board = events.Tensors("media/game/text_summary")[-1].tensor_proto.string_val[0].decode()
    assert "the agent as player_1" in board and "X" in board
    config = sandbox.load_checkpoint(run_dir)["config"]
    assert config["agent"] == "ppo" and config["env"]["seats"] == "player_1=learner,player_2=random"


def test_a_pettingzoo_game_runs_and_resumes(tmp_path, capsys):
    args = ["--steps", "128", "--num-envs", "8", "--env.eval-games", "8", "--eval-every", "128"]
    assert run(tmp_path, "pettingzoo.classic.tictactoe_v3", "ppo", *args) == 0
    run_dir = only_run(tmp_path)
    assert "eval/loss_rate_vs_random" in read_scalars(run_dir)
    assert "vs_scripted" not in capsys.readouterr().out  # scripted reads the torch board only
    assert main(["run", "--resume", str(run_dir), "--steps", "256", "--no-progress"]) == 0
    assert read_scalars(run_dir)["eval/score"][-1][0] == 256


@pytest.mark.parametrize(
    "spec, says",
    [
        ("player_3=ppo,player_2=random", "has the seats player_1, player_2; got 'player_3'"),
        ("player_1=ppo", "name each once, got player_1"),
        ("player_1=ppo,player_2=minimax", "or an opponent (random, scripted, self), got 'minimax'"),
        ("player_1=random,player_2=random", "a board game trains one agent"),
        ("player_1=ppo,player_2=dqn", "a board game trains one agent"),
        ("player_1=gradient,player_2=random", "needs a Box action space"),
        ("player_1=ppo,player_2=scripted", "the scripted opponent plays tic-tac-toe only"),
    ],
)
def test_bad_seats_are_one_line(spec, says, capsys):
    game = "pettingzoo.classic.tictactoe_v3"
    assert main(["run", game, spec, "--steps", "64", "--logdir", "unused"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err, err


def test_the_torch_game_and_pettingzoo_serve_the_same_games():
    native = TicTacToeEnv(8, seats="player_1=learner,player_2=random")
    zoo = PettingZooEnv("pettingzoo.classic.tictactoe_v3", 8, seats=native.config.seats)
    obs, _ = native.reset(seed=3)
    assert torch.equal(obs, zoo.reset(seed=3)[0])
    gen, ended = torch.Generator().manual_seed(0), 0
    for _ in range(60):  # illegal moves among them: forfeits in both
        action = torch.randint(9, (8,), generator=gen)
        a, b = native.step(action), zoo.step(action)
        for x, y in zip(a[:4], b[:4], strict=True):  # obs, reward, terminated, truncated
            assert torch.equal(x, y)
        assert torch.equal(a[4]["final_obs"], b[4]["final_obs"])
        ended += int(a[2].sum())
    assert ended > 30


def test_an_illegal_move_forfeits_and_a_finished_board_is_final_obs():
    env = TicTacToeEnv(1, seats="player_1=learner,player_2=scripted")
    env.reset(seed=0)
    env.step(torch.tensor([4]))  # X in the centre; the scripted O answers somewhere
    taken = int((env.tables[0].game.board[0] == 2).nonzero()[0])  # O's square
    _, reward, terminated, _, info = env.step(torch.tensor([taken]))
    assert reward.tolist() == [-1.0] and terminated.tolist() == [True]
    board = env.single_observation_space.parts["observation"][1]  # the flat obs' board part
    assert info["final_obs"][0, board].sum() == 2  # the board as it ended: X and O, one each
    assert env.tables[0].game.board.abs().sum() == 0  # and a new game has begun


def test_the_learner_sees_its_legal_moves_and_ppo_never_plays_an_illegal_one():
    env = TicTacToeEnv(64, seats="player_1=learner,player_2=random", eval_games=64)
    obs, _ = env.reset(seed=0)
    mask = env.single_observation_space.parts["action_mask"][1]
    game = env.tables[0].game
    assert torch.equal(obs[:, mask].bool(), game.action_mask("player_1"))  # after O's reply
    sandbox.seed_everything(0)
    agent = sandbox.make_agent("ppo", env, num_steps=8)  # untrained: moves at random
    for _ in range(50):  # sampled moves: each within the mask the learner was shown
        action = agent.act(obs)
        assert obs[:, mask].bool().gather(1, action[:, None].long()).all()
        obs = env.step(action)[0]
    figures = env.score(lambda o: agent.act(o, deterministic=True))
    assert figures["illegal_rate"] == 0  # greedy play: masked moves are never the argmax


def test_self_play_keeps_a_pool_of_past_selves_and_checkpoints_it():
    env = TicTacToeEnv(8, pool_every=16, pool_size=3, eval_games=8)
    agent = sandbox.make_agent("ppo", env, num_steps=4)
    result = sandbox.train(env, agent, 80, seed=0, logdir=None, progress=False)
    assert result.samples == 80 and len(env.pool.members) == 3  # 1 + 5 snapshots, 3 kept
    assert env.pool.members[0] is not agent
    state = env.state_dict()
    other = TicTacToeEnv(8, pool_every=16, pool_size=3)
    other.on_start(SimpleNamespace(agent=agent))  # what the loop shows it: the learner
    other.load_state_dict(state)
    net, saved = other.pool.members[-1].net.state_dict(), env.pool.members[-1].net.state_dict()
    assert len(other.pool.members) == 3 and all(torch.equal(net[k], saved[k]) for k in net)
    assert other.samples == 80
    assert (other.pool.ratings, other.pool.rating) == (env.pool.ratings, env.pool.rating)


def test_elo_rates_past_selves_at_the_learners_rating_when_taken():
    assert round(performance_rating([(0.0, 0.5, 100)])) == 0  # even with random: random's 0
    assert performance_rating([(0.0, 1.0, 10)]) > 1500  # a perfect score: at the span's end
    pool = Pool(2)
    for rating, name in ((0.0, "a"), (150.0, "b"), (300.0, "c")):
        pool.rating = rating
        pool.add(SimpleNamespace(name=name))
    assert [m.name for m in pool.members] == ["b", "c"] and pool.ratings == [150.0, 300.0]


def test_a_learner_trained_against_random_out_rates_its_first_self(tmp_path):
    args = ["sandbox/TicTacToe-v0", VS_RANDOM, *FAST_PPO, "--steps", "20000", "--seed", "0"]
    assert run(tmp_path, *args, "--eval-every", "5000", "--env.eval-games", "200") == 0
    scores = read_scalars(only_run(tmp_path))["eval/elo"]
    first, last = scores[0][1], scores[-1][1]
    assert last > first + 100 and last > 100, scores  # seed 0


@pytest.mark.slow  # ~20 s here: 50k samples of PPO against random, through the console script
def test_sandbox_run_learns_to_not_lose_against_random(tmp_path):
    args = ["--steps", "50000", "--seed", "0", "--device", "cpu", *FAST_PPO]
    cli = sandbox_cli(tmp_path, "run", "sandbox/TicTacToe-v0", VS_RANDOM, *args)
    assert cli.returncode == 0, cli.stderr
    loss = read_scalars(only_run(tmp_path))["eval/loss_rate_vs_random"][-1][1]
    assert 1 - loss >= 0.9


@pytest.mark.slow  # ~50 s here: the self-play preset, 300k samples
def test_the_self_play_preset_reaches_its_bar(tmp_path):
    cli = sandbox_cli(tmp_path, "run", "sandbox/TicTacToe-v0", "ppo", "--seed", "0")
    assert cli.returncode == 0, cli.stderr
    final = {k: v[-1][1] for k, v in read_scalars(only_run(tmp_path)).items()}
    assert presets.find("sandbox/TicTacToe-v0", "ppo").meets_bar(final), final
