"""The supervised scripts: each runs, and each claim it prints is what its numbers say.

Every script is run in-process at its default budget (the figures it prints), with nothing
written, and the printed verdicts are checked against thresholds asserted here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests import conftest
from tests.conftest import SCRIPTS, read_scalars


def run_script(name, capsys, *args):
    """A script's ``main`` with no TensorBoard runs (``--logdir ""``)."""
    return conftest.run_script(name, capsys, "--logdir", "", *args)


def test_linear_regression_recovers_w_and_b(capsys):
    result, out = run_script("linear_regression", capsys)
    assert result["error"] < 0.05 and result["r2"] > 0.99
    assert "recovered within 0.05 of the truth: yes" in out
    assert "|  2.00 |" in out and "| -3.40 |" in out and "|  4.20 |" in out


def test_classify_digits_prints_softmax_probabilities(capsys):
    result, out = run_script("classify_digits", capsys)
    assert result["accuracy"] >= 0.95 and "accuracy >= 0.95: yes" in out
    probs = result["probs"]
    assert torch.allclose(probs.sum(1), torch.ones(len(probs))) and (probs >= 0).all()
    assert out.count("|   1.000 |") == len(probs)  # every printed row sums to 1


def test_overfitting_dropout_and_weight_decay_narrow_the_gap(capsys):
    rows, out = run_script("overfitting", capsys)
    plain = rows["plain"]
    assert plain["train_accuracy"] == 1.0 and plain["val_accuracy"] < 0.85  # it memorised
    for name in ("dropout 0.5", "weight decay"):
        for metric in ("accuracy", "reward"):
            gap = rows[name][f"train_{metric}"] - rows[name][f"val_{metric}"]
            assert gap < plain[f"train_{metric}"] - plain[f"val_{metric}"] - 0.03, (name, metric)
        assert f"{name} narrows the train-val gap (accuracy and reward): yes" in out


def test_overfitting_runs_log_the_gap_curve_widest_without_dropout(capsys, tmp_path):
    rows, _ = conftest.run_script("overfitting", capsys, "--logdir", str(tmp_path))
    curves = {name: read_scalars(row["run_dir"]) for name, row in rows.items()}
    for name, scalars in curves.items():
        gap, train, val = (
            scalars[f"eval/{t}"] for t in ("generalization_gap", "train_score", "score")
        )
        assert len(gap) == 50  # an evaluation every 2 of the 100 epochs
        assert all(
            abs(g - (tr - v)) < 1e-6
            for (_, g), (_, tr), (_, v) in zip(gap, train, val, strict=True)
        )
        final = rows[name]["train_accuracy"] - rows[name]["val_accuracy"]
        assert abs(gap[-1][1] - final) < 1e-6, name  # the table's accuracy gap, logged
    plain, dropout = (
        curves["plain"]["eval/generalization_gap"],
        curves["dropout 0.5"]["eval/generalization_gap"],
    )
    assert plain[-1][1] > dropout[-1][1] + 0.03  # seed 0: 0.21 vs 0.13
    assert plain[-1][1] > plain[0][1]  # the gap opened as the big MLP memorised


def test_garbage_in_label_noise_costs_accuracy(capsys):
    accuracy, out = run_script("garbage_in", capsys)
    assert accuracy[0.0] - accuracy[0.4] > 0.03
    assert "40% wrong labels cost" in out and "more than 3" in out and "not more" not in out
    assert accuracy[0.0] >= accuracy[0.2] >= accuracy[0.4] >= accuracy[0.6]
    assert "accuracy falls as the noise grows: yes" in out


@pytest.mark.slow
def test_augmentation_buys_the_invariance_it_names_and_flips_cost(capsys):
    rows, out = run_script("augmentation", capsys)
    none, right, wrong = rows["none"], rows["shift+rotate"], rows["shift+flip"]
    assert right["moved"] - none["moved"] > 0.2  # reads shifted, rotated digits
    assert abs(right["clean"] - none["clean"]) < 0.03  # and the clean ones as before
    assert none["clean"] - wrong["clean"] > 0.03  # mirrored digits teach the wrong thing
    assert "raises accuracy on moved test digits" in out and ": yes (> 20)" in out
    assert "within" in out and ": yes (< 3)" in out
    assert "shift+flip costs clean-test accuracy" in out and ": yes (> 3)" in out
    assert "no (" not in out


@pytest.mark.slow
def test_every_script_runs_as_a_command_with_a_tiny_budget(tmp_path):
    """One subprocess (one ``import torch``) runs all five from the command line."""
    tiny = {
        "linear_regression": ["--steps", "100"],
        "classify_digits": ["--epochs", "1"],
        "overfitting": ["--epochs", "2"],
        "garbage_in": ["--epochs", "1"],
        "augmentation": ["--epochs", "1"],
    }
    driver = "import runpy, sys\n" + "".join(
        f"sys.argv = {[str(SCRIPTS / f'{name}.py'), *args, '--logdir', str(tmp_path)]!r}\n"
        f"runpy.run_path(sys.argv[0], run_name='__main__')\n"
        for name, args in tiny.items()
    )
    subprocess.run([sys.executable, "-c", driver], check=True, capture_output=True, timeout=300)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(tiny)  # TensorBoard runs
