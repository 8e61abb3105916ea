"""A real `tensorboard --logdir` server finds our runs, their tags and their hparams."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager

import sandbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def tensorboard_server(logdir):
    """Start TensorBoard on a free loopback port; yield a GET/POST helper; always stop it."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(logdir),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--reload_interval",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def api(path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            data=data,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if api("/data/runs"):
                    break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "tensorboard did not serve the runs in 90 s"
            time.sleep(0.5)
        yield api
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_tensorboard_serves_runs_tags_hparams_and_layout(tmp_path):
    dirs = []
    for seed in (0, 1):
        env = sandbox.make("sandbox/LinReg-v0")
        result = sandbox.train(
            env,
            sandbox.make_agent("gradient", env),
            500,
            seed=seed,
            logdir=tmp_path,
            experiment="e",
            progress=False,
        )
        dirs.append(f"e/{result.run_dir.name}")
    with tensorboard_server(tmp_path) as api:
        assert sorted(api("/data/runs")) == sorted(dirs)  # no stray hparams sub-runs
        tags = api("/data/plugin/scalars/tags")
        for run in dirs:
            assert {"reward/mean", "eval/score", "eval/r2", "train/loss", "time/fps"} <= set(
                tags[run]
            )
        points = api(f"/data/plugin/scalars/scalars?run={dirs[0]}&tag=eval/score")
        assert points[-1][1] == 500 and points[-1][2] > 0.99  # [wall time, samples, value]
        experiment = api("/data/plugin/hparams/experiment", {"experimentName": ""})
        hparams = {h["name"] for h in experiment["hparamInfos"]}
        assert {"agent_config.lr", "env_id", "seed", "steps"} <= hparams
        assert "eval/score" in {m["name"]["tag"] for m in experiment["metricInfos"]}
        layout = api("/data/plugin/custom_scalars/layout")
        charts = [c["multiline"]["tag"] for cat in layout["category"] for c in cat["chart"]]
        assert [r"^eval/score$"] in charts
