"""CNN-PPO samples/s: the sandbox's PPO vs Stable-Baselines3's PPO ``CnnPolicy``, interleaved.

Same hyperparameters on both sides (CleanRL's and SB3's Atari-style defaults: 128 steps per
sub-env per rollout, 4 epochs of 4 minibatches, lr 2.5e-4, gamma 0.99, GAE 0.95, clip 0.2,
vf 0.5, max grad norm 0.5), the same sub-envs and the same network: a CNN shared by two
64-64 tanh MLP heads (SB3's ``share_features_extractor``), orthogonal init. One torch thread,
CPU. Envs:
  catch:    sandbox/Catch-v0, 16 sub-envs, uint8 (10, 5, 1) pixels. The batched torch env
            serves both: SB3 through a small ``VecEnv`` over it. SB3's NatureCNN needs 36 px,
            so SB3 is given the sandbox's small-image CNN as its features extractor.
  breakout: ALE/Breakout-v5, 8 sub-envs, AtariPreprocessing + 4 stacked frames (the
            sandbox's ``envs.gym_adapter.atari``) for both: the sandbox through its adapter
            (Gymnasium's SyncVectorEnv), SB3 through its DummyVecEnv; SB3's own NatureCNN.
Each measurement runs in a fresh process: build env and agent, then time ``--rollouts``
rollouts and their updates (the sandbox: the loop's act -> step -> learn; SB3: ``learn``).
``--device cuda`` puts both agents (and the torch-native Catch) on the GPU.
Pairs alternate SB3, sandbox, SB3, sandbox... and the figure is the median over pairs of
the per-pair ratio sandbox / SB3 samples/s.

    .venv/bin/python bench/cnn_ppo.py --env catch --pairs 5
    .venv/bin/python bench/cnn_ppo.py --env breakout --pairs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUM_ENVS = {"catch": 16, "breakout": 8}
ROLLOUTS = {"catch": 3, "breakout": 2}
NUM_STEPS, EPOCHS, MINIBATCHES, LR = 128, 4, 4, 2.5e-4


def sandbox_env(name: str, device: str = "cpu"):
    import sandbox

    env_id = "sandbox/Catch-v0" if name == "catch" else "ALE/Breakout-v5"
    return sandbox.make(env_id, num_envs=NUM_ENVS[name], device=device)


def run_sandbox(name: str, rollouts: int, device: str) -> dict:
    import torch

    import sandbox
    from agents.ppo import PPOAgent, PPOConfig

    torch.set_num_threads(1)
    sandbox.seed_everything(0)
    env = sandbox_env(name, device)
    agent = PPOAgent(env, PPOConfig(NUM_STEPS, EPOCHS, MINIBATCHES, LR))
    samples = rollouts * NUM_STEPS * env.num_envs
    obs, _ = env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(rollouts * NUM_STEPS):  # the loop's Steps.step: act, step, learn
        action = agent.act(obs)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.learn(sandbox.Transition(obs, action, reward, next_obs, terminated, truncated, info))
        obs = next_obs
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"samples": samples, "seconds": seconds}


def torch_vec_env(env):
    """A sandbox batched torch env as an SB3 ``VecEnv`` (numpy arrays, SB3's done/info)."""
    import numpy as np
    import torch
    from stable_baselines3.common.vec_env import VecEnv

    class TorchVecEnv(VecEnv):
        def __init__(self) -> None:
            super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)

        def reset(self):
            return env.reset(seed=0)[0].cpu().numpy()

        def step_async(self, actions) -> None:
            self.actions = torch.as_tensor(actions, device=env.device)

        def step_wait(self):
            obs, reward, terminated, truncated, info = env.step(self.actions)
            done = (terminated | truncated).cpu().numpy()
            truncated = truncated.cpu().numpy()
            infos = [{} for _ in range(env.num_envs)]
            for i in np.flatnonzero(done):  # SB3 bootstraps from terminal_observation
                infos[i]["terminal_observation"] = info["final_obs"][i].cpu().numpy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            return obs.cpu().numpy(), reward.cpu().numpy(), done, infos

        def close(self) -> None:
            env.close()

        def get_attr(self, attr_name, indices=None):
            return [getattr(env, attr_name)] * env.num_envs

        def set_attr(self, attr_name, value, indices=None) -> None:
            setattr(env, attr_name, value)

        def env_method(self, method_name, *args, indices=None, **kwargs):
            return [getattr(env, method_name)(*args, **kwargs)]

        def env_is_wrapped(self, wrapper_class, indices=None):
            return [False] * env.num_envs

    return TorchVecEnv()


def run_sb3(name: str, rollouts: int, device: str) -> dict:
    import torch
    import torch.nn as nn
    from stable_baselines3 import PPO
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.encoders import ImageCNN

    torch.set_num_threads(1)
    n = NUM_ENVS[name]
    policy_kwargs: dict = dict(net_arch=dict(pi=[64, 64], vf=[64, 64]), activation_fn=nn.Tanh)
    if name == "catch":

        class SmallCNN(BaseFeaturesExtractor):  # the sandbox's CNN for 10x5 images
            def __init__(self, observation_space) -> None:
                cnn = ImageCNN(observation_space)
                super().__init__(observation_space, cnn.out_features)
                self.cnn = cnn  # scales uint8 pixels to [0, 1] itself

            def forward(self, obs):
                return self.cnn(obs)

        venv = torch_vec_env(sandbox_env(name, device))
        policy_kwargs |= dict(features_extractor_class=SmallCNN, normalize_images=False)
    else:
        import ale_py
        import gymnasium

        from envs.gym_adapter import atari

        gymnasium.register_envs(ale_py)
        venv = DummyVecEnv([lambda: atari("ALE/Breakout-v5", {})] * n)
    model = PPO(
        "CnnPolicy",
        venv,
        n_steps=NUM_STEPS,
        batch_size=NUM_STEPS * n // MINIBATCHES,
        n_epochs=EPOCHS,
        learning_rate=LR,
        policy_kwargs=policy_kwargs,
        device=device,
        seed=0,
        verbose=0,
    )
    samples = rollouts * NUM_STEPS * n
    start = time.perf_counter()
    model.learn(total_timesteps=samples)
    seconds = time.perf_counter() - start
    return {"samples": samples, "seconds": seconds}


def child(side: str, name: str, rollouts: int, device: str) -> dict:
    cmd = [sys.executable, __file__, "--child", side, "--env", name, "--rollouts", str(rollouts)]
    cmd += ["--device", device]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=["catch", "breakout"], default="catch")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--rollouts", type=int, default=None, help="rollouts per measurement")
    parser.add_argument("--device", default="cpu", help="cpu or cuda, for both sides")
    parser.add_argument("--child", choices=["sb3", "sandbox"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    rollouts = args.rollouts or ROLLOUTS[args.env]
    if args.child:
        sys.path.insert(0, str(ROOT))
        run = run_sb3 if args.child == "sb3" else run_sandbox
        print(json.dumps(run(args.env, rollouts, args.device)))
        return
    ratios = []
    for i in range(args.pairs):
        sb3 = child("sb3", args.env, rollouts, args.device)
        ours = child("sandbox", args.env, rollouts, args.device)
        sb3_sps, ours_sps = (r["samples"] / r["seconds"] for r in (sb3, ours))
        ratios.append(ours_sps / sb3_sps)
        print(f"pair {i}: SB3 {sb3_sps:7.1f} samples/s, sandbox {ours_sps:7.1f}, {ratios[-1]:.2f}x")
    print(
        f"{args.env} ({args.device}): {NUM_ENVS[args.env]} envs, {rollouts} rollouts of "
        f"{NUM_STEPS} steps; "
        f"median of per-pair ratios {statistics.median(ratios):.2f}x "
        f"(pairs {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
