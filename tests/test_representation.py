"""What TensorBoard shows of learning itself: feature maps, the projector, gradients."""

from __future__ import annotations

import csv

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import sandbox
from tests.conftest import read_scalars


def _run(tmp_path, steps, **kwargs):
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/Digits-v0", num_envs=64)
    agent = sandbox.make_agent("gradient", env, optimizer="adam", lr=3e-3, **kwargs.pop("agent"))
    return sandbox.train(env, agent, steps, seed=0, logdir=tmp_path, progress=False, **kwargs)


def test_a_cnn_run_shows_feature_maps_and_a_labelled_embedding_with_sprites(tmp_path):
    result = _run(tmp_path, 3_000, agent={"model": "cnn"}, projector=True)
    acc = EventAccumulator(str(result.run_dir), size_guidance={"images": 0})
    acc.Reload()
    maps = [t for t in acc.Tags()["images"] if t.startswith("media/feature_maps/")]
    assert maps  # one grid per conv layer
    config = (result.run_dir / "projector_config.pbtxt").read_text()
    assert "metadata_path" in config and "sprite" in config
    (step_dir,) = [p.parent for p in result.run_dir.glob("*/embedding/tensors.tsv")]
    rows = list(csv.reader(open(step_dir / "tensors.tsv"), delimiter="\t"))
    labels = (step_dir / "metadata.tsv").read_text().split()
    test = sandbox.make("sandbox/Digits-v0").eval_env()
    assert len(rows) == len(labels) == min(512, len(test.X))
    assert labels == [str(v) for v in test.y[: len(labels)].tolist()]  # the held-out labels
    assert (step_dir / "sprite.png").stat().st_size > 1000


def test_histograms_and_grad_norm_are_opt_in(tmp_path):
    plain = _run(tmp_path / "plain", 1_000, agent={"model": "mlp"})
    watched = _run(tmp_path / "watched", 1_000, agent={"model": "mlp"}, histograms=True)
    acc = EventAccumulator(str(watched.run_dir), size_guidance={"histograms": 0})
    acc.Reload()
    tags = acc.Tags()["histograms"]
    assert {"weights/net.1.weight", "grads/net.1.weight"} <= set(tags)
    # each parameter once, not again under the agent's DDP-ready alias (train_net)
    assert not [tag for tag in tags if "train_net" in tag], tags
    norms = [v for _, v in read_scalars(watched.run_dir)["train/grad_norm"]]
    assert norms and all(v > 0 for v in norms)
    assert "train/grad_norm" not in read_scalars(plain.run_dir)
    plain_acc = EventAccumulator(str(plain.run_dir))
    plain_acc.Reload()
    assert plain_acc.Tags()["histograms"] == []
    assert not list(plain.run_dir.glob("*/embedding"))  # the projector is opt-in too
