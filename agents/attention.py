"""Attention for the model zoo: multi-head scaled dot-product self-attention over a sequence.

Each token asks a question (its query ``q``) of every token (their keys ``k``) and reads
back a mix of their values ``v``, weighted by ``softmax(q kᵀ / √d)`` (Vaswani et al., 2017,
arXiv:1706.03762): attention as a soft dictionary lookup, d2l §11.1-§11.3; several heads
look in several subspaces at once (§11.5); a learnt positional embedding tells the tokens
apart (§11.6); each block adds and normalises as the Transformer encoder does (§11.7).
The forward pass runs ``F.scaled_dot_product_attention`` (fused kernels); the weights
themselves, which that call never returns, are recomputed by the formula for pictures only.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


# --- the formula: (N, heads, L, d) queries, keys and values ------------------------------
def attention_weights(q: Tensor, k: Tensor) -> Tensor:
    """``softmax(q kᵀ / √d)``: how much each query ``(.., L, d)`` reads each key; ``(.., L, L)``.

    Example:
        >>> q = k = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> attention_weights(1000 * q, k)  # each token finds itself
        tensor([[1., 0.],
                [0., 1.]])
    """
    return torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)


def dot_product_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """``softmax(q kᵀ / √d) v`` written out (d2l §11.3): the reference for the fused call."""
    return attention_weights(q, k) @ v


# --- the network ------------------------------------------------------------------------
class MultiHeadSelfAttention(nn.Module):
    """Queries, keys and values from one linear map, split into ``num_heads`` heads.

    ``attention_weights(x)`` gives the ``(N, heads, L, L)`` weights the forward pass used on
    input ``x`` (``envs/representation.py`` reads them through a forward hook for the images).
    """

    def __init__(self, num_hiddens: int, num_heads: int) -> None:
        super().__init__()
        if num_hiddens % num_heads:
            raise ValueError(
                f"num_hiddens ({num_hiddens}) must be a multiple of num_heads ({num_heads}): "
                "each head gets num_hiddens / num_heads dimensions"
            )
        self.num_heads = num_heads
        self.qkv = nn.Linear(num_hiddens, 3 * num_hiddens)
        self.out = nn.Linear(num_hiddens, num_hiddens)

    def heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(N, L, h)`` tokens -> queries, keys, values, each ``(N, heads, L, h / heads)``."""
        N, L, _ = x.shape
        qkv = self.qkv(x).view(N, L, 3, self.num_heads, -1)  # (N, L, 3, heads, d)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (N, heads, L, d)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, L, h)`` -> ``(N, L, h)``."""
        q, k, v = self.heads(x)
        out = F.scaled_dot_product_attention(q, k, v)  # (N, heads, L, d)
        return self.out(out.transpose(1, 2).flatten(2))  # heads concatenated: (N, L, h)

    @torch.no_grad()
    def attention_weights(self, x: Tensor) -> Tensor:
        """The weights ``softmax(q kᵀ / √d)`` on input ``x`` ``(N, L, h)``: ``(N, heads, L, L)``."""
        q, k, _ = self.heads(x)
        return attention_weights(q, k)


class EncoderBlock(nn.Module):
    """Self-attention then a position-wise MLP, each added to its input and normalised (§11.7)."""

    def __init__(self, num_hiddens: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.attention = MultiHeadSelfAttention(num_hiddens, num_heads)
        self.norm1 = nn.LayerNorm(num_hiddens)
        self.ffn = nn.Sequential(
            nn.Linear(num_hiddens, 2 * num_hiddens),
            nn.ReLU(),
            nn.Linear(2 * num_hiddens, num_hiddens),
        )
        self.norm2 = nn.LayerNorm(num_hiddens)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """``(N, L, h)`` -> ``(N, L, h)``."""
        x = self.norm1(x + self.dropout(self.attention(x)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class AttentionNet(nn.Module):
    """A sequence ``(N, L, d)`` -> ``(N, *action_shape)``: embed, attend, read out.

    Each of the ``L`` tokens is embedded (``d`` -> ``num_hiddens``) with a learnt positional
    embedding added, goes through ``num_layers`` encoder blocks, and the ``L`` outputs are
    flattened into one linear readout, so the readout can take its answer from any position
    (in ``sandbox/Recall-v0``, the query's).

    Example:
        >>> AttentionNet((9, 24), (8,), num_hiddens=32, num_heads=4)(torch.zeros(5, 9, 24)).shape
        torch.Size([5, 8])
    """

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        num_hiddens: int = 64,
        num_heads: int = 4,
        num_layers: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(obs_shape) != 2:
            raise ValueError(
                f"model 'attention' needs sequence observations (L, d): L tokens of d features, "
                f"got observations of shape {obs_shape}"
            )
        L, d = obs_shape
        self.action_shape = action_shape
        self.embed = nn.Linear(d, num_hiddens)
        self.position = nn.Parameter(0.02 * torch.randn(L, num_hiddens))  # (L, h), learnt
        self.blocks = nn.Sequential(
            *[EncoderBlock(num_hiddens, num_heads, dropout) for _ in range(num_layers)]
        )
        self.readout = nn.Linear(L * num_hiddens, math.prod(action_shape))

    def forward(self, obs: Tensor) -> Tensor:
        """``(N, L, d)`` -> ``(N, *action_shape)``."""
        x = self.blocks(self.embed(obs) + self.position)  # (N, L, h)
        y_hat = self.readout(x.flatten(1))  # (N, prod(action_shape))
        return y_hat.reshape(len(obs), *self.action_shape)
