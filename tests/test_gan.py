"""The GAN game: the round, the players' isolation, bad input, PettingZoo's API test, learning."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import sandbox
from agents.gan import GANPlayerConfig, make_players
from envs.gan_eval import frechet_distance
from envs.gan_game import GANGame
from envs.pettingzoo_view import GANGameAEC


@pytest.fixture(autouse=True)
def one_thread():
    """Small MLPs run fastest on one thread, above all on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def ring(num_envs: int = 8, **kw):
    return sandbox.make("sandbox/RingGAN-v0", num_envs, **kw)


def test_a_round_is_generator_then_discriminator_twice_with_the_bce_rewards():
    env = ring(4)
    assert env.agent_selection == "generator" and env.observe("generator").shape == (4, 2)
    fake = torch.randn(4, 2, requires_grad=True)
    env.step(fake)
    assert env.rewards == {} and env.agent_selection == "discriminator"
    obs = env.observe("discriminator")  # real then the detached fake
    assert obs.shape == (8, 2) and torch.equal(obs[4:], fake.detach()) and not obs.requires_grad
    env.step(torch.zeros(8))  # an unsure discriminator: BCE = log 2 on each side
    (d_reward,) = env.rewards.values()
    assert torch.allclose(d_reward, torch.full((4,), -2 * math.log(2)))
    assert env.observe("discriminator") is fake  # its second turn: the attached fake
    env.step(fake.sum(1))  # a "discriminator" whose score is differentiable in the samples
    g_reward = env.rewards["generator"]
    assert list(env.rewards) == ["generator"] and env.agent_selection == "generator"
    (-g_reward.mean()).backward()  # the generator's gradient runs through the scores
    assert fake.grad is not None and bool(fake.grad.abs().sum() > 0)
    assert env.round == 1


class Spy:
    """Wraps a player: asserts that its update changes its own parameters and not the other's."""

    def __init__(self, agent, other):
        self.agent, self.other, self.updates = agent, other, 0

    def act(self, obs, *, deterministic=False):
        return self.agent.act(obs, deterministic=deterministic)

    def learn(self, transition):
        mine = [p.clone() for p in self.agent.net.parameters()]
        theirs = [p.clone() for p in self.other.net.parameters()]
        metrics = self.agent.learn(transition)
        for before, p in zip(theirs, self.other.net.parameters(), strict=True):
            assert torch.equal(before, p), "one player's update changed the other's parameters"
        now = self.agent.net.parameters()
        assert any(not torch.equal(b, p) for b, p in zip(mine, now, strict=True))
        self.updates += 1
        return metrics

    def state_dict(self):
        return self.agent.state_dict()

    def load_state_dict(self, state):
        self.agent.load_state_dict(state)


def test_each_players_update_leaves_the_other_players_parameters_alone():
    sandbox.seed_everything(0)
    env = ring(16)
    players = make_players(env)
    g, d = players["generator"], players["discriminator"]
    spies = {"generator": Spy(g, d), "discriminator": Spy(d, g)}
    sandbox.train(env, spies, 16 * 20, seed=0, logdir=None, progress=False)
    assert spies["generator"].updates == spies["discriminator"].updates == 20


BAD_ACTIONS = [  # (turn reached first, action, error, message)
    (0, torch.zeros(8, 3), sandbox.ActionError, r"round 0: the generator's samples: action shape"),
    (0, torch.full((8, 2), math.nan), sandbox.NonFiniteError, "generator's samples hold NaN"),
    (1, torch.zeros(8), sandbox.ActionError, r"scores of real \+ fake: .*expected \(16,\)"),
    (2, torch.zeros(16), sandbox.ActionError, r"scores of the fake: .*expected \(8,\)"),
    (1, torch.zeros(16, dtype=torch.long), sandbox.ActionError, "expected a float tensor"),
]


@pytest.mark.parametrize("turn,action,error,message", BAD_ACTIONS)
def test_bad_actions_are_refused_naming_round_player_and_shape(turn, action, error, message):
    env = ring(8)
    good = [torch.zeros(8, 2), torch.zeros(16)]
    for t in range(turn):
        env.step(good[t])
    with pytest.raises(error, match=message):
        env.step(action)


def test_out_of_range_digits_are_refused():
    env = sandbox.make("sandbox/DigitsGAN-v0", 4)
    with pytest.raises(sandbox.ActionError, match=r"outside the space: expected values in \[-1"):
        env.step(torch.full((4, 1, 8, 8), 2.0))


def test_a_user_tensor_is_a_game_and_bad_data_is_refused():
    env = GANGame(torch.randn(100, 3), 10)
    assert env.player_view("generator").single_action_space.shape == (3,)
    with pytest.raises(sandbox.UsageError, match="real samples must be"):
        GANGame(torch.randn(100), 10)
    with pytest.raises(sandbox.UsageError, match=r"larger than the train split \(80 samples\)"):
        GANGame(torch.randn(100, 3), 81)


def test_a_diverging_run_stops_naming_the_round_and_the_checkpoint(tmp_path):
    sandbox.seed_everything(0)
    env = ring(16)
    players = make_players(env, generator=GANPlayerConfig(lr=1e30))  # a wild generator
    with pytest.raises(sandbox.NonFiniteError) as e:
        sandbox.train(env, players, 16 * 100, logdir=tmp_path, progress=False, checkpoint_every=16)
    message = str(e.value)
    assert message.startswith("round 1: the generator's samples hold NaN/inf"), message
    assert "; stopped, and the last good checkpoint is " in message, message


def test_a_saved_game_plays_on_as_the_unbroken_one():
    def rounds(game, num_rounds):
        seen = []
        for _ in range(num_rounds):  # the real batch and the noise of each round
            seen += [game.observe("discriminator").clone(), game.observe("generator").clone()]
            game._new_round()
        return seen

    game = sandbox.make("sandbox/RingGAN-v0", num_envs=32, num_samples=200)
    game.reset(seed=2)
    rounds(game, 7)  # past an epoch of the 160 training samples
    state = game.state_dict()
    expected = rounds(game, 8)
    other = sandbox.make("sandbox/RingGAN-v0", num_envs=32, num_samples=200)
    other.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(rounds(other, 8), expected, strict=True))


def test_same_seed_same_game():
    def rollout(seed):
        env = ring(4)
        env.reset(seed=seed)
        return [env.observe("generator").clone(), env.observe("discriminator").clone()]

    assert all(torch.equal(a, b) for a, b in zip(rollout(3), rollout(3), strict=True))
    assert not torch.equal(rollout(3)[0], rollout(4)[0])


@pytest.mark.parametrize("env_id", ["sandbox/RingGAN-v0", "sandbox/DigitsGAN-v0"])
def test_pettingzoo_api_test_passes_on_the_numpy_view(env_id):
    from pettingzoo.test import api_test

    view = GANGameAEC(sandbox.make(env_id, 4), max_rounds=25)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its style hints (agent names, infinite bounds)
        api_test(view, num_cycles=30)
    view.reset(seed=0)
    view.step(view.action_space("generator").sample())
    view.step(view.action_space("discriminator").sample())
    assert view.rewards["discriminator"] < 0 and view.rewards["generator"] < 0


def test_frechet_figures_on_digits_real_versus_noise():
    env = sandbox.make("sandbox/DigitsGAN-v0")
    held_out = env.eval_env()
    real = frechet_distance(held_out.features(env.X), held_out.features(held_out.X))
    noise = torch.rand(1000, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    far = frechet_distance(held_out.features(noise), held_out.features(held_out.X))
    assert float(real) < 1.0 < 30 < float(far), (float(real), float(far))


def gan_run(env_id: str, rounds: int, seed: int, num_envs: int = 64, **player):
    sandbox.seed_everything(seed)
    env = sandbox.make(env_id, num_envs)
    cfg = GANPlayerConfig(**player)
    players = make_players(env, generator=cfg, discriminator=cfg)
    result = sandbox.train(env, players, rounds * num_envs, seed=seed, logdir=None, progress=False)
    return result.metrics


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_ring_covers_the_modes_after_a_fixed_budget(seed):  # ~15 s a seed on one core
    metrics = gan_run("sandbox/RingGAN-v0", 2000, seed)
    assert metrics["eval/modes"] >= 6 and metrics["eval/near_mode"] > 0.5, metrics


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_digits_frechet_drops_below_3(seed):
    metrics = gan_run("sandbox/DigitsGAN-v0", 3500, seed)
    assert metrics["eval/frechet"] < 3, metrics
    assert metrics["eval/score"] == -metrics["eval/frechet"]


@pytest.mark.slow
def test_ring_script_weak_setup_versus_fix_at_its_budget(capsys):
    from scripts.gan_ring import main

    figures = main(["--logdir", ""])
    weak, fix = figures["weak"], figures["fix"]
    assert fix["eval/modes"] >= 6 and fix["eval/near_mode"] > 0.5, fix
    assert weak["eval/near_mode"] < 0.3 and weak["eval/score"] < fix["eval/score"] / 2, weak
    assert "modes covered" in capsys.readouterr().out


def test_scripts_run_with_tiny_budgets(tmp_path, capsys):
    from scripts.gan_digits import main as digits
    from scripts.gan_ring import main as ring_script

    assert "eval/frechet" in digits(["--rounds", "3", "--logdir", str(tmp_path)])
    assert set(ring_script(["--rounds", "3", "--logdir", ""])) == {"weak", "fix"}
    assert "Fréchet distance" in capsys.readouterr().out


@pytest.mark.parametrize(
    "env_id,name", [("MNISTGAN", "MNIST"), ("FashionMNISTGAN", "FashionMNIST")]
)
def test_missing_torchvision_data_says_how_to_get_it(capsys, tmp_path, env_id, name):
    from sandbox.apps.cli import main

    with pytest.raises(sandbox.UsageError, match=f"{name} not found: .* in {tmp_path}/{name}/raw"):
        sandbox.make(f"sandbox/{env_id}-v0", data_root=str(tmp_path))
    code = main(["run", f"sandbox/{env_id}-v0", "gan", "--env.data-root", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "download=True" in err


def test_a_torchvision_dataset_on_disk_is_a_game(tmp_path):
    import numpy as np

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    header = np.array([2051, 20, 28, 28], dtype=">i4").tobytes()  # the idx3 format
    for split, n in (("train", 20), ("t10k", 20)):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        labels = np.array([2049, n], dtype=">i4").tobytes() + bytes(n)
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(labels)
    env = sandbox.make("sandbox/MNISTGAN-v0", 4, data_root=str(tmp_path))
    assert env.X.shape[1:] == (1, 28, 28) and -1 <= float(env.X.min()) < float(env.X.max()) <= 1


def test_nan_scores_stop_the_run_naming_the_round():
    class NaNCritic:  # a discriminator gone bad: NaN scores, never raises itself
        def act(self, obs, *, deterministic=False):
            return obs.sum(1) * math.nan  # keeps the graph to the generator on its 2nd turn

        def learn(self, transition):
            return {}

        def state_dict(self):
            return {}

    def run(log_every):
        env = ring(8)
        players = {"generator": make_players(env)["generator"], "discriminator": NaNCritic()}
        sandbox.train(env, players, 8 * 10, logdir=None, progress=False, log_every=log_every)

    with pytest.raises(sandbox.NonFiniteError, match=r"reward/mean = nan at sample 8 \(round 1\)"):
        run(log_every=8)  # logged after round 0
    with pytest.raises(sandbox.NonFiniteError, match="round 1: the generator's samples hold NaN"):
        run(log_every=80)  # the generator learnt from NaN rewards in round 0


def test_digits_media_is_a_grid_of_images_in_0_1():
    env = sandbox.make("sandbox/DigitsGAN-v0", 8)
    images = env.eval_env().media(make_players(env))["samples"]
    assert images.shape == (64, 1, 8, 8) and 0 <= float(images.min()) <= float(images.max()) <= 1
