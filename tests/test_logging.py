"""TensorBoard: the tags of DESIGN §5 against samples, the config, HParams without a sub-run."""

from __future__ import annotations

import math

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from sandbox.logger import make_run_dir
from tests.conftest import linreg_run, read_scalars


def test_run_holds_the_shared_tags_on_the_samples_axis(tmp_path):
    _, result = linreg_run(tmp_path, steps=2000, log_every=200, eval_every=1000)
    scalars = read_scalars(result.run_dir)
    for tag in ("reward/mean", "train/loss", "time/fps", "eval/score", "eval/r2", "eval/mse"):
        assert tag in scalars, tag
    assert [s for s, _ in scalars["reward/mean"]] == list(range(200, 2001, 200))
    assert [s for s, _ in scalars["eval/score"]] == [1000, 2000]
    # reward is minus the loss for this agent: the two curves mirror each other
    for (_, r), (_, loss) in zip(scalars["reward/mean"], scalars["train/loss"], strict=True):
        assert math.isclose(r, -loss, rel_tol=1e-5)
    assert scalars["eval/score"][-1][1] == result.metrics["eval/score"] > 0.99
    assert list(result.run_dir.parent.iterdir()) == [result.run_dir]  # no stray sub-runs


def test_config_table_and_hparams_session_are_in_the_run(tmp_path):
    _, result = linreg_run(tmp_path, steps=200)
    acc = EventAccumulator(str(result.run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    tags = acc.Tags()["tensors"]
    assert "config/text_summary" in tags and "_hparams_/session_start_info" in tags
    text = acc.Tensors("config/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| agent_config.lr | 0.03 |" in text and "| env_id | sandbox/LinReg-v0 |" in text
    raw = acc.Tensors("_hparams_/session_start_info")[0]
    data = plugin_data_pb2.HParamsPluginData.FromString(
        acc.SummaryMetadata("_hparams_/session_start_info").plugin_data.content
    )
    hparams = data.session_start_info.hparams
    assert hparams["agent_config.lr"].number_value == 0.03
    assert hparams["env_id"].string_value == "sandbox/LinReg-v0"
    assert raw is not None


def test_run_dirs_are_named_and_never_shared(tmp_path):
    dirs = [make_run_dir(tmp_path, "exp", "sandbox/LinReg-v0", "gradient", 3) for _ in range(5)]
    assert len(set(dirs)) == 5
    assert all(d.parent == tmp_path / "exp" for d in dirs)
    assert dirs[0].name.startswith("sandbox-LinReg-v0__gradient__s3__")
