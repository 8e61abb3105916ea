"""Same seed, same device: bit-identical parameters and curves (DESIGN §6)."""

from __future__ import annotations

import torch

from tests.conftest import linreg_run, read_scalars


def test_same_seed_gives_bit_identical_parameters_and_curves(tmp_path):
    a, ra = linreg_run(tmp_path / "a", steps=1000, seed=7)
    b, rb = linreg_run(tmp_path / "b", steps=1000, seed=7)
    for p, q in zip(a.net.parameters(), b.net.parameters(), strict=True):
        assert torch.equal(p, q)
    sa, sb = read_scalars(ra.run_dir), read_scalars(rb.run_dir)
    assert sa["reward/mean"] == sb["reward/mean"]


def test_another_seed_gives_other_parameters(tmp_path):
    a, _ = linreg_run(tmp_path / "a", steps=200, seed=1)
    b, _ = linreg_run(tmp_path / "b", steps=200, seed=2)
    assert not torch.equal(a.net[1].weight, b.net[1].weight)
