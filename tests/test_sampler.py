"""The one dataset sampler (envs/sampler.py): epochs, shards, wrap-around, exact resume."""

from __future__ import annotations

import pytest
import torch

import sandbox
from envs.sampler import Sampler
from tests.conftest import DEVICES


def draw(sampler, steps):
    return [sampler.next_indices().clone() for _ in range(steps)]


@pytest.mark.parametrize("device", DEVICES)
def test_an_epoch_shows_every_sample_once_and_a_batch_may_cross_epochs(device):
    s = Sampler((torch.arange(10),), 4, device=device)
    s.reset(seed=0)
    shown = torch.cat(draw(s, 5))  # 20 rows: two epochs of 10
    assert shown.device.type == device and s.epoch == 2
    assert sorted(shown[:10].tolist()) == list(range(10))
    assert sorted(shown[10:].tolist()) == list(range(10))


def test_the_same_seed_the_same_order_another_seed_another():
    a, b, c = (Sampler((torch.arange(30),), 8) for _ in range(3))
    a.reset(seed=1), b.reset(seed=1), c.reset(seed=2)
    first, second, third = draw(a, 6), draw(b, 6), draw(c, 6)
    assert all(torch.equal(x, y) for x, y in zip(first, second, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first, third, strict=True))


def test_ranks_batches_together_are_one_process_batch():
    def batches(batch_size, rank=0, world=1):
        s = Sampler((torch.arange(21),), batch_size)
        s.shard(rank, world)
        s.reset(seed=3)
        return draw(s, 12)

    one, ranks = batches(6), [batches(2, r, 3) for r in range(3)]
    for step, batch in enumerate(one):
        assert torch.equal(batch, torch.cat([ranks[r][step] for r in range(3)]))


def test_resume_continues_the_order_exactly():
    X, y = torch.randn(13, 2), torch.arange(13)
    s = Sampler((X, y), 5)
    s.reset(seed=4)
    draw(s, 7)
    state = s.state_dict()
    ahead = [s.next_batch() for _ in range(6)]
    other = Sampler((X, y), 5)
    other.load_state_dict(state)
    assert torch.equal(other.batch()[1], y[state["indices"]])  # the current batch, again
    for (X1, y1), (X2, y2) in zip(ahead, [other.next_batch() for _ in range(6)], strict=True):
        assert torch.equal(X1, X2) and torch.equal(y1, y2)


def test_a_loose_split_wraps_and_a_whole_ordered_batch_is_the_split_itself():
    loose = Sampler((torch.arange(3),), 7, shuffle=False, strict=False)
    assert loose.next_batch()[0].tolist() == [0, 1, 2, 0, 1, 2, 0]
    X = torch.randn(6, 2)
    whole = Sampler((X,), 6, shuffle=False)
    assert whole.next_batch()[0] is whole.tensors[0] and whole.next_batch()[0] is whole.tensors[0]


def test_bad_sizes_are_refused_naming_what_fits():
    with pytest.raises(
        sandbox.UsageError, match=r"\(the batch, 9\) is larger than the train split"
    ):
        Sampler((torch.arange(8),), 9)
    s = Sampler((torch.arange(8),), 3)
    with pytest.raises(sandbox.UsageError, match="3 ranks x num_envs 3 .* at most 2 per rank"):
        s.shard(0, 3)
    with pytest.raises(sandbox.UsageError, match=r"rank must be in \[0, 2\)"):
        s.shard(2, 2)
    with pytest.raises(sandbox.UsageError, match="one row per sample"):
        Sampler((torch.arange(8), torch.arange(7)), 2)


@pytest.mark.parametrize("env_id", ["sandbox/Iris-v0", "sandbox/IrisClusters-v0"])
def test_the_dataset_envs_show_what_their_sampler_draws(env_id):
    env = sandbox.make(env_id, num_envs=8)
    obs, _ = env.reset(seed=5)
    assert torch.equal(obs, env.X[env.sampler.indices])
    game = sandbox.make("sandbox/RingGAN-v0", num_envs=8, num_samples=200)
    game.reset(seed=5)
    assert torch.equal(game.observe("discriminator"), game.X[game.sampler.indices])
