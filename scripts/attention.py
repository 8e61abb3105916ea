"""Attention: a lookup an MLP does not learn at the same budget, and the maps that show it.

``sandbox/Recall-v0`` shows a small dictionary, 8 (key, value) tokens, then a query key; the
answer is the value stored under it (one of 8: chance is 1/8). The gradient learner trains
two models for the same number of samples: one block of multi-head self-attention (d2l §11,
``agents/attention.py``) and a two-layer MLP of 256 ReLUs (three times the parameters) that
sees the same tokens flattened. The table gives their accuracies; then where the query
token's attention goes in the head that does the lookup (the head with the most weight on the
token holding the query's key, means over the test sequences; 1/9 per token if spread evenly):
on that token, on itself (it holds the same key, so it matches too) and on the other pairs. In
TensorBoard, ``media/attention/...`` shows the maps at each evaluation (the last row of each
map is the query's).

    .venv/bin/python scripts/attention.py          # then: tensorboard --logdir runs/attention
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import Tensor

import sandbox
from envs.representation import attention_maps

MODELS = {  # name -> the gradient learner's options; the same optimizer for both
    "attention": {"model": "attention", "num_hiddens": 64, "num_heads": 4, "num_layers": 1},
    "mlp": {"model": "mlp", "num_hiddens": 256, "num_layers": 2},
}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000, help="samples per model")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root ('' for none)")
    args = parser.parse_args(argv)

    rows = {}
    for name, options in MODELS.items():
        sandbox.seed_everything(args.seed)
        env = sandbox.make("sandbox/Recall-v0", num_envs=64)
        agent = sandbox.make_agent("gradient", env, optimizer="adam", lr=args.lr, **options)
        start = time.perf_counter()
        sandbox.train(
            env, agent, args.steps, seed=args.seed, logdir=args.logdir or None,
            experiment="attention", eval_every=max(args.steps // 10, 64), progress=False,
        )  # fmt: skip
        rows[name] = figures(agent, env, env.eval_env(), env.config.num_keys)
        rows[name]["seconds"] = time.perf_counter() - start

    print(f"associative recall (8 pairs, 8 values: chance 0.125), {args.steps:,} samples each:\n")
    print("| model     | parameters | train acc | test acc | seconds |")
    print("| ---       | ---:       | ---:      | ---:     | ---:    |")
    for name, r in rows.items():
        print(f"| {name:<9} | {r['parameters']:10,.0f} | {r['train_accuracy']:9.3f} | "
              f"{r['test_accuracy']:8.3f} | {r['seconds']:7.1f} |")  # fmt: skip
    a = rows["attention"]
    print(
        f"\nthe query's attention in the lookup head: {a['on_key']:.2f} on its key's token, "
        f"{a['on_self']:.2f} on itself, {a['on_others']:.2f} on the 7 other pairs together"
    )
    solved = a["test_accuracy"] >= 0.95 and rows["mlp"]["test_accuracy"] <= 0.5
    print(f"attention solves it (test accuracy >= 0.95), the MLP does not (<= 0.5): "
          f"{'yes' if solved else 'no'}")  # fmt: skip
    looks_up = a["on_key"] > a["on_others"]
    print(f"the lookup head reads its key's token more than all other pairs together: "
          f"{'yes' if looks_up else 'no'}")  # fmt: skip
    return rows


def figures(
    agent: sandbox.Agent, train: sandbox.Env, test: sandbox.Env, num_keys: int
) -> dict[str, float]:
    """Accuracies, parameter count and, for attention, where the query's attention goes."""
    policy = lambda X: agent.act(X, deterministic=True)  # noqa: E731
    row = {
        "train_accuracy": float(train.score(policy)["accuracy"]),
        "test_accuracy": float(test.score(policy)["accuracy"]),
        "parameters": float(sum(p.numel() for p in agent.net.parameters())),
    }
    maps = attention_maps(agent.net, policy, test.X)  # {layer: (n, heads, L, L)}
    if maps:
        row |= lookup(next(iter(maps.values())), test.X, num_keys)
    return row


def lookup(weights: Tensor, X: Tensor, num_keys: int) -> dict[str, float]:
    """The query's (last token's) mean weights ``(n, heads, L, L)`` on the token holding its
    key, on itself and on the other pairs, in the head with the most on its key."""
    keys, query = X[:, :-1, :num_keys], X[:, -1, :num_keys]  # (n, P, K), (n, K)
    match = (keys * query[:, None]).sum(-1)[:, None]  # (n, 1, P): 1 at the query's key
    reads = weights[:, :, -1]  # (n, heads, L): the query's row of each head's map
    on_key = (reads[..., :-1] * match).sum(-1).mean(0)  # (heads,)
    on_others = (reads[..., :-1] * (1 - match)).sum(-1).mean(0)  # (heads,)
    head = int(on_key.argmax())
    on_self = reads[:, head, -1].mean()
    return {
        "on_key": float(on_key[head]),
        "on_self": float(on_self),
        "on_others": float(on_others[head]),
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
