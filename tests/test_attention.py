"""Attention (d2l §11): the fused call is the formula, the recall env needs it, PPO can use it.

The claims of ``scripts/attention.py`` are checked in ``test_attention_script_claims``.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import sandbox
from agents.attention import MultiHeadSelfAttention
from envs.recall import make_recall
from sandbox.core import UsageError
from tests.conftest import read_scalars

SCRIPT = Path(__file__).parent.parent / "scripts" / "attention.py"


@pytest.mark.parametrize("num_heads", [1, 4])
def test_sdpa_attention_equals_softmax_qk_over_sqrt_d_times_v(num_heads):
    """The layer's fused ``scaled_dot_product_attention`` against the seed's formula, by hand."""
    torch.manual_seed(0)
    N, L, h = 3, 7, 16
    layer = MultiHeadSelfAttention(h, num_heads)
    x = torch.randn(N, L, h)
    Q, K, V = (x @ layer.qkv.weight.T + layer.qkv.bias).split(h, dim=-1)  # 3 x (N, L, h)
    d = h // num_heads
    outs, maps = [], []
    for i in range(num_heads):  # each head: its own d columns of Q, K and V
        q, k, v = (t[..., i * d : (i + 1) * d] for t in (Q, K, V))  # (N, L, d)
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(d), dim=-1)  # (N, L, L)
        outs.append(weights @ v)
        maps.append(weights)
    expected = torch.cat(outs, dim=-1) @ layer.out.weight.T + layer.out.bias  # (N, L, h)
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)
    weights = layer.attention_weights(x)  # (N, heads, L, L)
    torch.testing.assert_close(weights, torch.stack(maps, dim=1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(N, num_heads, L))


def test_recall_answer_is_the_value_stored_under_the_query_key():
    X, y = make_recall(500, num_pairs=5, num_keys=7, num_values=4, seed=3)
    assert X.shape == (500, 6, 11) and y.shape == (500,)
    keys, values = X[:, :-1, :7].argmax(-1), X[:, :-1, 7:].argmax(-1)  # (n, 5)
    assert all(len(set(row.tolist())) == 5 for row in keys)  # the keys of a sequence differ
    assert (X[:, -1, 7:] == 0).all() and (X[:, -1, :7].sum(-1) == 1).all()  # query: a key only
    asked = (keys == X[:, -1, :7].argmax(-1, keepdim=True)).float().argmax(-1)  # (n,)
    assert torch.equal(values.gather(1, asked[:, None]).squeeze(1), y)
    assert torch.equal(make_recall(500, 5, 7, 4, seed=3)[0], X)  # fixed by the seed
    assert y.bincount().min() > 90  # every value is asked about


def test_attention_learns_recall_and_an_mlp_does_not_at_the_same_budget(tmp_path, one_thread):
    """One head, 20,000 samples, seed 0: attention solves the lookup, the MLP stays far below;
    the attention maps are logged as images at each evaluation."""
    accuracy = {}
    for model, options in {"attention": {"num_hiddens": 64, "num_heads": 1}, "mlp": {}}.items():
        sandbox.seed_everything(0)
        env = sandbox.make("sandbox/Recall-v0", num_envs=64)
        agent = sandbox.make_agent(
            "gradient", env, model=model, optimizer="adam", lr=3e-3, num_layers=1, **options
        )
        result = sandbox.train(
            env, agent, 20_000, seed=0, logdir=tmp_path / model, eval_every=10_000, progress=False
        )
        accuracy[model] = result.metrics["eval/accuracy"]
        images = media_tags(result.run_dir)
        assert images == (["media/attention/blocks.0.attention"] if model == "attention" else [])
    assert accuracy["attention"] >= 0.95 and accuracy["mlp"] <= 0.5, accuracy
    assert "eval/accuracy" in read_scalars(result.run_dir)


def media_tags(run_dir: Path) -> list[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    acc.Reload()
    return acc.Tags()["images"]


def test_attention_maps_are_images_per_sample_and_head_in_0_1():
    env = sandbox.make("sandbox/Recall-v0", num_envs=8).eval_env()
    assert set(env.X.unique().tolist()) == {0.0, 1.0}  # not standardized: one-hot as generated
    agent = sandbox.make_agent("gradient", env, model="attention", num_hiddens=32, num_heads=2)
    (name, images), *rest = env.media(agent).items()
    assert name == "attention/blocks.0.attention" and not rest
    assert images.shape == (4 * 2, 1, 9 * 8, 9 * 8)  # 4 samples x 2 heads, 9 tokens x 8
    assert images.min() >= 0 and images.max() <= 1
    assert torch.allclose(images[:, 0, ::8, ::8].sum(-1), torch.ones(8, 9))  # rows: softmax


def test_attention_model_refuses_flat_observations_and_odd_heads():
    digits = sandbox.make("sandbox/Digits-v0")
    with pytest.raises(UsageError, match=r"sequence observations \(L, d\).*\(1, 8, 8\)"):
        sandbox.make_agent("gradient", digits, model="attention")
    recall = sandbox.make("sandbox/Recall-v0")
    with pytest.raises(UsageError, match="multiple of num_heads"):
        sandbox.make_agent("gradient", recall, model="attention", num_hiddens=30, num_heads=4)
    with pytest.raises(UsageError, match="attention policy.*sequence observations"):
        sandbox.make_agent(
            "ppo", sandbox.make("sandbox/Digits-v0", feedback="bandit"), net="attention"
        )


def test_ppo_with_an_attention_policy_learns_recall_as_a_bandit(one_thread):
    """Bandit feedback (1 if the named value is right): above chance (1/4) in 16,384 samples."""
    sandbox.seed_everything(0)
    env = sandbox.make(
        "sandbox/Recall-v0", num_envs=64, feedback="bandit", num_pairs=4, num_keys=8, num_values=4
    )
    agent = sandbox.make_agent(
        "ppo", env, net="attention", num_steps=16, lr=1e-3, num_layers=1, num_hiddens=32
    )
    assert isinstance(agent.net.actor, torch.nn.Module) and hasattr(agent.net.actor, "blocks")
    before = float(env.eval_env().score(lambda X: agent.act(X, deterministic=True))["accuracy"])
    result = sandbox.train(env, agent, 16_384, seed=0, logdir=None, progress=False)
    after = result.metrics["eval/accuracy"]
    assert after >= 0.4 and after > before + 0.1, (before, after)
    names = set(env.eval_env().media(agent))  # acting runs the actor only: its maps
    assert names == {"attention/actor.blocks.0.attention"}


@pytest.mark.slow
def test_attention_script_claims(capsys, one_thread):
    """The script at its default budget (60,000 samples per model): every printed claim."""
    spec = importlib.util.spec_from_file_location("script_attention", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--logdir", ""])
    out = capsys.readouterr().out
    attention, mlp = rows["attention"], rows["mlp"]
    assert attention["test_accuracy"] >= 0.95 and mlp["test_accuracy"] <= 0.5
    assert "attention solves it (test accuracy >= 0.95), the MLP does not (<= 0.5): yes" in out
    assert attention["on_key"] > attention["on_others"]
    assert attention["on_key"] > 3 / 9  # well above an even spread over the 9 tokens
    assert "reads its key's token more than all other pairs together: yes" in out
    assert attention["parameters"] < mlp["parameters"]


@pytest.mark.slow
def test_attention_script_runs_as_a_command_with_a_tiny_budget(tmp_path):
    subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", "640", "--logdir", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert [p.name for p in tmp_path.iterdir()] == ["attention"]
    assert len(list((tmp_path / "attention").iterdir())) == 2  # one run per model


@pytest.mark.parametrize("agent_id", ["gradient", "ppo"])
def test_attention_agents_same_seed_same_weights_and_state_round_trip(agent_id, one_thread):
    feedback, options = {
        "gradient": ("gradient", {"model": "attention", "optimizer": "adam"}),
        "ppo": ("bandit", {"net": "attention", "num_steps": 4}),
    }[agent_id]
    agents = []
    for _ in range(2):
        sandbox.seed_everything(1)
        env = sandbox.make("sandbox/Recall-v0", num_envs=16, feedback=feedback)
        agents.append(sandbox.make_agent(agent_id, env, num_hiddens=32, **options))
        sandbox.train(env, agents[-1], 640, seed=1, logdir=None, progress=False)
    a, b = (dict(agent.net.named_parameters()) for agent in agents)
    assert all(torch.equal(a[name], b[name]) for name in a)
    fresh = sandbox.make_agent(agent_id, env, num_hiddens=32, **options)
    fresh.load_state_dict(agents[0].state_dict())
    X = env.eval_env().X[:64]
    assert torch.equal(fresh.act(X, deterministic=True), agents[0].act(X, deterministic=True))
