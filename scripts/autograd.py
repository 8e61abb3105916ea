"""Autograd: the gradient learner's gradients, checked against the formulas derived by hand.

The gradient learner ascends the env's reward; autograd differentiates it (d2l §2.5). For a
tiny linear model the gradient of the batch's mean reward has a closed form:

- linear regression, reward ``-(ŷ - y)²`` with ``ŷ = Xwᵀ + b``:
  ``∂/∂w = -(2/N) (ŷ - y)ᵀ X`` and ``∂/∂b = -(2/N) Σ (ŷ - y)``;
- softmax regression, reward ``log softmax(ŷ)[y]`` with ``ŷ = XWᵀ + b``:
  ``∂/∂W = (1/N) (onehot(y) - softmax(ŷ))ᵀ X`` and ``∂/∂b = (1/N) Σ (onehot(y) - softmax(ŷ))``.

Both are printed beside autograd's. Then each model trains with ``histograms=True``, so
TensorBoard's Histograms tab shows ``grads/net.1.weight`` narrowing towards 0 as the reward
approaches its maximum, and ``train/grad_norm`` falls under Scalars.

    .venv/bin/python scripts/autograd.py
    tensorboard --logdir runs/autograd
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import Tensor

import sandbox
from sandbox.apps.compare import read_run

MODELS = {  # name -> (env id, learning rate)
    "linear regression": ("sandbox/LinReg-v0", 0.03),
    "softmax regression": ("sandbox/Iris-v0", 0.1),
}


def gradients_by_hand(X: Tensor, y_hat: Tensor, y: Tensor) -> list[Tensor]:
    """``[∂/∂W, ∂/∂b]`` of the mean reward of a linear model ``ŷ = XWᵀ + b`` (module docstring).

    Example:
        >>> X, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0]])
        >>> gradients_by_hand(X, torch.tensor([[4.0]]), y)  # ŷ - y = 1: -2·[1, 2] and -2
        [tensor([[-2., -4.]]), tensor([-2.])]
    """
    N = len(X)
    if y.is_floating_point():  # squared error, y_hat and y (N, 1)
        delta = -2 * (y_hat - y)  # (N, 1): ∂ reward / ∂ y_hat
    else:  # cross-entropy on logits (N, C), class indices y (N,)
        delta = F.one_hot(y, y_hat.shape[1]) - y_hat.softmax(dim=1)  # (N, C)
    return [delta.T @ X / N, delta.sum(dim=0) / N]  # (out, in), (out,)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8, help="samples in the checked batch")
    parser.add_argument("--steps", type=int, default=2_000, help="samples of each training run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs", help="TensorBoard root")
    args = parser.parse_args(argv)

    print(f"∂ mean reward / ∂ parameter on {args.batch} training samples (the learner's loss is "
          "minus the mean reward, so it steps along these):\n")  # fmt: skip
    print("| model              | parameter | autograd                     | by hand"
          "                      | max abs diff |")  # fmt: skip
    print("| ---                | ---       | ---                          | ---"
          "                          | ---:         |")  # fmt: skip
    rows = {}
    for name, (env_id, lr) in MODELS.items():
        # 1. one batch: the agent's prediction, the env's reward, autograd vs the formula
        sandbox.seed_everything(args.seed)
        env = sandbox.make(env_id, num_envs=10, device="cpu")
        agent = sandbox.make_agent("gradient", env, model="linear", lr=lr)
        X, y = env.X[: args.batch], env.y[: args.batch]  # (B, d), (B, 1) or (B,)
        y_hat = agent.act(X)  # (B, 1) or (B, C), with its graph back to W and b
        reward = env.reward(y_hat, y)  # (B,)
        linear = agent.net[1]
        autograd = torch.autograd.grad(reward.mean(), [linear.weight, linear.bias])
        by_hand = gradients_by_hand(X, y_hat.detach(), y)
        diffs = [float((a - h).abs().max()) for a, h in zip(autograd, by_hand, strict=True)]
        for param, a, h, diff in zip(("W", "b"), autograd, by_hand, diffs, strict=True):
            shape = f"{param} {tuple(a.shape)}"
            print(f"| {name:<18} | {shape:<9} | {show(a):<28} | {show(h):<28} | "
                  f"{diff:12.1e} |")  # fmt: skip

        # 2. train with gradient histograms; read the gradient's norm back from TensorBoard
        result = sandbox.train(
            env, agent, args.steps, seed=args.seed, logdir=args.logdir, experiment="autograd",
            log_every=args.steps // 20, histograms=True, progress=False,
        )  # fmt: skip
        norms = [value for _, value in read_run(result.run_dir).scalars["train/grad_norm"]]
        rows[name] = {"max_diff": max(diffs), "first_norm": norms[0], "last_norm": norms[-1]}
        rows[name]["score"] = result.metrics["eval/score"]

    agree = all(r["max_diff"] < 1e-5 for r in rows.values())
    print(f"\nautograd equals the hand-derived gradient (within 1e-5): {'yes' if agree else 'no'}")
    print(f"\ntraining on {args.steps:,} samples, train/grad_norm (the whole gradient's norm):")
    for name, r in rows.items():
        print(f"  {name}: {r['first_norm']:.4f} at the first log, {r['last_norm']:.4f} at the "
              f"last (eval/score {r['score']:.3f})")  # fmt: skip
    falls = all(r["last_norm"] < r["first_norm"] for r in rows.values())
    print(f"\nthe gradient's norm falls as each model learns: {'yes' if falls else 'no'}")
    print(f"\nhistograms: tensorboard --logdir {args.logdir}/autograd (grads/net.1.weight, ...)")
    return rows


def show(t: Tensor, num: int = 3) -> str:
    """The first ``num`` entries of a tensor, flattened, to 3 decimals."""
    values = ", ".join(f"{v:.3f}" for v in t.flatten()[:num].tolist())
    return f"[{values}{', ...' if t.numel() > num else ''}]"


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
