"""Supervised learning as an environment: datasets, splits, feedback modes, errors, learning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gymnasium.spaces import Discrete

import sandbox
from envs.loaders import DatasetNotFoundError, load_sklearn
from envs.supervised import SupervisedEnv
from sandbox.core import ActionError, UsageError
from tests.conftest import DEVICES
from tests.fake_data import fake_cifar, fake_mnist


def train(env_id, steps, seed=0, env_options=None, **agent_options):
    """A seeded run through the Python API, nothing written; returns the final eval figures."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small nets: one thread is faster, and steadier on a shared CPU
    try:
        sandbox.seed_everything(seed)
        env = sandbox.make(env_id, **(env_options or {}))
        agent = sandbox.make_agent("gradient", env, **agent_options)
        result = sandbox.train(env, agent, steps, seed=seed, logdir=None, progress=False)
    finally:
        torch.set_num_threads(threads)
    return result.metrics


# --- Must show: the gradient learner learns ------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_mlp_reaches_95_percent_on_digits(seed):
    metrics = train("sandbox/Digits-v0", 20 * 1216, seed, model="mlp", lr=0.1)
    assert metrics["eval/accuracy"] >= 0.95, metrics
    assert metrics["eval/score"] == metrics["eval/accuracy"]


def test_breast_cancer_95_percent_with_one_logit_and_bce():
    metrics = train("sandbox/BreastCancer-v0", 30 * 384, model="mlp", lr=0.05)
    assert metrics["eval/accuracy"] >= 0.95, metrics


def test_diabetes_r2_above_045():
    metrics = train("sandbox/Diabetes-v0", 50 * 288, model="linear", lr=0.01)
    assert metrics["eval/r2"] >= 0.45 and metrics["eval/score"] == metrics["eval/r2"], metrics


@pytest.mark.parametrize("env_id", ["sandbox/Iris-v0", "sandbox/Wine-v0"])
def test_small_tabular_sets_learn(env_id):
    assert train(env_id, 2000, model="mlp", lr=0.1)["eval/accuracy"] >= 0.9


def test_moons_need_a_hidden_layer():
    adam = {"optimizer": "adam", "lr": 0.01}
    linear = train("sandbox/Moons-v0", 6000, model="linear", **adam)["eval/accuracy"]
    mlp = train("sandbox/Moons-v0", 6000, model="mlp", **adam)["eval/accuracy"]
    assert linear < 0.88 and mlp > 0.95, (linear, mlp)


def test_cnn_plugs_into_image_observations():
    metrics = train("sandbox/Digits-v0", 3 * 1216, model="cnn", optimizer="adam", lr=3e-3)
    assert metrics["eval/accuracy"] >= 0.9, metrics


# --- Must show: what each feedback mode reveals ----------------------------------------------
def test_bandit_mode_gives_no_label_and_no_gradient():
    env = sandbox.make("sandbox/Digits-v0", num_envs=8, feedback="bandit")
    assert env.single_action_space == Discrete(10)
    obs, info = env.reset(seed=0)
    labels = env.y[env._idx]
    action = labels.clone()  # the right class for every sample
    _, reward, _, _, info = env.step(action)
    assert torch.equal(reward, torch.ones(8)) and not reward.requires_grad
    assert reward.grad_fn is None
    assert set(info) == {"final_obs", "_final_obs"}  # no label anywhere
    _, reward, *_ = env.step((env.y[env._idx] + 1) % 10)
    assert torch.equal(reward, torch.zeros(8))
    with pytest.raises(UsageError, match="needs a Box action space"):
        sandbox.make_agent("gradient", env)


def test_label_mode_reveals_exactly_the_batch_labels_after_acting():
    # Raw pixels, so each observed row can be looked up in scikit-learn's own copy.
    env = sandbox.make("sandbox/Digits-v0", num_envs=16, feedback="label", standardize=False)
    X, y = load_sklearn("digits")  # (1797, 64), (1797,)
    assert "target" not in env.reset(seed=0)[1]
    logits = torch.zeros(16, 10, requires_grad=True)
    _, reward, _, _, info = env.step(logits)
    rows = info["final_obs"].flatten(1)  # (16, 64) the observations just acted on
    where = (rows[:, None] == X[None]).all(-1).float().argmax(1)  # (16,) their index in X
    assert torch.equal(info["target"], y[where])
    assert info["_target"].all() and not reward.requires_grad
    assert torch.allclose(reward, torch.full((16,), -np.log(10.0)))  # CE of uniform logits


def test_gradient_mode_reward_is_minus_cross_entropy_with_its_graph():
    env = sandbox.make("sandbox/Iris-v0", num_envs=4)
    env.reset(seed=0)
    y = env.y[env._idx]
    logits = torch.randn(4, 3, requires_grad=True)
    _, reward, _, _, info = env.step(logits)
    assert torch.allclose(reward, -F.cross_entropy(logits, y, reduction="none"))
    assert "target" not in info
    reward.sum().backward()
    assert torch.allclose(logits.grad, F.one_hot(y, 3) - logits.softmax(1))


def test_binary_logits_are_one_per_sample_with_bce_reward():
    env = sandbox.make("sandbox/BreastCancer-v0", num_envs=4)
    assert env.single_action_space.shape == ()
    env.reset(seed=0)
    y = env.y[env._idx]
    logit = torch.tensor([2.0, -1.0, 0.0, 3.0])
    _, reward, *_ = env.step(logit)
    expected = torch.where(y == 1, F.logsigmoid(logit), F.logsigmoid(-logit))
    assert torch.allclose(reward, expected)


# Must show "label noise 40% lowers digits test accuracy by more than 3 points": the
# garbage_in script's test (tests/test_supervised_scripts.py), which runs that very table.


# --- data: splits, standardization, shapes ---------------------------------------------------
def test_splits_are_disjoint_fixed_by_seed_and_eval_covers_its_split_once():
    env = sandbox.make("sandbox/Digits-v0")
    sizes = {s: len(env.with_split(s).X) for s in ("train", "val", "test")}
    assert sizes == {"train": 1258, "val": 180, "test": 359}
    parts = env._parts
    assert len(torch.cat(list(parts.values())).unique()) == 1797
    assert all(torch.equal(parts[s], sandbox.make("sandbox/Digits-v0")._parts[s]) for s in parts)
    assert not torch.equal(
        parts["train"], sandbox.make("sandbox/Digits-v0", data_seed=1)._parts["train"]
    )
    seen = []
    env.eval_env().score(lambda X: seen.append(len(X)) or torch.zeros(len(X), 10), batch_size=100)
    assert seen == [100, 100, 100, 59]


def test_standardization_uses_train_statistics_only():
    env = sandbox.make("sandbox/Wine-v0")
    X, _ = load_sklearn("wine")
    train = X[env._parts["train"]]
    expected = (X - train.mean(0)) / train.std(0, unbiased=False)
    assert torch.allclose(env.X, expected[env._parts["train"]], atol=1e-4)
    assert torch.allclose(env.eval_env().X, expected[env._parts["test"]], atol=1e-4)
    assert torch.allclose(env.X.mean(0), torch.zeros(13), atol=1e-5)  # train split: exactly 0
    assert not torch.allclose(env.eval_env().X.mean(0), torch.zeros(13), atol=1e-3)


def test_digits_are_images_and_tabular_data_flat():
    assert sandbox.make("sandbox/Digits-v0").single_observation_space.shape == (1, 8, 8)
    assert sandbox.make("sandbox/Iris-v0").single_observation_space.shape == (4,)
    assert sandbox.make("sandbox/Diabetes-v0").single_action_space.shape == ()


def test_score_matches_scikit_learn():
    from sklearn.metrics import accuracy_score, r2_score

    env = sandbox.make("sandbox/Digits-v0").eval_env()
    logits = torch.randn(len(env.X), 10, generator=torch.Generator().manual_seed(0))
    batches = iter(logits.split(1024))
    figures = env.score(lambda X: next(batches))
    assert abs(float(figures["accuracy"]) - accuracy_score(env.y, logits.argmax(1))) < 1e-6
    reg = sandbox.make("sandbox/Diabetes-v0").eval_env()
    y_hat = reg.y + torch.randn(len(reg.y), generator=torch.Generator().manual_seed(0))
    r2 = reg.score(lambda X: y_hat)["r2"]
    assert abs(float(r2) - r2_score(reg.y, y_hat)) < 1e-5


# --- any user data through one constructor -----------------------------------------------
def test_user_arrays_tensors_and_datasets_through_one_constructor():
    X, y = np.random.default_rng(0).normal(size=(100, 3)), np.arange(100) % 4
    from_numpy = SupervisedEnv(X, y, num_envs=8)
    from_torch = SupervisedEnv(torch.tensor(X), torch.tensor(y), num_envs=8)
    dataset = torch.utils.data.TensorDataset(torch.tensor(X), torch.tensor(y))
    from_dataset = SupervisedEnv(dataset, num_envs=8)
    for env in (from_numpy, from_torch, from_dataset):
        assert env.num_classes == 4 and env.single_action_space.shape == (4,)
        assert torch.equal(env.X, from_numpy.X)  # as given: no standardization by default
    regression = SupervisedEnv(X, X.sum(1), num_envs=8, feedback="label")
    assert regression.task == "regression"
    sandbox.check_env(regression)


def test_a_dataset_of_pil_images_becomes_chw_uint8():
    from PIL import Image

    images = [(Image.new("RGB", (6, 5), (i, 0, 0)), i % 2) for i in range(20)]
    env = SupervisedEnv(images_dataset(images), num_envs=4, standardize=True)
    assert env.single_observation_space.shape == (3, 5, 6) and env._data[0].dtype == torch.uint8
    assert env.reset(seed=0)[0].dtype == torch.float32


def images_dataset(items):
    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return len(items)

        def __getitem__(self, i):
            return items[i]

    return Items()


# --- Must show: bad input, clear errors naming expected and given -------------------------------
def test_logits_of_the_wrong_width_are_refused():
    env = sandbox.make("sandbox/Digits-v0", num_envs=4)
    env.reset(seed=0)
    with pytest.raises(ActionError, match=r"expected \(4, 10\) .* got \(4, 9\)"):
        env.step(torch.zeros(4, 9))


def test_a_float_action_in_bandit_mode_is_refused():
    env = sandbox.make("sandbox/Digits-v0", num_envs=4, feedback="bandit")
    env.reset(seed=0)
    with pytest.raises(ActionError, match="expected integer class indices .* got torch.float32"):
        env.step(torch.zeros(4))
    with pytest.raises(ActionError, match=r"expected class indices in \[0, 10\), got .* 10"):
        env.step(torch.tensor([0, 1, 2, 10]))


def test_an_action_on_the_wrong_device_is_refused():
    env = sandbox.make("sandbox/Digits-v0", num_envs=4)
    env.reset(seed=0)
    with pytest.raises(ActionError, match="expected cpu, got meta"):
        env.step(torch.zeros(4, 10, device="meta"))


def test_nan_in_an_action_is_refused():
    env = sandbox.make("sandbox/Iris-v0", num_envs=4)
    env.reset(seed=0)
    logits = torch.zeros(4, 3)
    logits[2, 1] = float("nan")
    with pytest.raises(ActionError, match="1 NaN/inf value"):
        env.step(logits)


@pytest.mark.parametrize(
    "X,y,kwargs,message",
    [
        (
            np.zeros((10, 2)),
            np.zeros(9, int),
            {},
            r"expected y of length 10 .* got y of shape \(9,\)",
        ),
        (np.full((10, 2), np.nan), np.arange(10) % 2, {}, "X holds 20 NaN/inf"),
        (np.zeros((10, 2)), np.arange(10) % 2, {"num_classes": 1}, "num_classes >= 2"),
        (np.zeros((10, 2)), np.arange(10) - 1, {}, "got labels from -1 to 8"),
        (np.zeros((10, 2)), np.zeros(10), {"feedback": "bandit"}, "need class labels"),
        (np.zeros((10, 2)), np.arange(10) % 2, {"augment": "flip"}, "augment needs images"),
        (np.zeros((10, 2)), np.arange(10) % 2, {"feedbak": "label"}, "did you mean feedback"),
    ],
)
def test_bad_user_data_and_options_are_refused(X, y, kwargs, message):
    with pytest.raises(UsageError, match=message):
        SupervisedEnv(X, y, num_envs=2, **kwargs)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"feedback": "full"}, "invalid choice|feedback must be one of"),
        ({"label_noise": 1.5}, r"label_noise must be in \[0, 1\], got 1.5"),
        ({"imbalance": 0.0}, r"imbalance must be in \(0, 1\]"),
        ({"val_fraction": 0.5, "test_fraction": 0.5}, "must leave a train split"),
    ],
)
def test_bad_dataset_options_are_refused(kwargs, message):
    with pytest.raises(UsageError, match=message):
        sandbox.make("sandbox/Digits-v0", **kwargs)


def test_cnn_on_flat_features_is_refused_clearly():
    env = sandbox.make("sandbox/Iris-v0")
    with pytest.raises(UsageError, match=r"needs image observations \(C, H, W\).* got .*\(4,\)"):
        sandbox.make_agent("gradient", env, model="cnn")


# --- torchvision sets, from files the test writes in torchvision's format -----------------
@pytest.mark.parametrize(
    "env_id,name", [("sandbox/MNIST-v0", "MNIST"), ("sandbox/FashionMNIST-v0", "FashionMNIST")]
)
def test_mnist_family_loads_from_the_data_root(tmp_path, env_id, name):
    root = fake_mnist(tmp_path, name)
    env = sandbox.make(env_id, num_envs=4, data_root=str(root))
    assert env.single_observation_space.shape == (1, 28, 28)
    assert len(env.eval_env().X) == 20 and len(env.X) == 90  # official test set; 10% val
    assert env.X.dtype == torch.float32 and abs(float(env.X.mean())) < 1e-4  # train stats
    assert env._data[0].dtype == torch.uint8  # the full set stays compact
    sandbox.check_env(env)


def test_cifar10_loads_as_chw_images(tmp_path):
    env = sandbox.make("sandbox/CIFAR10-v0", num_envs=4, data_root=str(fake_cifar(tmp_path)))
    assert env.single_observation_space.shape == (3, 32, 32) and len(env.eval_env().X) == 20
    sandbox.check_env(env)


def test_missing_data_says_where_and_how_to_fetch(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        sandbox.make("sandbox/MNIST-v0", data_root=str(tmp_path))
    message = str(e.value)
    assert "expected train-images-idx3-ubyte" in message and str(tmp_path / "MNIST/raw") in message
    assert f"tv.datasets.MNIST('{tmp_path}', train=t, download=True)" in message
    assert "\n" not in message  # the CLI prints it as one line


def test_corrupt_data_files_are_named(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / "MNIST/raw/train-images-idx3-ubyte").write_bytes(b"garbage")
    with pytest.raises(DatasetNotFoundError, match="corrupt or not in torchvision's format"):
        sandbox.make("sandbox/MNIST-v0", data_root=str(tmp_path))


# --- wrappers: garbage in, augmentation -------------------------------------------------------
def test_corruptions_touch_the_train_split_only():
    clean = sandbox.make("sandbox/Digits-v0")
    noisy = sandbox.make("sandbox/Digits-v0", label_noise=0.4, feature_noise=0.5)
    wrong = float((noisy.y != clean.y).float().mean())
    assert abs(wrong - 0.4) < 1e-3
    assert abs(float((noisy.X - clean.X).std()) - 0.5) < 0.02
    for split in ("val", "test"):
        assert torch.equal(noisy.with_split(split).y, clean.with_split(split).y)
        assert torch.equal(noisy.with_split(split).X, clean.with_split(split).X)


def test_imbalance_makes_the_train_split_long_tailed():
    env = sandbox.make("sandbox/Digits-v0", imbalance=0.1)
    counts = torch.bincount(env.y, minlength=10)
    full = torch.bincount(sandbox.make("sandbox/Digits-v0").y, minlength=10)
    assert counts[0] == full[0] and counts[9] == round(0.1 * float(full[9]))
    assert (counts[1:] <= counts[:-1] + 3).all()  # decreasing, up to the classes' own sizes
    assert torch.bincount(env.eval_env().y).min() > 25  # the test split stays balanced


def test_augmentation_draws_per_sample_and_leaves_eval_clean():
    env = sandbox.make("sandbox/Digits-v0", num_envs=256, augment="flip")
    env.reset(seed=0)
    clean = env.X[env._idx]
    moved = (env._obs - clean).flatten(1).abs().amax(1) > 1e-4  # (256,) beyond rounding
    assert 0.35 < float(moved.float().mean()) < 0.65  # about half mirrored: per sample
    eval_env = env.eval_env()
    eval_env.reset(seed=0)
    assert torch.equal(eval_env._obs, eval_env.X[eval_env._idx])


def test_augmented_images_are_logged_as_media(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/Digits-v0", num_envs=64, augment="crop:1")
    agent = sandbox.make_agent("gradient", env, model="mlp", lr=0.1)
    result = sandbox.train(env, agent, 640, seed=0, logdir=tmp_path, progress=False)
    acc = EventAccumulator(str(result.run_dir))
    acc.Reload()
    assert "media/augmented" in acc.Tags()["images"]
    assert sandbox.make("sandbox/Digits-v0").media(agent) == {}  # nothing without augmentation


def test_exact_resume_with_augmentation():
    pipeline = "crop:1,flip,rotate:10,jitter:0.2"

    def rollout(env, obs, steps=5):
        out = [obs]
        for _ in range(steps):
            out.append(env.step(torch.zeros(8, 10))[0])
        return torch.stack(out)

    env = sandbox.make("sandbox/Digits-v0", num_envs=8, augment=pipeline)
    obs, _ = env.reset(seed=3)
    for _ in range(200):  # past an epoch boundary
        obs = env.step(torch.zeros(8, 10))[0]
    state = {k: v.clone() if torch.is_tensor(v) else v for k, v in env.state_dict().items()}
    expected = rollout(env, obs)
    fresh = sandbox.make("sandbox/Digits-v0", num_envs=8, augment=pipeline)
    assert torch.equal(rollout(fresh, fresh.load_state_dict(state)), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_dataset_env_tensors_live_on_the_env_device(device, tmp_path):
    env = sandbox.make("sandbox/MNIST-v0", num_envs=8, device=device,
                       data_root=str(fake_mnist(tmp_path)), augment="crop:2,rotate:10")  # fmt: skip
    obs, _ = env.reset(seed=0)
    obs2, reward, terminated, _, info = env.step(torch.zeros(8, 10, device=device))
    for t in (obs, obs2, reward, terminated, info["final_obs"], env.X, env.y):
        assert t.device.type == device
    figures = env.eval_env().score(lambda X: torch.zeros(len(X), 10, device=device))
    assert figures["accuracy"].device.type == device
