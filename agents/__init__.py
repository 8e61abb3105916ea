"""The sandbox's agents, registered by name on import (string entry points only)."""

from sandbox.registry import register_agent

register_agent(
    "gradient",
    "agents.gradient:GradientAgent",
    learns_from="the reward's gradient",
    description="a model (linear, MLP) + SGD/Adam ascending a differentiable reward",
)
