"""Sandbox PPO vs Stable-Baselines3 PPO on CartPole-v1, same hyperparameters, interleaved.

Both use RL Zoo's CartPole PPO (8 envs x 32 steps, batch 256, 20 epochs, lr and clip linear
from 1e-3 / 0.2, gamma 0.98, GAE lambda 0.8, 64-64 tanh MLPs), one torch thread, CPU. Each
seed runs SB3, the sandbox on Gymnasium's env (through the adapter) and the sandbox on its
torch-native CartPole, one after the other in fresh processes (interleaved, so drift in the
machine's load hits all three alike). Training clocks stop during evaluations. Reported,
medians over seeds, wall-clock and samples until:
  (a) a deterministic 10-episode evaluation (every 2048 samples) reaches 475 and stays there
      to the end of the run;
  (b) the mean return of the last 100 training episodes reaches 475.
``--compile`` adds the sandbox with ``--compile`` (PPO's minibatch loss and clip-and-step
through torch.compile) on both envs: its clock includes the compile, from a cold inductor
cache (a fresh TORCHINDUCTOR_CACHE_DIR per run), as a user's first run pays it; with
``--warm-cache`` the compiled runs share one cache that an uncounted run filled first, as
a user's later runs of the same configuration find it.
``--collect`` instead measures rollout collection alone (act + env step + store, no update),
transitions/s at 8, 64 and 1024 envs, for SB3 and the sandbox.

    .venv/bin/python bench/ppo_cartpole.py --seeds 5
    .venv/bin/python bench/ppo_cartpole.py --seeds 5 --compile
    .venv/bin/python bench/ppo_cartpole.py --collect
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

STEPS, EVAL_EVERY = 100_000, 2048
ZOO = dict(n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8, ent_coef=0.0)


def milestones(evals: list, episodes: list) -> dict:
    """(a) and (b) as (samples, train seconds); None when not reached."""
    a = None
    for samples, seconds, score in evals:  # the start of the last streak of evals >= 475
        a = (samples, seconds) if score >= 475 and a is None else (a if score >= 475 else None)
    b = None
    for i in range(99, len(episodes)):
        if sum(r for _, _, r in episodes[i - 99 : i + 1]) / 100 >= 475:
            b = episodes[i][:2]
            break
    return {"a": a, "b": b}


class Clock:
    """Training time: wall-clock minus the time spent in evaluations."""

    def __init__(self) -> None:
        self.start, self.paused = time.perf_counter(), 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused


def run_sb3(seed: int) -> dict:
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.logger import Logger

    torch.set_num_threads(1)
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=seed + 1000)
    model = PPO(
        "MlpPolicy",
        env,
        learning_rate=lambda p: 1e-3 * p,
        clip_range=lambda p: 0.2 * p,
        seed=seed,
        device="cpu",
        **ZOO,
    )
    model.set_logger(Logger(folder=None, output_formats=[]))  # no /tmp/SB3-<date> per run
    evals, episodes = [], []

    class Probe(BaseCallback):
        def _on_training_start(self) -> None:
            self.clock, self.next_eval = Clock(), EVAL_EVERY

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    episodes.append((self.num_timesteps, self.clock.now(), info["episode"]["r"]))
            if self.num_timesteps >= self.next_eval:
                self.next_eval += EVAL_EVERY
                t0 = time.perf_counter()
                score, _ = evaluate_policy(self.model, eval_env, 10, deterministic=True)
                evals.append((self.num_timesteps, self.clock.now(), float(score)))
                self.clock.paused += time.perf_counter() - t0
            return True

    probe = Probe()
    model.learn(STEPS, callback=probe)
    return {**milestones(evals, episodes), "total": probe.clock.now()}


def run_sandbox(seed: int, env_id: str, compile: bool = False) -> dict:
    import torch

    import sandbox
    from agents.ppo import CARTPOLE_ZOO
    from sandbox.callbacks import Callback, at_end, due

    torch.set_num_threads(1)
    sandbox.seed_everything(seed)
    env = sandbox.make(env_id, num_envs=8)
    agent = sandbox.make_agent("ppo", env, anneal=True, compile=compile, **CARTPOLE_ZOO)
    evals, episodes = [], []
    recorder = Recorder(env, episodes)  # has no eval_env: the loop's own evaluation is off

    class Probe(Callback):  # the evaluations, every EVAL_EVERY samples; the clock stops meanwhile
        def __init__(self) -> None:
            self.env = env.eval_env()  # 10 sub-envs: one deterministic episode each

        def on_step(self, run, metrics, info) -> None:
            if not (due(run, EVAL_EVERY) or at_end(run)):
                return
            t0 = time.perf_counter()
            result = sandbox.evaluate(self.env, agent, num_episodes=10, seed=seed + 1000)
            evals.append((recorder.samples, recorder.clock.now(), float(result["eval/score"])))
            recorder.clock.paused += time.perf_counter() - t0

    sandbox.train(
        recorder, agent, STEPS, seed=seed, logdir=None, progress=False, callbacks=[Probe()]
    )
    out = {**milestones(evals, episodes), "total": recorder.clock.now()}
    return out | ({"compile_s": agent.compile_seconds} if compile else {})


class Recorder:
    """The training env, recording each finished episode's (samples, train seconds, return)."""

    eval_env = None  # the bench evaluates on its own clock (Probe), not in the loop's

    def __init__(self, env, episodes: list) -> None:
        self.env, self.episodes, self.samples = env, episodes, 0

    def __getattr__(self, name: str):
        return getattr(self.env, name)

    def reset(self, **kwargs):
        self.clock = Clock()
        return self.env.reset(**kwargs)

    def step(self, action):
        out = self.env.step(action)
        self.samples += self.env.num_envs
        info = out[4]
        if "episode" in info:  # reads the device only when episodes end
            now = self.clock.now()
            for r in info["episode"]["r"][info["_episode"]].tolist():
                self.episodes.append((self.samples, now, r))
        return out


def collect_rates(num_envs: int, steps: int = 128) -> dict:
    """Transitions/s of rollout collection alone (no update), SB3 vs sandbox."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger

    import sandbox

    torch.set_num_threads(1)
    rates = {}
    env = make_vec_env("CartPole-v1", n_envs=num_envs, seed=0)
    model = PPO("MlpPolicy", env, n_steps=steps, device="cpu")
    model.set_logger(Logger(folder=None, output_formats=[]))
    model._setup_learn(10**9, None)

    class NoOp(BaseCallback):
        def _on_step(self) -> bool:
            return True

    callback = NoOp()
    callback.init_callback(model)
    model.collect_rollouts(model.env, callback, model.rollout_buffer, steps)  # warm-up
    t0 = time.perf_counter()
    for _ in range(3):
        model.collect_rollouts(model.env, callback, model.rollout_buffer, steps)
    rates["sb3"] = 3 * steps * num_envs / (time.perf_counter() - t0)
    for env_id in ("CartPole-v1", "sandbox/CartPole-v1"):
        env = sandbox.make(env_id, num_envs=num_envs)
        agent = sandbox.make_agent("ppo", env, num_steps=steps)
        agent.update = lambda: {}  # collection only
        obs, _ = env.reset(seed=0)
        t0 = None
        for i in range(4 * steps):
            if i == steps:
                t0 = time.perf_counter()
            action = agent.act(obs)
            next_obs, reward, terminated, truncated, info = env.step(action)
            agent.learn(
                sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info)
            )
            obs = next_obs
        rates[env_id] = 3 * steps * num_envs / (time.perf_counter() - t0)
    return rates


def child(args: list[str]) -> None:
    kind, seed = args[0], int(args[1])
    if kind == "sb3":
        out = run_sb3(seed)
    else:  # "ENV_ID" or "ENV_ID --compile"
        out = run_sandbox(seed, kind.split()[0], compile=kind.endswith(" --compile"))
    print(json.dumps(out))


def run_child(kind: str, seed: int, cache: str | None = None) -> dict:
    """One run in a fresh process, with the inductor cache ``cache`` (None: an empty one)."""
    with tempfile.TemporaryDirectory() as empty:
        env = os.environ | {"TORCHINDUCTOR_CACHE_DIR": cache or empty}
        command = [sys.executable, __file__, "--child", kind, str(seed)]
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt(values: list) -> str:
    reached = [v for v in values if v is not None]
    if len(reached) < len(values) / 2:
        return f"not reached ({len(reached)}/{len(values)})"
    steps = statistics.median(v[0] if v else float("inf") for v in values)
    seconds = statistics.median(v[1] if v else float("inf") for v in values)
    return f"{seconds:6.1f} s / {steps / 1000:5.1f}k ({len(reached)}/{len(values)})"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--collect", action="store_true", help="rollout collection only")
    parser.add_argument("--jobs", type=int, default=1, help="seeds run side by side")
    parser.add_argument("--compile", action="store_true", help="add the sandbox --compile runs")
    parser.add_argument("--warm-cache", action="store_true", help="compiled: one shared cache")
    args = parser.parse_args()
    if args.collect:
        print(f"{'num_envs':>8} | {'SB3':>10} | {'sandbox+gym':>12} | {'sandbox torch':>13}")
        for n in (8, 64, 1024):
            r = collect_rates(n)
            print(
                f"{n:>8} | {r['sb3']:>10,.0f} | {r['CartPole-v1']:>12,.0f} | "
                f"{r['sandbox/CartPole-v1']:>13,.0f}   transitions/s",
                flush=True,
            )
        return
    kinds = ["sb3", "CartPole-v1", "sandbox/CartPole-v1"]
    if args.compile:
        kinds += ["CartPole-v1 --compile", "sandbox/CartPole-v1 --compile"]
    results: dict[str, list[dict]] = {k: [] for k in kinds}

    shared = tempfile.TemporaryDirectory()  # --warm-cache: the compiled runs' cache
    cache = shared.name if args.warm_cache else None
    if cache is not None:  # fill it: what a first run leaves behind (not counted)
        for kind in kinds:
            if kind.endswith(" --compile"):
                run_child(kind, 0, cache)

    def one_seed(seed: int) -> list[tuple[str, dict]]:
        rows = []
        for kind in kinds:  # interleaved: every seed runs them all back to back
            out = run_child(kind, seed, cache if kind.endswith(" --compile") else None)
            print(f"seed {seed} {kind:>30}: {json.dumps(out)}", flush=True)
            rows.append((kind, out))
        return rows

    # --jobs > 1 runs seeds side by side (a many-core machine); each seed stays interleaved.
    with ThreadPoolExecutor(args.jobs) as pool:
        for rows in pool.map(one_seed, range(args.seeds)):
            for kind, out in rows:
                results[kind].append(out)
    print(f"\nmedians over {args.seeds} seeds: train seconds / samples (runs that reached it)")
    for kind in kinds:
        rs = results[kind]
        print(
            f"{kind:>30} | (a) eval >= 475 stays: {fmt([r['a'] for r in rs])} | "
            f"(b) last-100 mean >= 475: {fmt([r['b'] for r in rs])} | "
            f"100k total {statistics.median(r['total'] for r in rs):5.1f} s"
        )
    sb3 = results["sb3"]
    for kind in kinds[1:]:
        for m in ("a", "b"):
            ratios = [
                r[m][1] / s[m][1] for r, s in zip(results[kind], sb3, strict=True) if r[m] and s[m]
            ]
            if ratios:
                ratio = statistics.median(ratios)
                print(f"{kind:>30} ({m}) time vs SB3, median per-seed ratio {ratio:.2f}x")
    for kind in kinds:
        if kind.endswith(" --compile"):  # the same seed's eager run: 100k totals, per seed
            pairs = list(zip(results[kind], results[kind.split()[0]], strict=True))
            ratio = statistics.median(r["total"] / e["total"] for r, e in pairs)
            # without the first update (its compile): what a long run tends to
            steady = statistics.median((r["total"] - r["compile_s"]) / e["total"] for r, e in pairs)
            compile_s = statistics.median(r["compile_s"] for r in results[kind])
            print(
                f"{kind:>30} 100k total vs eager, median per-seed ratio {ratio:.2f}x; "
                f"first update (compile included) median {compile_s:.1f} s; the rest "
                f"{steady:.2f}x eager's total"
            )


if __name__ == "__main__":
    main()
