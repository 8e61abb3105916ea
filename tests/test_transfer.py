"""Transfer learning (agents/transfer.py): weights loaded exactly, a frozen backbone, a new head.

The weights are files the tests make themselves (a randomly initialized torchvision model's
state_dict, with another head size), so nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

import sandbox
from agents.gradient import GradientAgent, GradientConfig
from envs.supervised import SupervisedEnv
from sandbox.apps.cli import main
from sandbox.core import Transition, UsageError

SCRIPTS = Path(__file__).parent.parent / "scripts"
HEADS = {"resnet18": "fc.", "mobilenet_v3_small": "classifier.3."}


def weights_file(tmp_path: Path, name: str = "resnet18") -> tuple[Path, dict]:
    """A torchvision ``name`` with a 7-class head, random weights, saved as a state_dict."""
    torch.manual_seed(123)
    state = torchvision.models.get_model(name, num_classes=7).state_dict()
    path = tmp_path / f"{name}-tiny.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def digits():
    return sandbox.make("sandbox/Digits-v0", num_envs=8, device="cpu")


def load_script():
    """``scripts/transfer_learning.py`` as a module."""
    spec = importlib.util.spec_from_file_location("script", SCRIPTS / "transfer_learning.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def learn_once(agent: GradientAgent, env) -> None:
    """One act-step-learn, as the loop does it."""
    obs, _ = env.reset(seed=0)
    action = agent.act(obs)
    next_obs, reward, terminated, truncated, info = env.step(action)
    agent.learn(Transition(obs, action, reward, next_obs, terminated, truncated, info))


@pytest.mark.parametrize("name", list(HEADS))
def test_loading_puts_the_files_tensors_in_the_backbone_under_a_new_head(tmp_path, digits, name):
    path, state = weights_file(tmp_path, name)
    agent = GradientAgent(digits, GradientConfig(model=name, weights=str(path)))
    loaded, head = agent.net.backbone.state_dict(), HEADS[name]
    body = [k for k in state if not k.startswith(head)]
    assert body and all(torch.equal(loaded[k], state[k]) for k in body)
    assert loaded[head + "weight"].shape[0] == 10  # the env's classes, not the file's 7
    obs, _ = digits.reset(seed=0)
    assert agent.act(obs).shape == (8, 10)


def test_freeze_no_gradient_reaches_the_backbone_and_only_the_head_learns(tmp_path, digits):
    path, _ = weights_file(tmp_path)
    agent = GradientAgent(
        digits, GradientConfig(model="resnet18", weights=str(path), freeze=True, lr=0.1)
    )
    before = {k: v.clone() for k, v in agent.net.state_dict().items()}  # BatchNorm stats too
    learn_once(agent, digits)
    after = agent.net.state_dict()
    frozen = [(n, p) for n, p in agent.net.named_parameters() if not n.startswith("backbone.fc")]
    assert frozen and all(p.grad is None and not p.requires_grad for _, p in frozen)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"backbone.fc.weight", "backbone.fc.bias"}  # running stats unchanged
    (group,) = agent.optimizer.param_groups
    assert len(group["params"]) == 2  # the head's weight and bias, nothing frozen
    assert not agent.net.backbone.training and agent.net.head.training and agent.net.training


@pytest.mark.parametrize("channels,num_classes,action_shape", [(1, 2, ()), (3, 5, (5,))])
def test_the_head_fits_the_env_action(channels, num_classes, action_shape):
    X = torch.rand(40, channels, 12, 12)
    env = SupervisedEnv(X, torch.arange(40) % num_classes, num_envs=4)
    agent = GradientAgent(env, GradientConfig(model="resnet18", weights=None, freeze=True))
    obs, _ = env.reset(seed=0)
    assert agent.act(obs).shape == (4, *action_shape) == (4, *env.single_action_space.shape)
    learn_once(agent, env)


def test_without_weights_the_error_is_one_line_naming_the_file_and_the_fetch(
    tmp_path, digits, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torchvision cache
    with pytest.raises(UsageError) as e:
        GradientAgent(digits, GradientConfig(model="resnet18"))  # weights="DEFAULT"
    message = str(e.value)
    assert "\n" not in message and "--weights none to train from scratch" in message
    cached = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    assert str(cached) in message
    assert "torchvision.models.resnet18(weights='DEFAULT')" in message
    with pytest.raises(UsageError, match=r"no weights file /nowhere/w\.pth: .* or --weights none"):
        GradientAgent(digits, GradientConfig(model="resnet18", weights="/nowhere/w.pth"))

    path, state = weights_file(tmp_path)  # the cached file, as torchvision names it
    cached.parent.mkdir(parents=True)
    path.rename(cached)
    agent = GradientAgent(digits, GradientConfig(model="resnet18", weights="IMAGENET1K_V1"))
    assert torch.equal(agent.net.backbone.conv1.weight, state["conv1.weight"])


def test_weights_of_another_architecture_and_misused_options_are_usage_errors(tmp_path, digits):
    path, _ = weights_file(tmp_path, "mobilenet_v3_small")
    with pytest.raises(UsageError, match="weights do not fit ResNet"):
        GradientAgent(digits, GradientConfig(model="resnet18", weights=str(path)))
    with pytest.raises(ValueError, match="weights and freeze apply to the torchvision models"):
        GradientConfig(model="mlp", freeze=True)
    flat = sandbox.make("sandbox/Iris-v0", num_envs=8, device="cpu")
    with pytest.raises(UsageError, match=r"needs images \(C, H, W\) with 1 or 3 channels"):
        GradientAgent(flat, GradientConfig(model="resnet18", weights=None))


def test_a_frozen_agent_saves_and_loads(tmp_path, digits):
    path, _ = weights_file(tmp_path)
    config = GradientConfig(model="resnet18", weights=str(path), freeze=True, optimizer="adam")
    agent = GradientAgent(digits, config)
    learn_once(agent, digits)
    other = GradientAgent(digits, config)
    other.load_state_dict(agent.state_dict())
    obs, _ = digits.reset(seed=1)
    assert torch.equal(agent.act(obs, deterministic=True), other.act(obs, deterministic=True))


def test_the_command_line_transfers_and_a_missing_cache_is_one_line(tmp_path, capsys, monkeypatch):
    path, _ = weights_file(tmp_path)
    run = ["run", "sandbox/Digits-v0", "gradient", "--model", "resnet18", "--steps", "64"]
    flags = ["--logdir", str(tmp_path / "runs"), "--no-progress", "--eval-every", "64"]
    assert main([*run, "--weights", str(path), "--freeze", *flags]) == 0
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    assert main([*run, *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--weights none to train from scratch" in err


@pytest.mark.slow
def test_the_script_pretrained_and_frozen_beats_from_scratch(capsys):
    module = load_script()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rows = module.main(["--logdir", ""])
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    pretrained, scratch = rows["target: pretrained, frozen"], rows["target: from scratch"]
    assert pretrained["samples"] == scratch["samples"]  # equal budget
    assert pretrained["accuracy"] - scratch["accuracy"] > 0.1
    assert "beats from scratch by more than 10 points at equal budget: yes" in out
    assert pretrained["trainable"] < scratch["trainable"] / 1000  # the head alone


@pytest.mark.slow
def test_the_script_runs_as_a_command_with_a_tiny_budget(tmp_path):
    tiny = ["--source-epochs", "0.1", "--epochs", "1", "--per-class", "2"]
    subprocess.run(
        [sys.executable, str(SCRIPTS / "transfer_learning.py"), *tiny, "--logdir", str(tmp_path)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert [p.name for p in tmp_path.iterdir()] == ["transfer_learning"]
    runs = sorted(p.name for p in (tmp_path / "transfer_learning").iterdir())
    assert runs == ["pretrained", "resnet18-digits-source.pth", "scratch", "source"]


def test_the_script_takes_weights_of_its_own_instead_of_the_source_task(tmp_path, capsys):
    path, _ = weights_file(tmp_path)
    rows = load_script().main(["--weights", str(path), "--epochs", "1", "--logdir", ""])
    assert list(rows) == ["target: pretrained, frozen", "target: from scratch"]
    assert "| target: pretrained, frozen |            5,130 |      50 |" in capsys.readouterr().out
