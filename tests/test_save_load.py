"""Checkpoints: round trip, exact resume, bad files refused with the good one untouched."""

from __future__ import annotations

import pytest
import torch

import sandbox
from sandbox.checkpoint import FILENAME
from tests.conftest import linreg_run, read_scalars


def test_agent_state_round_trip_gives_identical_actions(tmp_path):
    agent, result = linreg_run(tmp_path, steps=500)
    state = sandbox.load_checkpoint(result.run_dir)
    env = sandbox.make("sandbox/LinReg-v0")
    fresh = sandbox.make_agent("gradient", env)
    obs = env.reset(seed=5)[0]
    assert not torch.equal(fresh.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    fresh.load_state_dict(state["agent"])
    assert torch.equal(fresh.act(obs, deterministic=True), agent.act(obs, deterministic=True))
    assert state["samples"] == 500 and state["config"]["agent_config"]["lr"] == 0.03


@pytest.mark.parametrize("model", ["linear", "mlp"])
def test_resume_continues_bit_identically(tmp_path, model):
    """A run stopped at 600 samples and resumed to 1500 ends where an unbroken run ends."""

    def run(steps, logdir, resume=None):
        sandbox.seed_everything(0)
        env = sandbox.make("sandbox/LinReg-v0")
        agent = sandbox.make_agent(
            "gradient", env, model=model, dropout=0.2 * (model == "mlp"), optimizer="adam", lr=0.01
        )
        result = sandbox.train(
            env,
            agent,
            steps,
            seed=0,
            logdir=logdir,
            progress=False,
            resume=resume,
            log_every=100,
            eval_every=500,
        )
        return agent, result

    whole, _ = run(1500, tmp_path / "whole")
    _, part = run(600, tmp_path / "part")
    resumed, result = run(1500, None, resume=part.run_dir)
    assert result.run_dir == part.run_dir and result.samples == 1500
    for p, q in zip(whole.net.parameters(), resumed.net.parameters(), strict=True):
        assert torch.equal(p, q)
    steps = [s for s, _ in read_scalars(part.run_dir)["reward/mean"]]
    assert steps == list(range(100, 1501, 100))  # one axis, continued, nothing repeated


def test_corrupt_checkpoint_is_refused_clearly(tmp_path):
    _, result = linreg_run(tmp_path, steps=200)
    path = result.run_dir / FILENAME
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(sandbox.CheckpointError, match="corrupt or not a torch checkpoint"):
        sandbox.load_checkpoint(result.run_dir)
    path.write_bytes(b"")
    with pytest.raises(sandbox.CheckpointError, match="corrupt"):
        sandbox.load_checkpoint(path)


def test_foreign_checkpoint_is_refused_and_names_the_format(tmp_path):
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(sandbox.CheckpointError, match="not a sandbox checkpoint"):
        sandbox.load_checkpoint(tmp_path / "other.pt")


def test_atomic_write_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    path = sandbox.save_checkpoint(tmp_path / FILENAME, {"samples": 1})

    def failing_save(obj, f):
        with open(f, "wb") as fh:
            fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(sandbox.CheckpointWriteError) as caught:
        sandbox.save_checkpoint(path, {"samples": 2})
    monkeypatch.undo()
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and "disk full" in message
    assert "bytes free" in message and "the previous checkpoint is kept" in message
    assert torch.load(path, weights_only=True)["samples"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [FILENAME]  # no temp file left
