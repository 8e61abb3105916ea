"""Your own agent: evolution strategies on a linear policy, trained in the sandbox.

An agent is any class with four methods (the ``Agent`` protocol, ``sandbox/core.py``):
``act(obs)`` returns a batch of actions, ``learn(transition)`` updates from what the env
revealed and returns metrics, ``state_dict`` / ``load_state_dict`` make a stopped run resume
exactly. A ``Config`` dataclass, if the class has one, becomes the command line's flags.

``EvolutionStrategies`` never takes a gradient. Each sub-env plays its own perturbed copy of
a linear policy, ``W + sigma * eps_i``; each finished episode scores its ``eps_i``; after
``population`` episodes, ``W`` moves towards the perturbations that scored above the median
(Salimans et al., 2017, with rank-normalised returns). From the command line:

    sandbox run CartPole-v1 scripts.custom_agent:EvolutionStrategies --sigma 0.5 --steps 40000

or, from this directory, ``sandbox run CartPole-v1 custom_agent:EvolutionStrategies``.
Here, from Python:

    .venv/bin/python scripts/custom_agent.py --steps 40000
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import torch
from gymnasium import spaces
from torch import Tensor

import sandbox


@dataclass(frozen=True)
class ESConfig:
    """Options of ``EvolutionStrategies`` (``--sigma``, ``--lr``, ``--population``)."""

    sigma: float = 0.5
    """Scale of each sub-env's perturbation of the weights."""
    lr: float = 0.2
    """Step size of the weights' update."""
    population: int = 32
    """Finished episodes (scored perturbations) per update."""


class EvolutionStrategies:
    """A linear policy ``argmax(obs @ W)`` for Box observations and Discrete actions."""

    Config = ESConfig

    def __init__(self, env: sandbox.Env, config: ESConfig = ESConfig()) -> None:
        obs_space, action_space = env.single_observation_space, env.single_action_space
        if not isinstance(action_space, spaces.Discrete) or len(obs_space.shape) != 1:
            raise sandbox.UsageError(
                "EvolutionStrategies needs flat Box observations and Discrete actions, got "
                f"{obs_space} and {action_space}"
            )
        self.config, n = config, env.num_envs
        device = sandbox.env_device(env)  # where the env's tensors live
        self.weights = torch.zeros(obs_space.shape[0], int(action_space.n), device=device)
        self.noise = torch.randn(n, *self.weights.shape, device=device)  # (N, d, A): eps_i
        self.returns = torch.zeros(n, device=device)  # (N,) the running episode's return
        self.scored: list[tuple[Tensor, Tensor]] = []  # (eps_i, return_i) of finished episodes

    def act(self, obs: Tensor, *, deterministic: bool = False) -> Tensor:
        """(N, d) observations -> (N,) actions; evaluation plays ``W`` itself."""
        if deterministic:
            return (obs @ self.weights).argmax(-1)
        perturbed = self.weights + self.config.sigma * self.noise  # (N, d, A)
        return torch.einsum("nd,nda->na", obs, perturbed).argmax(-1)

    def learn(self, t: sandbox.Transition) -> dict[str, Tensor]:
        """Score the perturbations whose episodes ended; update ``W`` once enough are scored."""
        self.returns += t.reward
        done = t.terminated | t.truncated  # (N,)
        for i in done.nonzero().flatten().tolist():
            self.scored.append((self.noise[i].clone(), self.returns[i].clone()))
            self.noise[i].normal_()  # this sub-env's next episode plays a new perturbation
        self.returns[done] = 0.0
        if len(self.scored) < self.config.population:
            return {}
        noise = torch.stack([eps for eps, _ in self.scored])  # (P, d, A)
        returns = torch.stack([r for _, r in self.scored])  # (P,)
        self.scored.clear()
        ranks = returns.argsort().argsort().float()  # (P,) 0 for the worst
        weight = ranks / (len(ranks) - 1) - 0.5  # (P,) in [-0.5, 0.5]: scale-free
        step = torch.einsum("p,pda->da", weight, noise) / len(weight)
        self.weights += self.config.lr / self.config.sigma * step
        return {"train/population_return": returns.mean()}

    def state_dict(self) -> dict[str, Any]:
        scored = [torch.stack(x) for x in zip(*self.scored, strict=True)] if self.scored else []
        return {
            "weights": self.weights,
            "noise": self.noise,
            "returns": self.returns,
            "scored": scored,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights.copy_(state["weights"])
        self.noise.copy_(state["noise"])
        self.returns.copy_(state["returns"])
        scored = state["scored"]
        self.scored = list(zip(*(list(x) for x in scored), strict=True)) if scored else []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--logdir", default="runs")
    args = parser.parse_args()
    sandbox.seed_everything(args.seed)
    env = sandbox.make("CartPole-v1", num_envs=16)
    agent = EvolutionStrategies(env)
    result = sandbox.train(env, agent, steps=args.steps, seed=args.seed, logdir=args.logdir)
    print(f"eval/score {result.metrics['eval/score']:.1f} (a CartPole return; 500 is the most)")


if __name__ == "__main__":
    main()
