"""The hand-crafted pipeline agent: HOG by hand, fit after one epoch, refusals, save and resume."""

from __future__ import annotations

import pytest
import torch

import sandbox
from agents.pipeline import hog_features
from sandbox.apps.cli import main as cli


def digits(num_envs=64, **options):
    return sandbox.make("sandbox/Digits-v0", num_envs=num_envs, feedback="label", **options)


def test_hog_votes_each_pixels_gradient_magnitude_into_its_orientation_bin():
    ramp = torch.arange(4.0).expand(1, 1, 4, 4)  # brighter to the right: every gradient is 0°
    # central differences: 2 at the 2 inner columns of 4 rows, 0 at the border
    assert hog_features(ramp, cell_size=4, num_bins=4).tolist() == [[16.0, 0.0, 0.0, 0.0]]
    down = ramp.transpose(2, 3)  # brighter downwards: 90°, the third of 4 bins of 45°
    assert hog_features(down, cell_size=4, num_bins=4).tolist() == [[0.0, 0.0, 16.0, 0.0]]
    slope = ramp + 2 * down  # gx = 2, gy = 4: 63° (bin 1) at the 2x2 inner pixels, |g| = √20;
    # on the border one difference is 0: 0° on the top and bottom rows, 90° on the side columns
    expected = torch.tensor([[2 * 2 * 2, 4 * 20**0.5, 2 * 2 * 4, 0.0]])
    assert torch.allclose(hog_features(slope, cell_size=4, num_bins=4), expected)
    left = torch.flip(ramp, dims=[3])  # brighter to the left: 180°, the same unsigned bin as 0°
    assert hog_features(left, cell_size=4, num_bins=4).tolist() == [[16.0, 0.0, 0.0, 0.0]]
    cells = hog_features(ramp, cell_size=2, num_bins=4).reshape(2, 2, 4)  # (rows, cols, bins)
    assert cells[..., 0].tolist() == [[4.0, 4.0], [4.0, 4.0]]  # each cell: 2 rows x 1 column x 2
    assert hog_features(torch.rand(5, 1, 8, 8)).shape == (5, 4 * 4 * 9)  # digits: 144 features


def test_uniform_logits_until_one_epoch_then_the_classifiers_log_probabilities():
    sandbox.seed_everything(0)
    env = digits()
    agent = sandbox.make_agent("pipeline", env)
    assert agent.fit_after == len(env.X) == 1258
    obs = env.X[:5]
    assert torch.equal(agent.act(obs), torch.zeros(5, 10))  # p = 1/10 before the fit
    result = sandbox.train(env, agent, 1200, seed=0, logdir=None, progress=False)
    assert agent.classifier is None and agent.num_seen == 1216  # 19 batches: not yet an epoch
    result = sandbox.train(env, agent, 1280, seed=0, logdir=None, progress=False)
    assert agent.classifier is not None and agent.num_seen == 1280
    logits = agent.act(obs)
    assert logits.shape == (5, 10) and logits.dtype == torch.float32
    assert torch.allclose(logits.exp().sum(dim=1), torch.ones(5), atol=1e-4)  # log-probabilities
    assert result.metrics["eval/accuracy"] >= 0.95


@pytest.mark.parametrize("feedback", ["gradient", "bandit"])
def test_a_feedback_without_labels_is_refused_naming_the_fix(feedback):
    env = sandbox.make("sandbox/Digits-v0", feedback=feedback)
    with pytest.raises(
        sandbox.UsageError, match=f"feedback is '{feedback}'; use --env.feedback label"
    ):
        sandbox.make_agent("pipeline", env)


def test_the_cli_runs_it_and_refuses_the_wrong_feedback_in_one_line(capsys, tmp_path):
    line = ["run", "sandbox/Digits-v0", "pipeline", "--steps", "1280", "--logdir", str(tmp_path)]
    assert cli([*line, "--env.feedback", "bandit", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "use --env.feedback label" in err and not any(tmp_path.iterdir())
    )
    assert cli([*line, "--env.feedback", "label", "--features", "pca", "--no-progress"]) == 0
    (run_dir,) = (tmp_path / "default").iterdir()
    config = sandbox.load_checkpoint(run_dir)["config"]
    assert config["agent"] == "pipeline" and config["agent_config"]["features"] == "pca"


def test_other_envs_flat_features_and_two_classes():
    iris = sandbox.make("sandbox/Iris-v0", num_envs=16, feedback="label")
    with pytest.raises(sandbox.UsageError, match="features 'hog' needs images"):
        sandbox.make_agent("pipeline", iris)
    with pytest.raises(sandbox.UsageError, match="no classes"):
        sandbox.make_agent("pipeline", sandbox.make("sandbox/Diabetes-v0", feedback="label"))
    agent = sandbox.make_agent("pipeline", iris, features="pca")  # 20 components -> 4 features
    result = sandbox.train(iris, agent, len(iris.X), seed=0, logdir=None, progress=False)
    assert result.metrics["eval/accuracy"] >= 0.9
    cancer = sandbox.make("sandbox/BreastCancer-v0", num_envs=32, feedback="label")
    agent = sandbox.make_agent("pipeline", cancer, features="pixels", classifier="svm")
    result = sandbox.train(cancer, agent, len(cancer.X), seed=0, logdir=None, progress=False)
    assert agent.act(cancer.X[:4]).shape == (4,)  # one logit: the log-odds of class 1
    assert result.metrics["eval/accuracy"] >= 0.9


def test_save_load_refits_to_identical_actions():
    env = sandbox.make("sandbox/BreastCancer-v0", num_envs=32, feedback="label")
    agent = sandbox.make_agent("pipeline", env, features="pca", classifier="svm")
    sandbox.train(env, agent, len(env.X), seed=0, logdir=None, progress=False)
    other = sandbox.make_agent("pipeline", env, features="pca", classifier="svm")
    other.load_state_dict(agent.state_dict())
    assert torch.equal(other.act(env.X), agent.act(env.X))


def test_resume_across_the_fit_matches_a_straight_run_and_the_checkpoint_is_weights_only(
    tmp_path,
):
    straight = sandbox.train(
        env := digits(), sandbox.make_agent("pipeline", env), 1280, seed=0, logdir=None,
        progress=False,
    )  # fmt: skip
    first = sandbox.train(  # stopped before the fit, with 640 samples buffered
        env := digits(), sandbox.make_agent("pipeline", env), 640, seed=0, logdir=tmp_path,
        progress=False,
    )  # fmt: skip
    assert sandbox.load_checkpoint(first.run_dir)["agent"]["X_seen"].shape == (640, 144)
    resumed = sandbox.train(  # load_checkpoint reads it with torch.load(weights_only=True)
        env := digits(), sandbox.make_agent("pipeline", env), 1280, seed=0,
        resume=first.run_dir, progress=False,
    )  # fmt: skip
    assert resumed.metrics == straight.metrics
