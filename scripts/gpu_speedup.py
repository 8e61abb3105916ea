"""GPU acceleration: the same supervised and RL workloads on the CPU and on a CUDA GPU.

Two workloads, each built afresh on each device (d2l §6.7): a small CNN learning 8×8 digits
from the loss's gradient, and PPO on the torch-native CartPole (physics on the device too).
Each runs the loop's act → step → learn for a warm-up, then for ``--steps`` samples between
two ``torch.cuda.synchronize`` calls: CUDA launches kernels asynchronously (d2l §13.2), so a
clock read without them would time the launches, not the work. The table gives samples/s
per device and the GPU's ratio to the CPU. Without a GPU it says so and runs the CPU half.

    .venv/bin/python scripts/gpu_speedup.py
    .venv/bin/python scripts/gpu_speedup.py --num-envs 4096   # bigger batches: more to gain
"""

from __future__ import annotations

import argparse
import time

import torch

import sandbox

WORKLOADS = {  # name -> (env id, agent, agent options)
    "supervised: CNN on Digits-v0": (
        "sandbox/Digits-v0", "gradient", {"model": "cnn", "optimizer": "adam", "lr": 1e-3}
    ),
    "RL: PPO on CartPole-v1": ("sandbox/CartPole-v1", "ppo", {"num_steps": 16}),
}  # fmt: skip


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels to finish (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def samples_per_s(
    env: sandbox.Env, agent: sandbox.Agent, steps: int, device: torch.device
) -> float:
    """Samples per second of act → step → learn (the loop's step, without its logging)."""
    obs, _ = env.reset(seed=0)

    def run(samples: int) -> int:
        nonlocal obs
        batches = -(-samples // env.num_envs)  # ceil: whole batches
        for _ in range(batches):
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, info = env.step(action)
            agent.learn(
                sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info)
            )
            obs = next_obs
        return batches * env.num_envs

    run(max(steps // 5, env.num_envs))  # warm-up: CUDA context, kernels, PPO's first update
    synchronize(device)
    start = time.perf_counter()
    samples = run(steps)
    synchronize(device)  # the last kernels finish inside the timed span
    return samples / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000, help="timed samples per run")
    parser.add_argument("--num-envs", type=int, default=256, help="batch / RL sub-envs")
    parser.add_argument("--gpu", default="cuda", help="the GPU to compare: cuda, cuda:1, ...")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices.append(sandbox.resolve_device(args.gpu))  # "cuda" -> cuda:0, checked
    else:
        print(f"no GPU here: torch {torch.__version__} sees no CUDA device, so only the CPU "
              "half runs; on a machine with one, the GPU rows and the ratio follow\n")  # fmt: skip

    rows: dict[str, dict[str, float]] = {}
    for name, (env_id, agent_name, options) in WORKLOADS.items():
        rows[name] = {}
        for device in devices:
            sandbox.seed_everything(args.seed)
            env = sandbox.make(env_id, num_envs=args.num_envs, device=device)
            agent = sandbox.make_agent(agent_name, env, **options)
            rows[name][device.type] = samples_per_s(env, agent, args.steps, device)

    gpu = f", GPU: {torch.cuda.get_device_name(devices[1])}" if len(devices) > 1 else ""
    print(f"{args.steps:,} samples per run, {args.num_envs} samples per step "
          f"(CPU: {torch.get_num_threads()} thread(s){gpu}):\n")  # fmt: skip
    print("| workload                     | device | samples/s | vs the CPU |")
    print("| ---                          | ---    | ---:      | ---:       |")
    for name, speeds in rows.items():
        for device, speed in speeds.items():
            print(f"| {name:<28} | {device:<6} | {speed:9,.0f} | {speed / speeds['cpu']:9.2f}x |")
    return rows


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
