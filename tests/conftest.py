"""Shared fixtures: tiny runs, read-back of TensorBoard event files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sandbox

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="no CUDA device here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def read_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of a run, read back with TensorBoard's own reader: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def linreg_run(tmp_path: Path, steps: int = 2000, seed: int = 0, **train_kwargs):
    """A seeded LinReg run through the Python API; returns (agent, result)."""
    sandbox.seed_everything(seed)
    env = sandbox.make("sandbox/LinReg-v0")
    agent = sandbox.make_agent("gradient", env)
    result = sandbox.train(
        env, agent, steps, seed=seed, logdir=tmp_path, progress=False, **train_kwargs
    )
    return agent, result
