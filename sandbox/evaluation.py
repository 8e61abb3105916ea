"""Evaluation: the headline figures of an agent acting deterministically (DESIGN §5 ``eval/*``).

A dataset (or game) scores a policy itself, passing over its held-out split exactly once;
any other env is played for a number of episodes, counted from ``info["episode"]``. Given the
training env as well, a dataset scores the same policy on what it learnt from: the gap between
the two is how much of the training score does not carry over (d2l §3.6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from sandbox import distributed
from sandbox.core import Agent, Env, env_hook
from sandbox.device import env_device
from sandbox.multi import MultiAgentEnv
from sandbox.video import MAX_FRAMES, VIDEO_ENVS, tile


def evaluate(
    env: Env | MultiAgentEnv,
    agent: Agent | Mapping[str, Agent],
    *,
    num_episodes: int = 10,
    seed: int | None = None,
    video: list[Tensor] | None = None,
    train_env: Env | None = None,
) -> dict[str, Tensor]:
    """The env's headline figures for ``agent`` acting deterministically (no learning).

    A dataset env (one with ``score(policy)``) passes over its split exactly once. Any other
    env is played for ``num_episodes`` episodes, counted from ``info["episode"]`` as
    Gymnasium's ``RecordEpisodeStatistics`` reports them; each sub-env contributes its first
    ``ceil(num_episodes / num_envs)`` episodes, so short episodes are not over-counted.
    A game's ``score`` gets one policy per player.

    Args:
        env: the held-out env (``env.eval_env()`` of the training env).
        agent: the agent, or a game's dict of them; only ``act(obs, deterministic=True)``
            is called.
        num_episodes: episodes to average, for envs with episodes.
        seed: reset seed of the evaluation episodes.
        video: a list to append frames to (``(H, W, 3)`` uint8, the first sub-envs side by
            side, from the env's ``frames`` hook), for envs with episodes.
        train_env: the env the agent trains on; where it serves a dataset's train split
            (its ``split`` hook) it is scored too, as ``eval/train_score`` and
            ``eval/generalization_gap`` (train score minus held-out score).

    Returns:
        ``{"eval/score": ..., "eval/<metric>": ...}`` as 0-d tensors on the env's device.

    Example:
        >>> import sandbox
        >>> train = sandbox.make("sandbox/LinReg-v0")
        >>> agent = sandbox.make_agent("gradient", train)
        >>> sorted(evaluate(train.eval_env(), agent, train_env=train))
        ['eval/generalization_gap', 'eval/mse', 'eval/r2', 'eval/score', 'eval/train_score']
    """
    with torch.inference_mode():
        if isinstance(agent, Mapping):
            figures = env.score({p: _deterministic(a) for p, a in agent.items()})
        elif env_hook(env, "score") is not None:
            figures = env.score(_deterministic(agent))
            if train_env is not None and env_hook(train_env, "split") == "train":
                train_score = train_env.score(_deterministic(agent))["score"]
                figures["train_score"] = train_score
                figures["generalization_gap"] = train_score - figures["score"]
        else:
            figures = _play_episodes(env, agent, num_episodes, seed, video)
    return {f"eval/{name}": value for name, value in figures.items()}


def eval_seed(run_seed: int | None, num_envs: int) -> int | None:
    """The reset seed of every evaluation of a run seeded ``run_seed`` (``None``: unseeded).

    Each evaluation starts from it again, so its episodes depend on the run's seed and the
    agent's weights only: the same seed repeats them, and a resumed run (or ``sandbox eval``)
    needs no evaluation state.

    Example:
        >>> eval_seed(0, num_envs=10)
        1
    """
    return None if run_seed is None else distributed.env_seed(run_seed + 1, num_envs)


def _deterministic(agent: Agent) -> Any:
    return lambda obs: agent.act(obs, deterministic=True)


def _play_episodes(
    env: Env, agent: Agent, num_episodes: int, seed: int | None, video: list[Tensor] | None
) -> dict[str, Tensor]:
    per_env = -(-num_episodes // env.num_envs)  # ceil
    device = env_device(env)
    returns = torch.zeros(env.num_envs, device=device)  # (N,) summed over counted episodes
    lengths = torch.zeros(env.num_envs, device=device)  # (N,)
    counted = torch.zeros(env.num_envs, dtype=torch.long, device=device)  # (N,)
    obs, _ = env.reset(seed=seed)
    record = _recorder(env, video)
    record()
    while int(counted.min()) < per_env:
        obs, _, _, _, info = env.step(agent.act(obs, deterministic=True))
        record()
        if "episode" in info:
            take = torch.as_tensor(info["_episode"], device=device) & (counted < per_env)
            returns += torch.where(take, torch.as_tensor(info["episode"]["r"], device=device), 0)
            lengths += torch.where(take, torch.as_tensor(info["episode"]["l"], device=device), 0)
            counted += take.long()
    # a data-parallel run: every rank played its own episodes; the mean is over all of them
    ret, length, count = distributed.all_reduce_sum(
        torch.stack([returns.sum(), lengths.sum(), counted.sum().float()])
    ).unbind()
    mean_return = ret / count
    return {"score": mean_return, "mean_reward": mean_return, "mean_ep_length": length / count}


def _recorder(env: Env, video: list[Tensor] | None) -> Any:
    """A function that appends the env's frames to ``video`` (until ``MAX_FRAMES``), or none."""
    if video is None:
        return lambda: None
    num = min(VIDEO_ENVS, env.num_envs)

    def record() -> None:
        if len(video) < MAX_FRAMES:
            video.append(tile(env.frames(num)))  # (H, num * W, 3)

    return record


def read_figures(figures: dict[str, Tensor]) -> dict[str, float]:
    """One device-to-host copy for a dict of 0-d tensors."""
    if not figures:
        return {}
    values = torch.stack([v.float() for v in figures.values()]).tolist()
    return dict(zip(figures, values, strict=True))
