"""Evaluation repeats: the same seed gives the same ``eval/*``, through a stop and a resume too.

Every evaluation resets its env from one seed derived from the run's (``Evaluate``), so its
episodes depend only on that seed and on the agent's weights: the eval env carries no state
from one evaluation to the next, and a resumed run needs none from the checkpoint.
"""

from __future__ import annotations

import pytest

import sandbox
from sandbox.callbacks import Callback


class RecordEval(Callback):
    """Keeps every ``eval/*`` logged; stops the run at ``stop_at`` samples, if given."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.figures: list[tuple[int, dict[str, float]]] = []
        self.stop_at = stop_at

    def on_step(self, run, metrics, info):
        if self.stop_at is not None and run.samples >= self.stop_at:
            run.stop("stopped by the test")

    def on_log(self, run, values):
        evals = {k: v for k, v in values.items() if k.startswith("eval/")}
        if evals:
            self.figures.append((run.samples, evals))


def train_ppo(env_id, steps=3000, stop_at=None, logdir=None, resume=None):
    sandbox.seed_everything(0)
    env = sandbox.make(env_id, 4, device="cpu")
    agent = sandbox.make_agent("ppo", env)
    record = RecordEval(stop_at)
    result = sandbox.train(
        env, agent, steps, seed=0, logdir=logdir, progress=False, eval_every=1000,
        eval_episodes=4, callbacks=[record], resume=resume,
    )  # fmt: skip
    return record.figures, result


@pytest.mark.parametrize("env_id", ["CartPole-v1", "sandbox/CartPole-v1", "sandbox/Pendulum-v1"])
def test_the_same_seed_twice_gives_identical_evaluations(env_id):
    first, _ = train_ppo(env_id)
    second, _ = train_ppo(env_id)
    assert [s for s, _ in first] == [1000, 2000, 3000]
    assert first == second


def test_an_evaluation_depends_on_its_seed_not_on_the_evaluations_before_it():
    sandbox.seed_everything(0)
    env = sandbox.make("sandbox/Pendulum-v1", 4)
    agent = sandbox.make_agent("ppo", env)
    eval_env = env.eval_env()
    first, again, other = (
        sandbox.evaluate(eval_env, agent, num_episodes=4, seed=seed) for seed in (1, 1, 2)
    )
    assert first == again
    assert first["eval/score"] != other["eval/score"]


@pytest.mark.parametrize("env_id", ["sandbox/CartPole-v1", "sandbox/Pendulum-v1"])
def test_a_stopped_and_resumed_run_evaluates_as_an_uninterrupted_one(env_id, tmp_path):
    whole, _ = train_ppo(env_id, steps=4000)
    before, stopped = train_ppo(env_id, steps=4000, stop_at=2000, logdir=tmp_path)
    assert stopped.samples == 2000
    after, _ = train_ppo(env_id, steps=4000, resume=stopped.run_dir)
    assert before + after == whole
