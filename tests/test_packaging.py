"""Installing the sandbox into a user's environment keeps their torch."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def runtime_requirements() -> list[Requirement]:
    with open(PYPROJECT, "rb") as f:
        return [Requirement(r) for r in tomllib.load(f)["project"]["dependencies"]]


def test_runtime_dependencies_admit_what_is_installed():
    for req in runtime_requirements():
        installed = Version(version(req.name)).public  # 2.14.1+cu130 -> 2.14.1
        assert req.specifier.contains(installed), (str(req), installed)


def test_torch_is_a_range_not_a_pin():
    """A pin would replace a user's torch (a CUDA build of several GB) on `pip install`."""
    reqs = {r.name: r for r in runtime_requirements()}
    for name, older in (("torch", "2.6.0"), ("torchvision", "0.21.0")):
        assert reqs[name].specifier.contains(older), str(reqs[name])
