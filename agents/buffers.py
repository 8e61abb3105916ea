"""The replay buffer of off-policy agents: preallocated on the device, filled in place.

One ``add`` writes a whole batch of ``N`` transitions into a ring of ``capacity`` rows (a
multiple of ``N``, so a batch is one contiguous slice); ``sample`` draws uniform indices
on the device. Positions are Python ints, so neither call reads the device.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


class ReplayBuffer:
    """A ring of ``(obs, action, reward, next_obs, terminated)`` rows on ``device``.

    Example:
        >>> buf = ReplayBuffer(4, num_envs=2, obs_shape=(3,), action_shape=(), device="cpu")
        >>> buf.add(torch.zeros(2, 3), torch.ones(2, dtype=torch.long), torch.ones(2),
        ...         torch.zeros(2, 3), torch.zeros(2, dtype=torch.bool))
        >>> len(buf), buf.sample(5)["reward"].shape
        (2, torch.Size([5]))
    """

    def __init__(
        self,
        capacity: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        device: str | torch.device,
        action_dtype: torch.dtype = torch.long,
    ) -> None:
        self.capacity = -(-capacity // num_envs) * num_envs  # rounded up to whole batches
        self.num_envs, self.device = num_envs, torch.device(device)
        c = self.capacity
        self.storage = {
            "obs": torch.zeros(c, *obs_shape, device=self.device),  # (C, *obs)
            "action": torch.zeros(c, *action_shape, dtype=action_dtype, device=self.device),
            "reward": torch.zeros(c, device=self.device),  # (C,)
            "next_obs": torch.zeros(c, *obs_shape, device=self.device),  # (C, *obs)
            "terminated": torch.zeros(c, dtype=torch.bool, device=self.device),  # (C,)
        }
        self.pos, self.size = 0, 0

    def __len__(self) -> int:
        return self.size

    def add(
        self, obs: Tensor, action: Tensor, reward: Tensor, next_obs: Tensor, terminated: Tensor
    ) -> None:
        """Write one batch of ``N`` transitions over the oldest rows."""
        rows = slice(self.pos, self.pos + self.num_envs)
        for key, value in zip(
            ("obs", "action", "reward", "next_obs", "terminated"),
            (obs, action, reward, next_obs, terminated),
            strict=True,
        ):
            self.storage[key][rows] = value
        self.pos = (self.pos + self.num_envs) % self.capacity
        self.size = min(self.size + self.num_envs, self.capacity)

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """``batch_size`` transitions drawn uniformly with replacement."""
        idx = torch.randint(
            self.size, (batch_size,), device=self.device, generator=generator
        )  # (B,)
        return {key: value[idx] for key, value in self.storage.items()}

    def state_dict(self) -> dict[str, Any]:
        """The stored rows and the ring's position."""
        return {"storage": dict(self.storage), "pos": self.pos, "size": self.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``."""
        for key, value in state["storage"].items():
            self.storage[key].copy_(value)
        self.pos, self.size = state["pos"], state["size"]
