"""A trained agent back from its run directory: ``sandbox.load`` and ``sandbox eval RUN_DIR``.

The checkpoint's config rebuilds env and agent (as ``--resume`` does), with any number of
sub-envs and on any device; the agent gets the state acting needs. Entries an agent lists
in ``training_only`` (PPO's rollout, DQN's replay buffer: shapes that follow ``num_envs``)
are kept from the freshly built agent, so a run trained on 8 sub-envs acts on 1 or 100.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from sandbox import registry, seats
from sandbox.checkpoint import load_checkpoint
from sandbox.core import env_hook
from sandbox.device import resolve_device
from sandbox.errors import CheckpointError, UsageError
from sandbox.evaluation import eval_seed, evaluate, read_figures
from sandbox.run import RunConfig
from sandbox.seeding import seed_everything
from sandbox.video import video_env, write_gif


def load(
    run_dir: str | Path, *, num_envs: int | None = None, device: str | None = None
) -> tuple[Any, Any]:
    """The env and the trained agent of a run directory, ready to act.

    Args:
        run_dir: a directory written by ``sandbox run`` (or ``sandbox.train``) with a checkpoint.
        num_envs: sub-envs of the env built (default: the run's); the agent acts on any batch.
        device: where env and agent live (default: the run's device).

    Returns:
        ``(env, agent)``; a game's agent is its ``{player: agent}`` dict.

    Example:
        >>> import sandbox, tempfile
        >>> env = sandbox.make("sandbox/CartPole-v1", num_envs=4)
        >>> result = sandbox.train(env, sandbox.make_agent("ppo", env), 512,
        ...                        logdir=tempfile.mkdtemp(), progress=False)
        >>> env, agent = load(result.run_dir, num_envs=1)
        >>> obs, _ = env.reset(seed=0)
        >>> agent.act(obs, deterministic=True).shape
        torch.Size([1])
    """
    env, agent, _ = _rebuild(run_dir, num_envs, device)
    return env, agent


def _rebuild(
    run_dir: str | Path, num_envs: int | None, device: str | None
) -> tuple[Any, Any, dict[str, Any]]:
    """``load``'s env and agent, and the run's config from the checkpoint."""
    state = load_checkpoint(run_dir, map_location="cpu")
    c = state["config"]
    if num_envs is not None and (isinstance(num_envs, bool) or num_envs < 1):
        raise UsageError(f"num_envs must be a positive number of sub-envs, got {num_envs!r}")
    where = resolve_device(device) if device is not None else c["device"]
    seed_everything(c["run"].get("seed") or 0)  # initial weights, overwritten below
    try:
        env = registry.make(c["env_id"], num_envs or c["num_envs"], device=where, **c["env"])
        if "players" in c:  # a game: one agent per player
            players = {p: (pc["agent"], pc["agent_config"]) for p, pc in c["players"].items()}
            agents = seats.make_players(env, players)
            for player, agent in agents.items():
                _load_acting_state(agent, state["agent"][player], run_dir)
            return env, agents, c
        agent = registry.make_agent(c["agent"], env, **c["agent_config"])
    except UsageError as e:
        raise CheckpointError(f"cannot rebuild the run in {run_dir}: {e}") from None
    _load_acting_state(agent, state["agent"], run_dir)
    return env, agent, c


def _load_acting_state(agent: Any, saved: dict[str, Any], run_dir: str | Path) -> None:
    """Load ``saved`` into ``agent``, keeping the agent's own ``training_only`` entries."""
    fresh = agent.state_dict()
    own = {k: fresh[k] for k in getattr(agent, "training_only", ()) if k in fresh}
    try:
        agent.load_state_dict({**saved, **own})
    except (RuntimeError, KeyError, ValueError) as e:  # torch: size mismatch, missing keys
        first = str(e).strip().splitlines()[0][:200]
        raise CheckpointError(
            f"the agent's state in {run_dir} does not fit the agent rebuilt from its config "
            f"({type(e).__name__}: {first})"
        ) from None


def evaluate_run(
    run_dir: str | Path,
    *,
    episodes: int | None = None,
    num_envs: int | None = None,
    device: str | None = None,
    seed: int | None = None,
    capture_video: bool = False,
) -> tuple[dict[str, float], Path | None]:
    """``eval/*`` of a run's trained agent (``sandbox eval RUN_DIR``), and where its video went.

    By default it is the run's own evaluation (its eval env, episodes and seed), so it repeats
    the run's final ``eval/score``; ``num_envs`` plays the episodes on that many sub-envs
    instead (for a dataset: the batch size over the test split). ``capture_video`` records the
    run's own evaluation episodes into ``RUN_DIR/videos/sandbox-eval-<time>.gif``.
    """
    if episodes is not None and episodes < 1:
        raise UsageError(f"--episodes must be >= 1, got {episodes}")
    env, agent, config = _rebuild(run_dir, num_envs, device)
    held_out = env.eval_env() if env_hook(env, "eval_env") is not None else env
    if capture_video:
        held_out = video_env(env)  # the eval env, rendering
    elif num_envs is not None and env_hook(held_out, "score") is None:
        held_out = env  # episodes on the sub-envs asked for (an eval copy has its own count)
    run = RunConfig.from_dict(config["run"])
    seed = seed if seed is not None else eval_seed(run.seed, held_out.num_envs)
    video: list[torch.Tensor] | None = [] if capture_video else None
    with torch.inference_mode():
        figures = evaluate(
            held_out, agent, num_episodes=episodes or run.eval_episodes, seed=seed, video=video
        )
    path = None
    if video:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        fps = held_out.metadata.get("render_fps", 30)
        path = write_gif(video, Path(run_dir) / "videos" / f"sandbox-eval-{stamp}.gif", fps)
    return read_figures(figures), path


def format_figures(figures: dict[str, float]) -> str:
    """``score 500 (mean_reward 500, mean_ep_length 500)``."""
    rest = ", ".join(
        f"{k.removeprefix('eval/')} {v:.4g}" for k, v in figures.items() if k != "eval/score"
    )
    return f"score {figures['eval/score']:.4g} ({rest})"
