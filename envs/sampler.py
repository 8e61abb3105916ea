"""One split of a dataset on the device, shown in batches drawn from random permutations.

``SupervisedEnv``, ``ClusteringEnv`` and ``GANGame`` show their data through a ``Sampler``:
the split's tensors move to the device once; each batch is the next ``batch_size`` indices
of a stream of consecutive permutations (an epoch shows every sample once, and a batch that
crosses an epoch takes the old epoch's tail and the new one's head); in a data-parallel run
every rank draws the same permutations and takes its rows of each global batch (``shard``);
and ``state_dict`` resumes the batch order exactly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from sandbox.device import canonical_device
from sandbox.errors import UsageError


class Sampler:
    """The tensors of one split on ``device`` and the order their rows are shown in.

    Args:
        tensors: the split's tensors, one row per sample (the same first dimension): ``(X, y)``,
            ``(X,)``.
        batch_size: rows per batch on this rank (the env's ``num_envs``).
        device: where the tensors live and the permutations are drawn.
        shuffle: each epoch a random permutation (a train split); else the rows in order.
        strict: refuse a global batch larger than the split (a train split, whose epoch must
            hold a batch); else a batch wraps around the split as often as it needs.

    Example:
        >>> s = Sampler((torch.arange(5),), batch_size=2, shuffle=False, strict=False)
        >>> [s.next_batch()[0].tolist() for _ in range(3)]
        [[0, 1], [2, 3], [4, 0]]
    """

    def __init__(
        self,
        tensors: tuple[Tensor, ...],
        batch_size: int,
        *,
        device: str | torch.device = "cpu",
        shuffle: bool = True,
        strict: bool = True,
    ) -> None:
        self.device = canonical_device(device)
        self.tensors = tuple(t.to(self.device) for t in tensors)
        self.num_samples = len(self.tensors[0])
        if any(len(t) != self.num_samples for t in self.tensors):
            shapes = [tuple(t.shape) for t in self.tensors]
            raise UsageError(f"a split's tensors need one row per sample each, got {shapes}")
        self.batch_size, self.shuffle, self.strict = batch_size, shuffle, strict
        self.rank, self.world_size = 0, 1
        self._check_fits(1)
        self.generator = torch.Generator(self.device)  # the batch order
        self.epoch = 0
        self._order = torch.empty(0, dtype=torch.long, device=self.device)  # indices to show
        self._pos = 0  # where the next global batch starts in _order
        self.indices = self._order  # (N,) the rows of the current batch

    def __len__(self) -> int:
        return self.num_samples

    def _check_fits(self, world_size: int) -> None:
        if not self.strict or self.batch_size * world_size <= self.num_samples:
            return
        if world_size == 1:
            raise UsageError(
                f"num_envs (the batch, {self.batch_size}) is larger than the train split "
                f"({self.num_samples} samples); use at most {self.num_samples}"
            )
        raise UsageError(
            f"{world_size} ranks x num_envs {self.batch_size} is larger than the train split "
            f"({self.num_samples} samples); use at most {self.num_samples // world_size} per rank"
        )

    def reset(self, seed: int | None = None) -> None:
        """Start a fresh epoch at the next batch; ``seed`` reseeds the order."""
        if seed is not None:
            self.generator.manual_seed(seed)
        self._order, self._pos = self._order[:0], 0

    def shard(self, rank: int, world_size: int) -> None:
        """Show rank ``rank`` its rows ``[rank N, (rank + 1) N)`` of every global batch.

        Every rank draws the same permutations (same seed) and steps through global batches
        of ``world_size * N`` rows, so the ranks' batches together are the batch that one
        process with ``world_size`` times the batch would show.
        """
        if not 0 <= rank < world_size:
            raise UsageError(f"rank must be in [0, {world_size}), got {rank}")
        self._check_fits(world_size)
        self.rank, self.world_size = rank, world_size

    def next_indices(self) -> Tensor:
        """Move on to the next batch; its rows of the split, ``(N,)`` long."""
        size = self.batch_size * self.world_size  # the global batch (all ranks)
        while self._pos + size > len(self._order):  # the epoch's tail, then the next epoch
            self._order = torch.cat([self._order[self._pos :], self._epoch_order()])
            self._pos = 0
        start = self._pos + self.rank * self.batch_size  # this rank's rows of the global batch
        self.indices = self._order[start : start + self.batch_size]  # (N,)
        self._pos += size
        return self.indices

    def next_batch(self) -> tuple[Tensor, ...]:
        """Move on to the next batch; its rows of every tensor, ``((N, ...), ...)``."""
        self.next_indices()
        return self.batch()

    def batch(self) -> tuple[Tensor, ...]:
        """The current batch's rows of every tensor (no move).

        A batch that is the whole split in order is the split's tensors themselves, not a
        copy (full-batch k-means): do not modify it.
        """
        if not self.shuffle and self.world_size == 1 and self.batch_size == self.num_samples:
            return self.tensors
        # index_select gathers whole rows; X[idx] goes through advanced indexing's general path
        return tuple(t.index_select(0, self.indices) for t in self.tensors)

    def _epoch_order(self) -> Tensor:
        self.epoch += 1
        if not self.shuffle:
            return torch.arange(self.num_samples, device=self.device)
        return torch.randperm(self.num_samples, generator=self.generator, device=self.device)

    def state_dict(self) -> dict[str, Any]:
        """Generator, order, position and the current batch's rows: enough to continue exactly."""
        return {
            "generator": self.generator.get_state(),
            "order": self._order,
            "pos": self._pos,
            "epoch": self.epoch,
            "indices": self.indices,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``: the next batch is the one the saved sampler would show."""
        self.generator.set_state(state["generator"])
        self._order = state["order"].to(self.device)
        self._pos, self.epoch = state["pos"], state["epoch"]
        self.indices = state["indices"].to(self.device)
