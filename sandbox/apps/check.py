"""``sandbox check``: an env checked against the contract of DESIGN §2, one row per check."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from sandbox.core import Env, env_device, env_hook


@dataclass(frozen=True)
class CheckResult:
    """One row of ``sandbox check``: what was checked, whether it held, and why not."""

    name: str
    ok: bool
    detail: str = ""
    skipped: bool = False


def env_checks(env: Env, *, seed: int = 0, num_steps: int = 3) -> list[tuple[str, Callable]]:
    """The named contract checks for an env instance; each raises ``AssertionError`` if broken.

    Example:
        >>> import sandbox
        >>> [name for name, _ in env_checks(sandbox.make("sandbox/LinReg-v0", num_envs=2))][:2]
        ['attributes and spaces', 'tensors: shapes, dtypes, device; SAME_STEP autoreset']
    """
    device = env_device(env)

    def attributes() -> None:
        for name in (
            "num_envs",
            "single_observation_space",
            "single_action_space",
            "observation_space",
            "action_space",
            "metadata",
        ):
            assert hasattr(env, name), f"env lacks the attribute {name!r}"
        mode = env.metadata.get("autoreset_mode")
        assert mode == gymnasium.vector.AutoresetMode.SAME_STEP, (
            f"metadata['autoreset_mode'] must be SAME_STEP, got {mode!r}"
        )

    actions = [_sample_actions(env, device, i) for i in range(num_steps)]
    checks = [
        ("attributes and spaces", attributes),
        (
            "tensors: shapes, dtypes, device; SAME_STEP autoreset",
            lambda: _rollout(env, seed, actions, device),
        ),
        ("rewards finite", lambda: _rollout(env, seed, actions, device, finite=True)),
        ("same seed, same rollout", lambda: _same_rollout(env, seed, actions, device)),
    ]
    if env_hook(env, "score") is not None:
        same = "evaluation passes over the same samples every time"
        checks.append((same, lambda: _coverage(env)))
    return checks


def check_env(env: Env, *, seed: int = 0, num_steps: int = 3) -> None:
    """Assert that ``env`` keeps the sandbox contract (DESIGN §2); raise ``AssertionError`` if not.

    Checks attributes and spaces, tensor shapes, dtypes and device against the spaces,
    SAME_STEP autoreset (``final_obs`` for every finished sub-env), finite rewards, that
    the same seed gives the same rollout under the same actions, and that a dataset's
    evaluation pass covers its split exactly once. A turn-based game is checked by
    ``sandbox.multi.check_game`` instead.

    Args:
        env: a sandbox env (tensors in and out).
        seed: the reset seed used for both rollouts.
        num_steps: steps per rollout.

    Example:
        >>> import sandbox
        >>> check_env(sandbox.make("sandbox/LinReg-v0", num_envs=4))
    """
    from sandbox.multi import check_game, is_multi_agent

    if is_multi_agent(env):  # a turn-based game has its own contract
        check_game(env, seed=seed)
        return
    for name, check in env_checks(env, seed=seed, num_steps=num_steps):
        try:
            check()
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None


def run_checks(env: Any, single_env: Callable[[], Env] | None = None) -> list[CheckResult]:
    """Every check of ``sandbox check``, as rows; nothing raises.

    A vector env gets ``env_checks`` and, given ``single_env`` (the same env with
    ``num_envs=1``), Gymnasium's own ``check_env`` on its single-env NumPy view. A turn-based
    game gets ``sandbox.multi.check_game`` and, where it offers ``pettingzoo_env()``,
    PettingZoo's own ``api_test``; a board game served to one learner (``envs/board.py``) gets
    the vector env's checks and its game's (``make_game``).

    Example:
        >>> import sandbox
        >>> rows = run_checks(sandbox.make("sandbox/LinReg-v0", num_envs=2),
        ...                   lambda: sandbox.make("sandbox/LinReg-v0", num_envs=1))
        >>> all(r.ok for r in rows), len(rows)
        (True, 6)
    """
    from sandbox.multi import check_game, is_multi_agent  # multi.py imports the loop's parts

    if is_multi_agent(env):
        checks: list[tuple[str, Callable]] = [("turn-based game contract", lambda: check_game(env))]
        if hasattr(env, "pettingzoo_env"):
            checks.append(
                (
                    "PettingZoo api_test (NumPy AEC view)",
                    lambda: _pettingzoo_check(env.pettingzoo_env()),
                )
            )
    else:
        checks = env_checks(env)
        if single_env is not None:
            checks.append(
                (
                    "gymnasium check_env (single-env NumPy view)",
                    lambda: _gymnasium_check(single_env()),
                )
            )
        if hasattr(env, "make_game"):  # a board game from its learner's seats: the game too
            checks.append(("board game contract", lambda: check_game(env.make_game(4))))
        if hasattr(env, "pettingzoo_env"):
            pettingzoo = env.pettingzoo_env
            checks.append(("PettingZoo api_test", lambda: _pettingzoo_check(pettingzoo())))
    rows = []
    for name, check in checks:
        try:
            check()
            rows.append(CheckResult(name, True))
        except ImportError as e:  # an optional checker (PettingZoo) is not installed
            rows.append(CheckResult(name, True, f"skipped: {e}; pip install {e.name}", True))
        except Exception as e:  # a broken env can raise anything: report it, check the rest
            rows.append(CheckResult(name, False, f"{type(e).__name__}: {e}"))
    return rows


def _pettingzoo_check(aec_env: Any) -> None:
    from pettingzoo.test import api_test  # a test dependency: ImportError reads as a skip

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its style advice (agent names, infinite bounds)
        api_test(aec_env, num_cycles=10)


def _gymnasium_check(env: Env) -> None:
    from gymnasium.utils.env_checker import check_env as gymnasium_check_env

    from sandbox.apps.single import SingleEnvView

    with warnings.catch_warnings():  # its advice on infinite Box bounds does not apply here
        warnings.simplefilter("ignore")
        gymnasium_check_env(SingleEnvView(env), skip_render_check=True)


def _same_rollout(env: Env, seed: int, actions: list[Tensor], device: torch.device) -> None:
    first = _rollout(env, seed, actions, device)
    second = _rollout(env, seed, actions, device)
    for a, b in zip(first, second, strict=True):  # NaN equals NaN here: where, not what
        same = a.shape == b.shape and bool(((a == b) | (a.isnan() & b.isnan())).all())
        assert same, "the same seed and actions gave a different rollout"


def _coverage(env: Env) -> None:
    """``score`` passes over the same samples in the same order every time (read through the
    policy it calls: the split itself is the env's own business)."""
    passes: list[list[Tensor]] = [[], []]

    def policy(seen: list[Tensor]) -> Callable[[Tensor], Tensor]:
        def answer(obs: Tensor) -> Tensor:
            seen.append(obs.clone())
            return _sample_actions(env, env_device(env), 0, len(obs))

        return answer

    for seen in passes:
        env.score(policy(seen))
    first, second = (torch.cat(seen) for seen in passes)
    assert len(first) > 0, "evaluation asked the policy nothing"
    assert torch.equal(first, second), "two evaluations passed over different samples"


def _sample_actions(env: Env, device: torch.device, i: int, n: int | None = None) -> Tensor:
    env.single_action_space.seed(i)
    batch = np.stack([env.single_action_space.sample() for _ in range(n or env.num_envs)])
    return torch.as_tensor(batch, device=device)


def _rollout(
    env: Env, seed: int, actions: list[Tensor], device: torch.device, finite: bool = False
) -> list[Tensor]:
    n, obs_space = env.num_envs, env.single_observation_space
    obs, info = env.reset(seed=seed)
    _check_tensor("reset obs", obs, (n, *obs_space.shape), device)
    _check_in_space("reset obs", obs, obs_space)
    assert isinstance(info, dict), f"reset must return an info dict, got {type(info).__name__}"
    out = [obs.clone()]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        _check_tensor("obs", obs, (n, *obs_space.shape), device)
        _check_in_space("obs", obs, obs_space)
        _check_tensor("reward", reward, (n,), device)
        assert reward.is_floating_point(), f"reward must be float, got {reward.dtype}"
        assert not finite or bool(torch.isfinite(reward).all()), "reward holds NaN/inf"
        for name, flag in (("terminated", terminated), ("truncated", truncated)):
            _check_tensor(name, flag, (n,), device)
            assert flag.dtype == torch.bool, f"{name} must be a bool tensor, got {flag.dtype}"
        done = terminated | truncated
        if bool(done.any()):
            assert "final_obs" in info and "_final_obs" in info, (
                "SAME_STEP autoreset: a finished sub-env needs info['final_obs'] and its mask"
            )
            assert torch.equal(torch.as_tensor(info["_final_obs"], device=device), done)
        out += [obs.clone(), reward.detach().clone(), terminated.clone(), truncated.clone()]
    return out


def _check_tensor(name: str, x: object, shape: tuple[int, ...], device: torch.device) -> None:
    assert isinstance(x, Tensor), f"{name} must be a torch.Tensor, got {type(x).__name__}"
    assert tuple(x.shape) == shape, f"{name} shape: expected {shape}, got {tuple(x.shape)}"
    assert x.device == device, f"{name} device: expected {device}, got {x.device}"


def _check_in_space(name: str, obs: Tensor, space: gymnasium.Space) -> None:
    """A Box observation has the space's dtype, no NaN and lies within its bounds; a Discrete
    one is an integer in its range."""
    if isinstance(space, spaces.Box):
        dtype = torch.from_numpy(np.zeros((), space.dtype)).dtype
        assert obs.dtype == dtype, f"{name} dtype: expected {dtype} (the space's), got {obs.dtype}"
        assert not (obs.is_floating_point() and bool(obs.isnan().any())), f"{name} holds NaN"
        low = torch.as_tensor(space.low, device=obs.device)
        high = torch.as_tensor(space.high, device=obs.device)
        outside = (obs < low) | (obs > high)  # (N, *shape)
        assert not bool(outside.any()), (
            f"{name} outside the space's bounds [{space.low.min()}, {space.high.max()}]: "
            f"e.g. {obs[outside][:3].tolist()}"
        )
    elif isinstance(space, spaces.Discrete):
        assert not obs.is_floating_point(), f"{name} must be integers, got {obs.dtype}"
        in_range = (obs >= space.start) & (obs < space.start + space.n)
        assert bool(in_range.all()), f"{name} outside Discrete({space.n}, start={space.start})"
