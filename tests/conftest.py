"""Shared fixtures: tiny runs, read-back of TensorBoard event files."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

import sandbox

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


def pytest_configure(config):
    # The torchvision sets (MNIST, FashionMNIST, CIFAR-10) are read from tiny files in their
    # formats (tests/fake_data.py), so every registered env is built and checked here.
    from tests.fake_data import fake_data_root

    root = fake_data_root(Path(tempfile.mkdtemp(prefix="sandbox-data-")))
    os.environ["SANDBOX_DATA_ROOT"] = config._sandbox_data_root = str(root)


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_sandbox_data_root", ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test, as the CLI and the scripts run: small nets gain nothing
    from more, and on a busy 2-core machine a second thread's waits cost more than its work."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


SCRIPTS = Path(__file__).parent.parent / "scripts"


def load_script(name):
    """``scripts/<name>.py`` imported as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"script_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(name, capsys, *args):
    """Import ``scripts/<name>.py``, call its ``main(args)``; its result and what it printed.

    Tests call ``main`` in-process (no interpreter start-up); the autouse fixture above gives
    it one torch thread, as the scripts set for themselves when run as commands.
    """
    return load_script(name).main(list(args)), capsys.readouterr().out


def sandbox_cli(cwd, *args: str) -> subprocess.CompletedProcess:
    """The installed ``sandbox`` console script, run from ``cwd`` as a user would (a fixed
    ``PYTHONHASHSEED``, so set-ordered output repeats)."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    sandbox_bin = Path(sys.executable).with_name("sandbox")
    return subprocess.run(
        [str(sandbox_bin), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )
