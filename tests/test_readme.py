"""Every command and Python block of the README, run as a user would run it.

Each command runs in a fresh directory outside the repo (holding the README's example files
from ``scripts/``), through the installed console script, with budgets cut to seconds: a
``--steps`` above ``STEPS`` becomes ``STEPS``, ``--seeds 0-4`` becomes ``--seeds 0-1``, the
tour runs ``--budget tiny``. A command that reads runs (``<run>``, ``sandbox compare``) first
runs the README's nearest ``run`` command above it with the same launcher, there, so that
each test stands alone (pytest-xdist spreads them over processes). Placeholders get real
values: ``<run>`` the run directory made so, ``PATH`` a weights file. A Python block runs as
a script with its ``steps=`` cut the same way; a block marked ``<!-- fragment: FILE -->``
shows part of FILE: its lines must be FILE's.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
BIN = Path(sys.executable).parent
STEPS = 1024
"""The largest budget a README command runs with here."""

BLOCK = re.compile(
    r"(?:<!-- fragment: (?P<fragment>\S+) -->\n)?```(?P<lang>bash|python)\n(?P<body>.*?)```", re.S
)
NOT_HERE = {
    "make test": "it is what CI runs: this suite",
    "--nnodes 2": "needs two machines",
}
"""Commands not run by this file, and why."""


def blocks(lang: str) -> list[re.Match]:
    return [m for m in BLOCK.finditer(README) if m["lang"] == lang]


def commands() -> list[str]:
    """The README's shell commands, continuation lines joined, comments dropped."""
    found = []
    for block in blocks("bash"):
        for line in block["body"].replace("\\\n", " ").splitlines():
            line = line.split(" # ")[0].strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def shrink(argv: list[str]) -> list[str]:
    """The same command with a budget of seconds, run by this venv's console scripts."""
    argv = list(argv)
    if argv[0] == "make":
        assert argv == ["make", "demo"], argv  # `make demo` is the tour
        argv = ["sandbox", "tour"]
    argv[0] = str(BIN / Path(argv[0]).name)  # sandbox, .venv/bin/sandbox, .venv/bin/torchrun
    for i, arg in enumerate(argv[:-1]):
        if arg == "--steps" and "--resume" not in argv:  # a resume asks for more
            argv[i + 1] = str(min(int(argv[i + 1]), STEPS))
        if arg == "--seeds":
            argv[i + 1] = "0-1"
    sub = argv[argv.index("sandbox") + 1] if "sandbox" in argv else argv[1]
    if sub == "tour":
        argv += ["--budget", "tiny"]
    if sub == "run" and "--help" not in argv:
        argv += ["--no-progress"] + (["--steps", str(STEPS)] if "--steps" not in argv else [])
    return argv


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A ResNet-18 weights file for the README's ``--weights PATH``."""
    import torch
    import torchvision

    path = tmp_path_factory.mktemp("weights") / "weights.pt"
    torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), path)
    return path


@pytest.fixture
def user_dir(tmp_path):
    """A directory outside the repo with the README's example files."""
    for name in ("custom_env.py", "custom_agent.py", "custom_torch_env.py"):
        shutil.copy(REPO / "scripts" / name, tmp_path / name)
    return tmp_path


def launcher(command: str) -> str:
    return Path(shlex.split(command)[0]).name  # sandbox or torchrun


def makes_a_run(command: str) -> bool:
    argv = shlex.split(command)
    return "run" in argv and "--resume" not in argv and "--help" not in argv


def run_before(command: str) -> str:
    """The nearest README command above ``command`` that trains a run, with its launcher."""
    cmds = commands()
    for earlier in reversed(cmds[: cmds.index(command)]):
        skipped = any(key in earlier for key in NOT_HERE)
        if makes_a_run(earlier) and not skipped and launcher(earlier) == launcher(command):
            return earlier
    raise AssertionError(f"no README run command above {command!r}")


def run_readme(argv: list[str], cwd: Path) -> None:
    out = subprocess.run(shrink(argv), cwd=cwd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{shlex.join(argv)}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"


def test_the_readme_has_the_commands_this_file_runs():
    cmds = commands()
    assert cmds[:2] == ["make demo", "make test"]  # the two commands of a fresh machine
    assert any("sandbox run" in c for c in cmds) and blocks("python")


@pytest.mark.slow
@pytest.mark.parametrize("command", commands())
def test_a_readme_command_runs(command, user_dir, weights):
    skip = [why for key, why in NOT_HERE.items() if key in command]
    if skip:
        pytest.skip(skip[0])
    argv = shlex.split(command)
    if "<run>" in command or " compare " in command:  # it reads a run: make one first
        run_readme(shlex.split(run_before(command)), user_dir)
    if "<run>" in command:
        [checkpoint] = user_dir.glob("runs/*/*/checkpoint.pt")
        argv = [a.replace("runs/default/<run>", str(checkpoint.parent)) for a in argv]
        if "--resume" in argv:  # a resume asks for more (sandbox eval takes no --steps)
            argv += ["--steps", str(2 * STEPS)]
    run_readme([str(weights) if a == "PATH" else a for a in argv], user_dir)


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(blocks("python"))))
def test_a_readme_python_block_runs(index, user_dir):
    block = blocks("python")[index]
    if block["fragment"]:  # part of a file: the file runs in the tests of scripts/
        source = (REPO / block["fragment"]).read_text()
        for call in re.findall(r"[\w.]+\(", block["body"]):  # what it calls, the file calls
            assert call in source, f"README's fragment of {block['fragment']} calls {call}"
        return
    code = re.sub(r"steps=[\d_]+", f"steps={STEPS}", block["body"])
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=user_dir, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, f"{block['body']}\n{out.stderr[-2000:]}"
