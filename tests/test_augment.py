"""Augmentation (envs/augment.py): each named transform does what torchvision's does, with its
own parameters per sample; same seed, same batch; a user's callable; bad specs in one line."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

import sandbox
from envs.augment import grayscale, parse
from sandbox.apps.cli import main
from sandbox.errors import UsageError
from tests.conftest import DEVICES


def images(n=16, channels=3, h=12, w=10, low=0.0, high=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return low + (high - low) * torch.rand(n, channels, h, w, generator=g)  # (n, C, H, W)


def apply(spec, X, seed=0):
    return parse(spec)(X, torch.Generator(X.device).manual_seed(seed))


# --- each transform, sample by sample, against torchvision's functional op -----------------
def test_crop_is_torchvisions_padded_crop_at_an_offset_per_sample():
    X = images()
    out = apply("crop:3", X)
    offsets = []
    for x, o in zip(X, out, strict=True):
        padded = TF.pad(x, [3])  # RandomCrop(size=(12, 10), padding=3): zeros around
        crops = {(i, j): TF.crop(padded, i, j, 12, 10) for i in range(7) for j in range(7)}
        found = [offset for offset, crop in crops.items() if torch.equal(crop, o)]
        assert found, "no offset in [0, 6]^2 gives this sample"
        offsets.append(found[0])
    assert len(set(offsets)) > 8  # 16 samples, 49 offsets: each drew its own


def test_flip_mirrors_about_half_the_samples():
    X = images(n=200)
    out = apply("flip", X)
    pairs = list(zip(X, out, strict=True))
    flipped = torch.tensor([torch.equal(o, TF.horizontal_flip(x)) for x, o in pairs])
    kept = torch.tensor([torch.equal(o, x) for x, o in pairs])
    assert (flipped ^ kept).all()  # every sample is one or the other
    assert 70 < int(flipped.sum()) < 130
    assert torch.equal(apply("flip:1", X), X.flip(-1)) and torch.equal(apply("flip:0", X), X)


def test_rotate_is_torchvisions_rotation_by_an_angle_per_sample():
    X = images(n=8, h=16, w=12)
    out = apply("rotate:20", X, seed=3)
    # the angles, drawn as the transform draws them: uniform in [-20, 20], one per sample
    angles = (-20 + 40 * torch.rand(8, generator=torch.Generator().manual_seed(3))).tolist()
    for x, o, angle in zip(X, out, angles, strict=True):
        assert torch.equal(o, TF.rotate(x, angle))  # nearest, zero fill, about the centre
    assert max(angles) - min(angles) > 10


def _factor(out, x, anchor):
    """f with out - anchor = f * (x - anchor), per sample (no pixel clipped)."""
    d = (x - anchor).flatten(1)
    return ((out - anchor).flatten(1) * d).sum(1) / d.square().sum(1)  # (N,)


@pytest.mark.parametrize(
    "part, spec, anchor, reference",
    [
        ("brightness", "jitter:0.3:0:0", lambda X: torch.zeros_like(X), TF.adjust_brightness),
        (
            "contrast",
            "jitter:0:0.3:0",
            lambda X: grayscale(X).mean(dim=(1, 2, 3), keepdim=True),
            TF.adjust_contrast,
        ),
        ("saturation", "jitter:0:0:0.3", grayscale, TF.adjust_saturation),
    ],
)
def test_jitter_part_is_torchvisions_with_a_factor_per_sample(part, spec, anchor, reference):
    X = images(low=0.25, high=0.75)  # 1.3 x 0.75 < 1: nothing clipped, so f can be read back
    out = apply(spec, X)
    f = _factor(out, X, anchor(X))  # (N,)
    assert (f >= 0.7 - 1e-5).all() and (f <= 1.3 + 1e-5).all() and f.std() > 0.1
    for x, o, fi in zip(X, out, f.tolist(), strict=True):
        torch.testing.assert_close(o, reference(x, fi), atol=1e-5, rtol=0)


def test_saturation_leaves_one_channel_images_as_torchvision_does():
    X = images(channels=1)
    assert torch.equal(apply("jitter:0:0:0.5", X), X)
    assert torch.equal(TF.adjust_saturation(X[0], 1.5), X[0])


@pytest.mark.parametrize("device", DEVICES)
def test_a_full_pipeline_keeps_shape_dtype_device_and_range(device):
    X = images(n=64).to(device)
    out = apply("crop:4,flip,rotate:10,jitter:0.4", X)
    assert out.shape == X.shape and out.dtype == X.dtype and out.device == X.device
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, X)
    assert parse("crop:4,flip,rotate:10,jitter:0.4").stages[0].__len__() == 3  # one warp


def test_same_seed_same_batch_another_seed_another():
    X = images(n=32)
    spec = "crop:2,flip,rotate:15,jitter:0.3"
    assert torch.equal(apply(spec, X, seed=1), apply(spec, X, seed=1))
    assert not torch.equal(apply(spec, X, seed=1), apply(spec, X, seed=2))


# --- in a dataset env -----------------------------------------------------------------------
def test_env_batches_repeat_with_the_seed_and_differ_per_sample():
    def batches(seed):
        env = sandbox.make("sandbox/Digits-v0", num_envs=64, augment="crop:2,flip,rotate:10")
        obs = [env.reset(seed=seed)[0]]
        obs += [env.step(torch.zeros(64, 10))[0] for _ in range(3)]
        return torch.stack(obs)

    assert torch.equal(batches(0), batches(0)) and not torch.equal(batches(0), batches(1))


def test_a_user_callable_sees_images_in_0_1_and_its_output_is_trained_on():
    seen = []

    def record_and_flip(X):
        seen.append(X)
        return X.flip(-1)

    env = sandbox.make("sandbox/Digits-v0", num_envs=64, augment=record_and_flip)
    obs, _ = env.reset(seed=0)
    clean = env.X[env._idx]  # (64, 1, 8, 8) the batch as stored
    torch.testing.assert_close(obs, clean.flip(-1), atol=1e-5, rtol=0)
    assert abs(seen[0].min()) < 1e-6 and abs(seen[0].max() - 1) < 1e-6  # pixels 0..16 as [0, 1]
    # black is black: a callable returning zeros shows the standardized value of pixel 0
    black = sandbox.make("sandbox/Digits-v0", num_envs=8, augment=torch.zeros_like)
    torch.testing.assert_close(black.reset(seed=0)[0], torch.full_like(obs[:8], float(env.X.min())))
    # a torchvision v2 transform works as it is (one draw for the whole batch, its semantics)
    v2_env = sandbox.make("sandbox/Digits-v0", num_envs=64, augment=v2.RandomHorizontalFlip(1.0))
    torch.testing.assert_close(v2_env.reset(seed=0)[0], obs, atol=1e-5, rtol=0)
    assert v2_env.config_dict()["augment"] == "callable RandomHorizontalFlip"


def test_a_callable_that_changes_the_shape_is_one_line():
    env = sandbox.make("sandbox/Digits-v0", num_envs=8, augment=lambda X: X[:, :, :4])
    with pytest.raises(UsageError, match=r"shape \(8, 1, 8, 8\), got \(8, 1, 4, 8\)") as e:
        env.reset(seed=0)
    assert "\n" not in str(e.value)


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec, message",
    [
        ("blur:2", "unknown augmentation 'blur'; expected one of crop, flip, rotate, jitter"),
        ("crop", "'crop' got 0 values"),
        ("crop:1.5", "'crop' takes an integer >= 0, got '1.5'"),
        ("crop:-1", "'crop' takes an integer >= 0, got '-1'"),
        ("flip:2", r"'flip' takes a number in \[0, 1\], got '2'"),
        ("rotate:ten", "'rotate' takes a number in .* got 'ten'"),
        ("jitter:0.1:0.2", "'jitter' got 2 values"),
        (",", "no transform"),
        (3, "augment must be a string such as 'crop:4,flip' or a callable"),
    ],
)
def test_bad_spec_is_one_line(spec, message):
    with pytest.raises(UsageError, match=message) as e:
        sandbox.make("sandbox/Digits-v0", augment=spec)
    assert "\n" not in str(e.value)


def test_bad_spec_from_the_command_line_exits_2_with_one_line(capsys, tmp_path):
    code = main(["run", "sandbox/Digits-v0", "gradient", "--env.augment", "crop:4,blur",
                 "--logdir", str(tmp_path)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "unknown augmentation 'blur'" in err and len(err.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # refused before any run dir
