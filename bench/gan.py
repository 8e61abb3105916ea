"""The GAN game in the sandbox loop vs a hand-written PyTorch GAN loop: rounds per second.

Both train the same generator and discriminator MLPs (agents/gan.py; same initial weights)
with the same Adam (lr 2e-3, betas (0.5, 0.999)) on the same digits (8×8 in [-1, 1], batch
64, a random permutation per epoch), for the same number of rounds. A round is one
discriminator update on real + detached fake and one non-saturating generator update, as in
the PyTorch DCGAN example. The sandbox side is ``sandbox.train`` with ``logdir=None``; both
end with the same evaluation (the Fréchet distance of 1,000 samples), so both do the same work.

Runs are interleaved (A B A B ...); the figure is the median of the per-pair ratios. Issue 6's
target: the sandbox at >= 0.95x the hand loop. Many short pairs rather than a few long ones:
on a machine whose speed drifts within seconds, a pair's two runs then see the same machine
(5 pairs of 1,000 rounds gave medians from 0.94 to 1.08 on the same code).

    .venv/bin/python bench/gan.py                       # 21 pairs of 400 rounds, 1 thread
    .venv/bin/python bench/gan.py --pairs 7 --rounds 2000 --device cuda
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import sandbox
from agents.gan import make_players
from envs.gan_eval import frechet_distance


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sandbox_loop(rounds: int, num_envs: int, device: str) -> float:
    """Seconds for ``rounds`` rounds of ``sandbox.train`` on DigitsGAN."""
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/DigitsGAN-v0", num_envs, device=device)
    players = make_players(env)
    sync(env.device)
    start = time.perf_counter()
    sandbox.train(
        env, players, rounds * num_envs, seed=0, logdir=None, progress=False,
        eval_every=rounds * num_envs,
    )  # fmt: skip
    sync(env.device)
    return time.perf_counter() - start


def hand_loop(rounds: int, num_envs: int, device: str) -> float:
    """Seconds for the same rounds written out by hand (data, nets and optimizers as above)."""
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/DigitsGAN-v0", num_envs, device=device)
    held_out = env.eval_env()
    players = make_players(env)  # the same nets and optimizers, driven by hand
    G, D = players["generator"].net, players["discriminator"].net
    opt_g, opt_d = players["generator"].optimizer, players["discriminator"].optimizer
    X, n, latent = env.X, num_envs, env.config.latent_dim
    gen = torch.Generator(env.device).manual_seed(0)
    ones = torch.ones(n, device=env.device)
    zeros = torch.zeros(n, device=env.device)
    sync(env.device)
    start = time.perf_counter()
    order, pos = torch.randperm(len(X), generator=gen, device=env.device), 0
    for _ in range(rounds):
        if pos + n > len(order):
            order, pos = torch.randperm(len(X), generator=gen, device=env.device), 0
        real = X[order[pos : pos + n]]  # (N, 1, 8, 8)
        pos += n
        fake = G(torch.randn(n, latent, generator=gen, device=env.device))
        scores = D(torch.cat([real, fake.detach()]))  # (2N,)
        d_loss = F.binary_cross_entropy_with_logits(
            scores[:n], ones
        ) + F.binary_cross_entropy_with_logits(scores[n:], zeros)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = F.binary_cross_entropy_with_logits(D(fake), ones)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    with torch.inference_mode():
        samples = G(held_out._eval_noise)
        float(frechet_distance(held_out.features(samples), held_out.features(held_out.X)))
    sync(env.device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=21)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--num-envs", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sandbox.make("sandbox/DigitsGAN-v0").eval_env().features(torch.zeros(1, 1, 8, 8))  # warm
    ratios, ours, theirs = [], [], []
    for _ in range(args.pairs):
        a = sandbox_loop(args.rounds, args.num_envs, args.device)
        b = hand_loop(args.rounds, args.num_envs, args.device)
        ours.append(args.rounds / a)
        theirs.append(args.rounds / b)
        ratios.append(b / a)  # sandbox rounds/s over hand rounds/s
    print(f"device {args.device}, {args.threads} thread(s), batch {args.num_envs}, ")
    print(f"{args.pairs} interleaved pairs of {args.rounds} rounds on DigitsGAN")
    print(f"  sandbox loop   {statistics.median(ours):8.0f} rounds/s (median)")
    print(f"  hand loop      {statistics.median(theirs):8.0f} rounds/s (median)")
    print(f"  ratio          {statistics.median(ratios):8.3f} (median of per-pair ratios)")
    print(f"  per pair       {' '.join(f'{r:.3f}' for r in ratios)}")


if __name__ == "__main__":
    main()
