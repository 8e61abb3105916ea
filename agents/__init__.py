"""The sandbox's agents, registered by name on import (string entry points only)."""

from sandbox.registry import register_agent

register_agent(
    "gradient",
    "agents.gradient:GradientAgent",
    learns_from="the reward's gradient",
    description="a model (linear, MLP) + SGD/Adam ascending a differentiable reward",
)
register_agent(
    "kmeans",
    "agents.kmeans:KMeansAgent",
    learns_from="points (k-means)",
    description="mini-batch k-means (Sculley 2010): k-means++ init, per-centre rates 1/v",
)
register_agent(
    "lloyd",
    "agents.kmeans:LloydAgent",
    learns_from="points (k-means)",
    description="Lloyd's full-batch k-means: one step = one iteration over the whole split",
)
