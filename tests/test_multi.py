"""The multi-agent loop: per-player tags on the samples axis, checkpoints of both, resume, CLI."""

from __future__ import annotations

import math

import pytest
import torch

import sandbox
from agents.gan import make_players
from sandbox.apps.cli import main
from tests.conftest import DEVICES, read_scalars

N = 16  # samples per round


@pytest.fixture(autouse=True)
def one_thread():
    """Small MLPs run fastest on one thread, above all on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def gan_run(logdir, rounds, resume=None, **train_kwargs):
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/RingGAN-v0", N)
    players = make_players(env)
    result = sandbox.train(
        env, players, rounds * N, seed=0, logdir=logdir, progress=False, resume=resume,
        log_every=2 * N, eval_every=10 * N, **train_kwargs,
    )  # fmt: skip
    return players, result


def test_per_player_tags_on_the_samples_axis(tmp_path):
    _, result = gan_run(tmp_path, 20)
    scalars = read_scalars(result.run_dir)
    for tag in (
        "train/generator_loss",
        "train/discriminator_loss",
        "reward/generator",
        "reward/discriminator",
        "reward/mean",
        "time/fps",
        "eval/score",
        "eval/modes",
        "eval/near_mode",
    ):
        assert tag in scalars, tag
    assert [s for s, _ in scalars["reward/mean"]] == list(range(2 * N, 20 * N + 1, 2 * N))
    assert [s for s, _ in scalars["eval/modes"]] == [10 * N, 20 * N]
    rows = zip(
        scalars["reward/mean"],
        scalars["reward/generator"],
        scalars["reward/discriminator"],
        scalars["train/generator_loss"],
        strict=True,
    )
    for (_, mean), (_, g), (_, d), (_, g_loss) in rows:
        assert math.isclose(mean, (g + d) / 2, rel_tol=1e-5)  # one reward per player per round
        assert math.isclose(g, -g_loss, rel_tol=1e-5)  # a gradient learner's loss is -reward
    assert result.samples == 20 * N


def test_media_samples_image_is_logged_at_each_evaluation(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, result = gan_run(tmp_path, 10)
    acc = EventAccumulator(str(result.run_dir), size_guidance={"images": 0})
    acc.Reload()
    (image,) = acc.Images("media/samples")
    assert image.step == 10 * N and image.width > 100 and image.height > 100


def test_checkpoint_holds_both_players_and_resume_is_bit_identical(tmp_path):
    whole, _ = gan_run(tmp_path / "whole", 12)
    _, part = gan_run(tmp_path / "part", 5)
    state = sandbox.load_checkpoint(part.run_dir)
    assert set(state["agent"]) == {"generator", "discriminator"} and state["samples"] == 5 * N
    players = state["config"]["players"]
    assert players["generator"]["agent"] == "gan-generator"
    resumed, result = gan_run(None, 12, resume=part.run_dir)
    assert result.run_dir == part.run_dir and result.samples == 12 * N
    for name in ("generator", "discriminator"):
        for p, q in zip(whole[name].net.parameters(), resumed[name].net.parameters(), strict=True):
            assert torch.equal(p, q), name


def test_agents_must_match_the_players():
    env = sandbox.make("sandbox/RingGAN-v0", N)
    (g,) = [make_players(env)["generator"]]
    with pytest.raises(sandbox.UsageError, match="players generator, discriminator"):
        sandbox.train(env, {"generator": g}, N, logdir=None, progress=False)


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_gan_preset_runs_and_resumes(capsys, tmp_path):
    common = ["--num-envs", str(N), "--logdir", str(tmp_path), "--no-progress", "--threads", "1"]
    code, out, err = cli(capsys, "run", "sandbox/RingGAN-v0", "gan", "--steps", str(4 * N), *common)
    assert code == 0, err
    assert "eval      score" in out and "modes" in out
    (run_dir,) = (tmp_path / "default").iterdir()
    code, _, err = cli(capsys, "run", "--resume", str(run_dir), "--steps", str(6 * N))
    assert code == 0, err
    assert sandbox.load_checkpoint(run_dir)["samples"] == 6 * N


def test_cli_names_each_players_agent_and_options(capsys, tmp_path):
    spec = "generator=gan-generator,discriminator=gradient"
    args = ["--steps", str(2 * N), "--num-envs", str(N), "--logdir", str(tmp_path)]
    code, _, err = cli(
        capsys, "run", "sandbox/RingGAN-v0", spec, *args, "--no-progress", "--generator.lr", "0.01"
    )
    assert code == 0, err
    (run_dir,) = (tmp_path / "default").iterdir()
    players = sandbox.load_checkpoint(run_dir)["config"]["players"]
    assert players["discriminator"]["agent"] == "gradient"
    assert players["generator"]["agent_config"]["lr"] == 0.01


GAME_ERRORS = [
    (["sandbox/RingGAN-v0", "gradient"], "is a game of generator, discriminator"),
    (["sandbox/RingGAN-v0", "generator=gan-generator"], "name one agent per player"),
    (["sandbox/RingGAN-v0", "generator=gan-genrator,discriminator=gradient"], "did you mean"),
    (["sandbox/LinReg-v0", "gan"], "names the players of a game"),
    (["sandbox/RingGAN-v0", "gan", "--generator.lr", "-1"], "lr must be > 0"),
]


@pytest.mark.parametrize("args,message", GAME_ERRORS, ids=[" ".join(a) for a, _ in GAME_ERRORS])
def test_game_usage_errors_are_one_line(capsys, tmp_path, args, message):
    code, _, err = cli(capsys, "run", *args, "--logdir", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("device", DEVICES)
def test_a_short_gan_run_on_each_device(device):
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/DigitsGAN-v0", N, device=device)
    players = make_players(env)
    result = sandbox.train(env, players, 5 * N, seed=0, logdir=None, progress=False)
    assert math.isfinite(result.metrics["eval/frechet"])
    assert next(players["generator"].net.parameters()).device.type == device
