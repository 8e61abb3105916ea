"""Syllabus scripts (issue #8): end to end vs a pipeline, GPU speed-up, autograd.

Each runs in-process at its default budget where its printed claims are checked, and all
run from the command line with tiny budgets in one subprocess.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.conftest import SCRIPTS, load_script, run_script


def test_end_to_end_the_cnn_beats_every_hand_crafted_pipeline(capsys):
    rows, out = run_script("end_to_end", capsys, "--logdir", "")
    cnn = rows.pop("CNN, end to end")
    assert cnn["accuracy"] >= 0.98 and cnn["samples"] == 25_216  # 20 epochs of 1,258
    for name, row in rows.items():  # each pipeline: one epoch, then one fit
        assert 0.95 <= row["accuracy"] < cnn["accuracy"], name
        assert row["samples"] == 1_280, name
    assert "the CNN beats every pipeline: yes" in out
    hog, pixels = rows["HOG -> logistic regression"], rows["pixels -> logistic regression"]
    assert hog["accuracy"] > pixels["accuracy"]
    assert "HOG features beat raw pixels (logistic regression): yes" in out
    assert out.count("| no                |") == 3 and "| yes               |" in out


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_gpu_speedup_without_a_gpu_says_so_and_runs_the_cpu_half(capsys):
    rows, out = run_script("gpu_speedup", capsys, "--steps", "512", "--num-envs", "64")
    assert "no GPU here: torch" in out and "sees no CUDA device" in out
    for name, speeds in rows.items():
        assert list(speeds) == ["cpu"] and speeds["cpu"] > 0, name
        assert f"| {name:<28} | cpu    |" in out and "1.00x" in out
    assert "cuda" not in out.split("only the CPU half runs")[1]


@pytest.mark.gpu
def test_gpu_speedup_times_both_devices(capsys):
    rows, out = run_script("gpu_speedup", capsys, "--steps", "4096", "--num-envs", "256")
    assert "no GPU here" not in out
    for speeds in rows.values():
        assert list(speeds) == ["cpu", "cuda"] and min(speeds.values()) > 0
    assert out.count("| cuda   |") == 2


def test_autograd_equals_the_hand_derived_gradient_and_logs_histograms(capsys, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows, out = run_script("autograd", capsys, "--logdir", str(tmp_path))
    for name, row in rows.items():
        assert row["max_diff"] < 1e-5, name
        assert row["last_norm"] < row["first_norm"], name
    assert rows["linear regression"]["last_norm"] < rows["linear regression"]["first_norm"] / 100
    assert "autograd equals the hand-derived gradient (within 1e-5): yes" in out
    assert "the gradient's norm falls as each model learns: yes" in out
    runs = sorted((tmp_path / "autograd").iterdir())
    assert len(runs) == 2
    for run in runs:
        acc = EventAccumulator(str(run), size_guidance={"histograms": 0})
        acc.Reload()
        histograms = acc.Tags()["histograms"]
        assert {"grads/net.1.weight", "grads/net.1.bias"} <= set(histograms), histograms
        assert len(acc.Histograms("grads/net.1.weight")) == 20  # one per log


def test_gradients_by_hand_known_answer():
    module = load_script("autograd")
    X, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0]])
    dW, db = module.gradients_by_hand(X, torch.tensor([[4.0]]), y)  # ŷ - y = 1
    assert dW.tolist() == [[-2.0, -4.0]] and db.tolist() == [-2.0]
    # softmax: equal logits over 2 classes, label 0: onehot - p = [0.5, -0.5]
    dW, db = module.gradients_by_hand(X, torch.zeros(1, 2), torch.tensor([0]))
    assert dW.tolist() == [[0.5, 1.0], [-0.5, -1.0]] and db.tolist() == [0.5, -0.5]


@pytest.mark.slow  # 19-29 s on a busy 2-core machine: mostly importing torch and scikit-learn
def test_every_script_runs_as_a_command_with_a_tiny_budget(tmp_path):
    """One subprocess (one ``import torch``) runs all three from the command line."""
    tiny = {
        "end_to_end": ["--epochs", "1", "--logdir", str(tmp_path)],
        "gpu_speedup": ["--steps", "256", "--num-envs", "32"],
        "autograd": ["--steps", "200", "--logdir", str(tmp_path)],
    }
    driver = "import runpy, sys\n" + "".join(
        f"sys.argv = {[str(SCRIPTS / f'{name}.py'), *args]!r}\n"
        f"runpy.run_path(sys.argv[0], run_name='__main__')\n"
        for name, args in tiny.items()
    )
    out = subprocess.run(
        [sys.executable, "-c", driver], check=True, capture_output=True, text=True, timeout=300
    ).stdout
    assert "the CNN beats every pipeline" in out and "samples/s" in out and "by hand" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autograd", "end_to_end"]
    assert len(list((tmp_path / "end_to_end").iterdir())) == 4  # side by side in TensorBoard
