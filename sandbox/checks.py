"""Loud contracts: actions checked on every step, envs checked against DESIGN §2.

An ``ActionChecker`` is what every sandbox env calls first in ``step``. Its shape, dtype and
device checks cost no synchronisation; the value checks (NaN, bounds, class range) read the
tensor, so they run where that is free (CPU). On an accelerator the loop's once-per-interval
non-finite check stands in for them.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from sandbox.core import ActionError, Env, env_device
from sandbox.device import canonical_device


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class ActionChecker:
    """Checks that an action is a batch of ``num_envs`` members of ``space``, on ``device``.

    Built once per env (the expected shape and bounds are precomputed) and called first
    in every ``step``; raises ``ActionError`` naming what was expected and what was given.

    Args:
        space: the env's ``single_action_space`` (``Box`` or ``Discrete``).
        num_envs: the batch size ``N`` the env expects.
        device: the env's device; the action must already be there.

    Example:
        >>> from gymnasium.spaces import Discrete
        >>> check = ActionChecker(Discrete(3), 2, torch.device("cpu"))
        >>> check(torch.tensor([0, 2]))
        >>> check(torch.tensor([0, 3]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sandbox.errors.ActionError: action out of range: expected class indices in [0, 3), got ...
    """

    def __init__(self, space: gymnasium.Space, num_envs: int, device: torch.device) -> None:
        if not isinstance(space, spaces.Box | spaces.Discrete):
            raise ActionError(f"unsupported action space {space}: expected Box or Discrete")
        self.space, self.num_envs, self.device = space, num_envs, canonical_device(device)
        self.shape = (num_envs, *space.shape)
        self.discrete = isinstance(space, spaces.Discrete)
        # Reading values costs a host sync: only where that is free (CPU).
        self.check_values = self.device.type == "cpu"
        self.bounds = None
        self.scalar_bounds: tuple[float, float] | None = None  # the same bounds everywhere
        if not self.discrete and space.is_bounded("both"):
            self.bounds = (torch.as_tensor(space.low), torch.as_tensor(space.high))
            low, high = float(space.low.min()), float(space.high.max())
            if low == float(space.low.max()) and high == float(space.high.min()):
                self.scalar_bounds = (low, high)

    def __call__(self, action: object) -> None:
        """Raise ``ActionError`` unless ``action`` fits; return ``None`` when it does."""
        if not isinstance(action, Tensor):
            raise ActionError(
                f"action must be a torch.Tensor on {self.device}, got {type(action).__name__}"
            )
        if action.shape != self.shape:
            raise ActionError(
                f"action shape mismatch: expected {_shape(self.shape)} ({self.num_envs} sub-envs "
                f"x action shape {_shape(self.space.shape)}), got {_shape(tuple(action.shape))}"
            )
        if action.device != self.device:
            raise ActionError(
                f"action on the wrong device: expected {self.device}, got {action.device}"
            )
        if self.discrete:
            self._check_indices(action)
        elif not action.is_floating_point():
            raise ActionError(f"action dtype mismatch: expected a float tensor, got {action.dtype}")
        elif self.check_values:
            self._check_box_values(action.detach())

    def _check_indices(self, action: Tensor) -> None:
        if action.is_floating_point() or action.is_complex() or action.dtype == torch.bool:
            raise ActionError(
                f"action dtype mismatch: expected integer class indices for "
                f"{self.space}, got {action.dtype}"
            )
        if self.check_values:
            low, high = int(self.space.start), int(self.space.start + self.space.n)
            a_min, a_max = action.aminmax()
            if int(a_min) < low or int(a_max) >= high:
                raise ActionError(
                    f"action out of range: expected class indices in [{low}, "
                    f"{high}), got values from {int(a_min)} to {int(a_max)}"
                )

    def _check_box_values(self, a: Tensor) -> None:
        if self.scalar_bounds is not None:  # one min/max read checks bounds, NaN and inf
            low, high = self.scalar_bounds
            a_min, a_max = (float(v) for v in a.aminmax())
            if low <= a_min and a_max <= high:  # False for a NaN, which min/max propagate
                return
        # One cheap reduction: NaN and inf propagate through a sum (isfinite().all() costs
        # ~10x more); only a non-finite sum pays for the exact count.
        if not math.isfinite(float(a.sum())) and not bool(torch.isfinite(a).all()):
            bad = int((~torch.isfinite(a)).sum())
            raise ActionError(f"action holds {bad} NaN/inf value(s): expected finite numbers")
        if self.bounds is not None:
            low, high = self.bounds
            if bool(((a < low) | (a > high)).any()):
                raise ActionError(
                    f"action outside the space: expected values in [{float(low.min())}, "
                    f"{float(high.max())}], got values from {float(a.min())} to {float(a.max())}"
                )


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
    if hasattr(env, "score") and hasattr(env, "X"):
        checks.append(("evaluation covers its split exactly once", lambda: _coverage(env)))
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
    PettingZoo's own ``api_test``.

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

    from sandbox.single import SingleEnvView

    with warnings.catch_warnings():  # its advice on infinite Box bounds does not apply here
        warnings.simplefilter("ignore")
        gymnasium_check_env(SingleEnvView(env), skip_render_check=True)


def _same_rollout(env: Env, seed: int, actions: list[Tensor], device: torch.device) -> None:
    first = _rollout(env, seed, actions, device)
    second = _rollout(env, seed, actions, device)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b), "the same seed and actions gave a different rollout"


def _coverage(env: Env) -> None:
    seen: list[Tensor] = []

    def policy(obs: Tensor) -> Tensor:
        seen.append(obs)
        return _sample_actions(env, env_device(env), 0, len(obs))

    env.score(policy)
    rows = torch.cat(seen)
    assert len(rows) == len(env.X), f"evaluation saw {len(rows)} samples of {len(env.X)}"
    assert torch.equal(rows, env.X), "evaluation did not pass over the split in order, once"


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
    assert isinstance(info, dict), f"reset must return an info dict, got {type(info).__name__}"
    out = [obs.clone()]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        _check_tensor("obs", obs, (n, *obs_space.shape), device)
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
