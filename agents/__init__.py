"""The sandbox's agents, registered by name on import (string entry points only)."""

from sandbox.registry import register_agent

register_agent(
    "gradient",
    "agents.gradient:GradientAgent",
    learns_from="the reward's gradient",
    description="a model (linear, MLP) + SGD/Adam ascending a differentiable reward",
)
register_agent(
    "label",
    "agents.label:LabelAgent",
    learns_from="the label, after acting",
    description="the gradient learner's model + optimizer on its own loss of the revealed label",
)
register_agent(
    "reinforce",
    "agents.reinforce:ReinforceAgent",
    learns_from="reward values",
    description="REINFORCE with a learned baseline (Williams 1992; Sutton & Barto §13.4)",
)
register_agent(
    "dqn",
    "agents.dqn:DQNAgent",
    learns_from="reward values",
    description="DQN with replay, target net, epsilon schedule, Double DQN option (Discrete)",
)
register_agent(
    "ppo",
    "agents.ppo:PPOAgent",
    learns_from="reward values",
    description="PPO: GAE, clipped objective, minibatch epochs (Discrete and Box actions)",
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
register_agent(
    "gan-generator",
    "agents.gan:GeneratorAgent",
    learns_from="the reward's gradient",
    description="the gradient learner with a generator MLP (noise -> samples); a GAN player",
)
register_agent(
    "gan-discriminator",
    "agents.gan:DiscriminatorAgent",
    learns_from="the reward's gradient",
    description="the gradient learner with a discriminator MLP (samples -> logit); a GAN player",
)
register_agent(
    "gan",
    "agents.gan:GAN",
    learns_from="the reward's gradient",
    description="preset for GAN games: generator=gan-generator, discriminator=gan-discriminator",
)
register_agent(
    "pipeline",
    "agents.pipeline:PipelineAgent",
    learns_from="the label, after acting",
    description="hand-made features (HOG, PCA) + scikit-learn LogisticRegression/SVC, fitted once",
)
