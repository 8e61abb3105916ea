"""`sandbox tour`: every paradigm runs, holds its tags, and TensorBoard serves them together."""

from __future__ import annotations

import pytest

from sandbox.apps.cli import main
from sandbox.apps.tour import TOUR
from tests.conftest import read_scalars, tensorboard_server

PARADIGM_TAGS = {  # beyond reward/mean, eval/score and time/fps, which every run holds
    "regression": {"eval/r2", "train/loss"},
    "classification": {
        "eval/accuracy",
        "eval/train_score",
        "eval/generalization_gap",
        "train/loss",
    },
    "classification as a bandit": {"eval/accuracy", "train/policy_gradient_loss"},
    "clustering": {"eval/ari", "eval/nmi", "eval/inertia", "train/inertia"},
    "GAN game": {"eval/frechet", "train/generator_loss", "train/discriminator_loss"},
    "board game": {"eval/win_rate_vs_random", "eval/loss_rate_vs_scripted", "rollout/ep_rew_mean"},
    "reinforcement learning": {"rollout/ep_rew_mean", "rollout/ep_len_mean", "eval/mean_reward"},
}


@pytest.fixture(scope="module")
def tour(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    capsys_out = []

    class Capture:
        def write(self, s):
            capsys_out.append(s)

        def flush(self):
            pass

    import contextlib

    with contextlib.redirect_stdout(Capture()):
        code = main(["tour", "--budget", "tiny", "--logdir", str(logdir), "--no-progress"])
    assert code == 0
    return logdir / "tour", "".join(capsys_out)


def test_tour_prints_one_row_per_paradigm_and_the_tensorboard_line(tour):
    root, out = tour
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["paradigm", "env"]
    for stop in TOUR:
        row = next(ln for ln in lines if ln.startswith(stop.paradigm + " "))
        assert stop.env_id in row and stop.revealed in row and stop.metric in row
        assert (", gap " in row) == stop.gap  # the classification row: train minus test
    assert f"tensorboard --logdir {root}" in out


def test_every_paradigms_run_holds_its_tags(tour):
    root, _ = tour
    runs = sorted(root.iterdir())
    assert len(runs) == len(TOUR)
    for stop in TOUR:
        prefix = stop.env_id.replace("/", "-") + "__"
        (run,) = [r for r in runs if r.name.startswith(prefix) and f"__{stop.agent}" in r.name]
        tags = set(read_scalars(run))
        expected = {"reward/mean", "eval/score", "time/fps"} | PARADIGM_TAGS[stop.paradigm]
        assert expected <= tags, (stop.paradigm, expected - tags)


def test_ppo_anneals_over_the_tours_budget_not_the_default_one(tour):
    """At any budget, the RL stop's learning rate goes from RL Zoo's 1e-3 to ~0 at its end:
    ``anneal=True`` decays it over the run's own budget (the loop's ``on_start``)."""
    root, _ = tour
    (run,) = [r for r in root.iterdir() if r.name.startswith("sandbox-CartPole-v1__ppo")]
    lr = [value for _, value in read_scalars(run)["train/learning_rate"]]
    assert lr[0] > 0.5e-3 and lr[-1] < 0.1e-3, lr


def test_tensorboard_serves_the_tours_runs_tags_hparams_and_layout(tour):
    root, _ = tour
    with tensorboard_server(root) as api:
        runs = api("/data/runs")
        assert len(runs) == len(TOUR)  # no stray hparams sub-runs
        tags = api("/data/plugin/scalars/tags")
        assert all({"reward/mean", "eval/score", "time/fps"} <= set(tags[r]) for r in runs)
        linreg = next(r for r in runs if r.startswith("sandbox-LinReg-v0"))
        points = api(f"/data/plugin/scalars/scalars?run={linreg}&tag=eval/score")
        assert points[-1][1] == 100  # [wall time, samples consumed, value]
        experiment = api("/data/plugin/hparams/experiment", {"experimentName": ""})
        hparams = {h["name"] for h in experiment["hparamInfos"]}
        assert {"env_id", "agent", "seed", "steps"} <= hparams
        assert "eval/score" in {m["name"]["tag"] for m in experiment["metricInfos"]}
        layout = api("/data/plugin/custom_scalars/layout")
        charts = [c["multiline"]["tag"] for cat in layout["category"] for c in cat["chart"]]
        assert [r"^eval/score$"] in charts
