"""Associative recall: a task that needs attention (d2l §11.1, attention as a dictionary lookup).

Each observation is a small dictionary, ``num_pairs`` (key, value) tokens, then one query
token holding a key of that dictionary; the answer is the value stored under that key. A
token is the one-hot key followed by the one-hot value (the query's value part is zero), so
an observation is a sequence ``(num_pairs + 1, num_keys + num_values)``. One attention head
solves it exactly: the query token's query matches the key token that holds the same key and
reads that token's value. An MLP sees the same numbers flattened and must learn the lookup as
a product of query and keys, for every position. The data are generated once from
``data_seed`` and split as any dataset, so ``SupervisedEnv`` gives the three feedbacks
(gradient, bandit, label), the splits and the accuracy; ``media`` adds the attention maps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from envs import representation
from envs.datasets import DatasetEnv
from envs.supervised import SupervisedConfig


@dataclass(frozen=True)
class RecallConfig(SupervisedConfig):
    """Associative recall: key-value pairs then a query key; answer the value."""

    standardize: bool = False
    """One-hot tokens are shown as they are (standardizing would blur which key is which)."""
    num_samples: int = 10_000
    """Sequences generated (split 70/10/20 into train/val/test)."""
    num_pairs: int = 8
    """Key-value pairs per sequence (the sequence is num_pairs + 1 tokens with the query)."""
    num_keys: int = 16
    """Distinct keys; the keys of one sequence are all different."""
    num_values: int = 8
    """Distinct values: the classes (chance accuracy is 1 / num_values)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_pairs < 1 or self.num_values < 2 or self.num_samples < 10:
            raise ValueError(
                "num_pairs >= 1, num_values >= 2 and num_samples >= 10 expected, got "
                f"{self.num_pairs}, {self.num_values} and {self.num_samples}"
            )
        if self.num_keys < self.num_pairs:
            raise ValueError(
                f"num_keys ({self.num_keys}) must be >= num_pairs ({self.num_pairs}): "
                "the keys of one sequence are all different"
            )


def make_recall(
    num_samples: int, num_pairs: int, num_keys: int, num_values: int, seed: int
) -> tuple[Tensor, Tensor]:
    """Sequences ``X`` ``(n, num_pairs + 1, num_keys + num_values)`` and answers ``y`` ``(n,)``.

    Example:
        >>> X, y = make_recall(100, num_pairs=4, num_keys=6, num_values=3, seed=0)
        >>> X.shape, y.shape
        (torch.Size([100, 5, 9]), torch.Size([100]))
        >>> query = X[:, -1, :6]  # (n, num_keys) one-hot
        >>> match = (X[:, :-1, :6] * query[:, None]).sum(-1)  # (n, num_pairs): 1 at the key
        >>> bool((X[:, :-1, 6:].argmax(-1)[match.bool()] == y).all())
        True
    """
    g = torch.Generator().manual_seed(seed)
    n = num_samples
    keys = torch.rand(n, num_keys, generator=g).argsort(dim=1)[:, :num_pairs]  # (n, P) distinct
    values = torch.randint(num_values, (n, num_pairs), generator=g)  # (n, P)
    asked = torch.randint(num_pairs, (n, 1), generator=g)  # (n, 1) which pair the query names
    query, y = keys.gather(1, asked), values.gather(1, asked).squeeze(1)  # (n, 1), (n,)
    pairs = torch.cat([F.one_hot(keys, num_keys), F.one_hot(values, num_values)], dim=-1)
    question = torch.cat(
        [F.one_hot(query, num_keys), torch.zeros(n, 1, num_values, dtype=torch.long)], dim=-1
    )
    return torch.cat([pairs, question], dim=1).float(), y  # (n, P + 1, K + V), (n,)


class RecallEnv(DatasetEnv):
    """``sandbox/Recall-v0``: read a small dictionary, answer the value stored under the query."""

    Config = RecallConfig

    @staticmethod
    def load(cfg: RecallConfig) -> tuple[Tensor, Tensor, int]:
        """Generated from ``data_seed``."""
        X, y = make_recall(
            cfg.num_samples, cfg.num_pairs, cfg.num_keys, cfg.num_values, cfg.data_seed
        )
        return X, y, 0

    def media(self, agent: Any, num_samples: int = 4, scale: int = 8) -> dict[str, Tensor]:
        """Attention maps of the first ``num_samples`` sequences of this split, one grey
        ``(L, L)`` image per sample and head, sample by sample (row: the token that asks;
        column: the token it reads; the last row is the query's), enlarged ``scale`` times;
        one entry per attention layer the agent's policy runs, ``attention/<layer>``.
        Nothing more than ``SupervisedEnv.media`` for a net without attention."""
        images = super().media(agent)
        net, policy = representation.agent_net(agent)
        if net is None:
            return images
        for name, weights in representation.attention_maps(
            net, policy, self.X[:num_samples]
        ).items():
            maps = weights.flatten(0, 1).unsqueeze(1)  # (samples * heads, 1, L, L) in [0, 1]
            images[f"attention/{name}"] = maps.repeat_interleave(scale, -1).repeat_interleave(
                scale, -2
            )
        return images
