"""Data-parallel runs on ``torch.distributed``: one process per device, launched by torchrun.

``torchrun --nproc-per-node 4 -m sandbox run ENV AGENT ...`` runs the same command as one
process would. torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; ``init`` joins the
process group (NCCL on CUDA, each process on ``cuda:LOCAL_RANK``; Gloo on the CPU) and the
rest of the sandbox asks this module who it is:

- a dataset or GAN env ``shard``s its split: every rank draws the same global permutation
  from the seed and takes its slice of each global batch, so the union of the ranks'
  batches is the batch one process with ``world_size`` times the batch would see;
- an agent wraps its module with ``wrap`` (``DistributedDataParallel``), whose backward
  averages the gradients, so the ranks' parameters stay equal;
- an env without a split (a simulator) steps its own sub-envs from its own seeds;
- metrics and evaluations are reduced across ranks; only rank 0 writes TensorBoard and
  checkpoints, into the one run directory it creates (``on_main``).

When a rank fails, the others name it (``failure``): a rank that raised leaves its error in
the process group's store before it exits; a rank that was killed leaves nothing, and the
survivors, whose next collective fails at once (Gloo: the peer's socket is closed), name the
ranks that neither reported nor checked in.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist
import torch.nn as nn
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from sandbox.core import UsageError
from sandbox.device import resolve_device

T = TypeVar("T")

TIMEOUT = timedelta(minutes=10)
"""How long a collective waits for a silent rank before it fails (Gloo; NCCL's watchdog)."""
STOP_CHECK_EVERY = 32
"""Steps between the ranks' agreement on a stop signal (one tiny all-reduce; and at each log)."""
_FAILED, _ALIVE = "sandbox/failed/", "sandbox/alive/"


def launched() -> bool:
    """Whether torchrun (or any launcher setting its variables) started several processes.

    Example:
        >>> launched()  # a plain interpreter
        False
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def active() -> bool:
    """Whether this process is one rank of an initialised process group of several."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 outside a data-parallel run).

    Example:
        >>> rank(), world_size(), is_main()
        (0, 1, True)
    """
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """How many processes share the run (1 outside a data-parallel run)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes the run's TensorBoard files and checkpoints (rank 0)."""
    return rank() == 0


def init(device: str = "auto") -> str:
    """Join torchrun's process group if launched by it; return the device this rank uses.

    The backend follows the device: NCCL on CUDA, where each process takes
    ``cuda:LOCAL_RANK``; Gloo on the CPU. Outside torchrun this only returns ``device``.

    Example:
        >>> init("cpu")
        'cpu'
    """
    if not launched() or active():
        return device
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        if device not in ("auto", "cuda"):
            raise UsageError(
                f"under torchrun each process takes cuda:LOCAL_RANK; pass --device cuda or "
                f"auto, not {device!r} (CUDA_VISIBLE_DEVICES picks the GPUs)"
            )
        resolved = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(resolved)
        backend = "nccl"
    elif resolved.type == "cpu":
        backend = "gloo"
    else:
        raise UsageError(
            f"data-parallel runs need CUDA (NCCL) or the CPU (Gloo), got device {resolved}"
        )
    dist.init_process_group(backend, timeout=TIMEOUT)
    return str(resolved)


def shutdown() -> None:
    """Leave the process group (at the end of a command, whatever happened)."""
    if dist.is_available() and dist.is_initialized():
        try:
            dist.destroy_process_group()
        except Exception:  # a group whose peers are gone: nothing left to tidy
            pass


def wrap(module: nn.Module, forward: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """``DistributedDataParallel(module)`` in a data-parallel run, else ``module`` itself.

    Call the training forward through the wrapper, so that the backward that follows
    averages the gradients across ranks; keep ``module`` for everything else (evaluation,
    ``state_dict``). Building it broadcasts rank 0's parameters, so every rank starts equal.

    Args:
        module: the agent's network.
        forward: the training forward as ``forward(module, *inputs)``, for a module whose own
            ``forward`` is not it (an actor-critic's methods); DDP runs it as the forward.

    Example:
        >>> net = nn.Linear(2, 1)
        >>> wrap(net) is net  # one process
        True
    """
    if not active():
        return module if forward is None else functools.partial(forward, module)
    inner = module if forward is None else _Forward(module, forward)
    device = next(module.parameters()).device
    return DistributedDataParallel(inner, device_ids=[device] if device.type == "cuda" else None)


class _Forward(nn.Module):
    """``module`` with ``forward(module, *inputs)`` as its forward (for DDP to call)."""

    def __init__(self, module: nn.Module, forward: Callable[..., Any]) -> None:
        super().__init__()
        self.module, self._forward = module, forward

    def forward(self, *inputs: Any) -> Any:
        return self._forward(self.module, *inputs)


def require_data_parallel(agent: Any) -> None:
    """Refuse, before any step, an agent whose training forward is not wrapped by ``wrap``."""
    if not isinstance(getattr(agent, "train_net", None), DistributedDataParallel):
        name = getattr(agent, "name", type(agent).__name__)
        raise UsageError(
            f"agent {name!r} has no data-parallel form (gradient, the GAN players and ppo "
            "do); run it in one process, without torchrun"
        )


def all_reduce_sum(tensor: Tensor) -> Tensor:
    """Sum ``tensor`` over the ranks, in place; returned for chaining (a no-op alone).

    Example:
        >>> all_reduce_sum(torch.tensor([1.0, 2.0]))
        tensor([1., 2.])
    """
    if active():
        dist.all_reduce(tensor)
    return tensor


def all_reduce_mean(tensor: Tensor) -> Tensor:
    """The mean of ``tensor`` over the ranks (a new tensor; ``tensor`` itself alone).

    Example:
        >>> all_reduce_mean(torch.tensor(2.0))
        tensor(2.)
    """
    if not active():
        return tensor
    return all_reduce_sum(tensor.detach().clone()) / world_size()


def any_rank(flag: bool, device: str | torch.device = "cpu") -> bool:
    """Whether ``flag`` is set on any rank (a collective: every rank must call it).

    Example:
        >>> any_rank(True)
        True
    """
    if not active():
        return flag
    return bool(all_reduce_sum(torch.tensor([float(flag)], device=device)) > 0)


def on_main(fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 and give every rank its result, or raise its error on every rank.

    Used for what exists once per run: the run directory, the checkpoint read on resume.

    Example:
        >>> on_main(lambda: 3)
        3
    """
    if not active():
        return fn()
    box: list[Any] = [None]
    if is_main():
        try:
            box[0] = (fn(), None)
        except Exception as e:  # every rank raises it, so none waits for the others
            box[0] = (None, e)
    dist.broadcast_object_list(box, src=0)
    result, error = box[0]
    if error is not None:
        raise error
    return result


def gather_to_main(obj: Any) -> list[Any] | None:
    """Every rank's ``obj`` (tensors moved to the CPU) as a list on rank 0; ``None`` elsewhere.

    Example:
        >>> gather_to_main({"pos": 3})
        [{'pos': 3}]
    """
    obj = _to_cpu(obj)
    if not active():
        return [obj]
    out: list[Any] | None = [None] * world_size() if is_main() else None
    dist.gather_object(obj, out, dst=0)
    return out


SAME = "sandbox/same-as-rank-0"
"""What a checkpoint holds, in another rank's state, for a tensor equal to rank 0's."""


def dedupe(ref: Any, other: Any) -> Any:
    """``other`` with each tensor equal to ``ref``'s at the same place replaced by ``SAME``.

    DDP keeps the ranks' parameters and optimizer states equal, and sharded envs share their
    batch order, so a checkpoint stores them once (rank 0's), not once per rank.

    Example:
        >>> ref = {"w": torch.ones(2), "obs": torch.zeros(1)}
        >>> dedupe(ref, {"w": torch.ones(2), "obs": torch.ones(1)})
        {'w': 'sandbox/same-as-rank-0', 'obs': tensor([1.])}
    """
    if isinstance(other, Tensor):
        same = isinstance(ref, Tensor) and ref.shape == other.shape and ref.dtype == other.dtype
        return SAME if same and torch.equal(ref, other) else other
    if isinstance(other, dict) and isinstance(ref, dict):
        return {k: dedupe(ref[k], v) if k in ref else v for k, v in other.items()}
    if isinstance(other, list | tuple) and isinstance(ref, list | tuple) and len(ref) == len(other):
        return type(other)(dedupe(a, b) for a, b in zip(ref, other, strict=True))
    return other


def undedupe(ref: Any, other: Any) -> Any:
    """The inverse of ``dedupe``: ``SAME`` back to ``ref``'s tensor at the same place.

    Example:
        >>> ref = {"w": torch.ones(2), "obs": torch.zeros(1)}
        >>> undedupe(ref, dedupe(ref, {"w": torch.ones(2), "obs": torch.ones(1)}))["w"]
        tensor([1., 1.])
    """
    if isinstance(other, str) and other == SAME:
        return ref
    if isinstance(other, dict) and isinstance(ref, dict):
        return {k: undedupe(ref[k], v) if k in ref else v for k, v in other.items()}
    if isinstance(other, list | tuple) and isinstance(ref, list | tuple) and len(ref) == len(other):
        return type(other)(undedupe(a, b) for a, b in zip(ref, other, strict=True))
    return other


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def env_seed(seed: int | None, num_envs: int) -> int | None:
    """This rank's reset seed for an env that steps its own sub-envs (a simulator).

    Gymnasium seeds sub-env ``i`` with ``seed + i``, so rank ``r`` starting at
    ``seed + r * num_envs`` gives every sub-env of the run its own seed.

    Example:
        >>> env_seed(7, num_envs=4)  # rank 0
        7
    """
    return None if seed is None else seed + rank() * num_envs


def seed_rank(seed: int | None) -> None:
    """Give each rank its own torch/NumPy/Python stream (exploration, dropout): ``seed + rank``.

    Rank 0 keeps ``seed``'s stream, so its draws are those of a one-process run.
    """
    if seed is not None and rank() > 0:
        from sandbox.seeding import seed_everything

        seed_everything(seed + rank())


# --- a rank fails: the others name it --------------------------------------------------------
def _store() -> Any:
    store = dist.distributed_c10d._get_default_store()  # the group's key-value store
    store.set_timeout(timedelta(seconds=5))
    return store


def is_collective_error(error: BaseException) -> bool:
    """Whether ``error`` came from a collective whose peer is gone (Gloo, NCCL, the store).

    Example:
        >>> is_collective_error(RuntimeError("[gloo/transport/tcp/pair.cc] Connection reset"))
        True
        >>> is_collective_error(ValueError("a bug"))
        False
    """
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and any(
        s in text for s in ("gloo", "NCCL", "Connection reset", "Connection closed", "peer")
    )


def failure(error: BaseException, where: str, wait: float = 3.0) -> str:
    """The message of a rank that stops on ``error``, naming the rank that failed.

    A rank's own error is left in the store for the others and named as this rank's. A
    failed collective (a peer gone) names the ranks that reported an error, and the ranks
    that neither reported one nor checked in within ``wait`` seconds (killed, or their
    machine left: the launcher's report gives their exit code).
    """
    me = rank()
    text = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
    try:
        store = _store()
    except Exception:
        store = None
    if not is_collective_error(error):
        if store is not None:
            with contextlib.suppress(Exception):
                store.set(f"{_FAILED}{me}", f"{text} {where}")
        return f"[rank {me}] {text} {where}"
    failed = _failed_peers(store, me, wait) if store is not None else {}
    if not failed:
        return f"[rank {me}] the process group failed {where} ({text}); no rank said why"
    named = "; ".join(
        f"rank {r} failed: {msg}"
        if msg
        else f"rank {r} stopped without a word (killed, or its machine left; the "
        "launcher's report has its exit code)"
        for r, msg in sorted(failed.items())
    )
    return f"[rank {me}] stopped {where}: {named}"


def _failed_peers(store: Any, me: int, wait: float) -> dict[int, str | None]:
    """The other ranks that left an error in the store (with it), or that neither left one
    nor checked in as alive within ``wait`` seconds (``None``)."""
    failed: dict[int, str | None] = {}
    with contextlib.suppress(Exception):  # the store may be gone with rank 0
        store.set(f"{_ALIVE}{me}", "1")
        deadline = time.monotonic() + wait
        while True:
            unknown = []
            for r in range(world_size()):
                if r == me:
                    continue
                if store.check([f"{_FAILED}{r}"]):
                    failed[r] = store.get(f"{_FAILED}{r}").decode()
                elif not store.check([f"{_ALIVE}{r}"]):
                    unknown.append(r)
            if not unknown or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        failed.update({r: None for r in unknown})
    return failed
