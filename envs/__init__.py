"""The sandbox's environments, registered with Gymnasium on import (string entry points only).

``import sandbox`` imports this module, so ``gymnasium.make_vec("sandbox/LinReg-v0")`` works.
"""

from sandbox.registry import register_env

register_env(
    "sandbox/LinReg-v0",
    "envs.datasets:LinRegEnv",
    paradigm="regression",
    num_envs=10,
    description="d2l's synthetic linear data y = Xw + b + noise, w = [2, -3.4], b = 4.2",
)
register_env(
    "sandbox/Digits-v0",
    "envs.datasets:DigitsEnv",
    paradigm="classification",
    num_envs=64,
    description="8x8 handwritten digits as (1, 8, 8) images, 10 classes",
)
register_env(
    "sandbox/Iris-v0",
    "envs.datasets:IrisEnv",
    paradigm="classification",
    num_envs=16,
    description="150 irises, 4 measurements, 3 species",
)
register_env(
    "sandbox/Wine-v0",
    "envs.datasets:WineEnv",
    paradigm="classification",
    num_envs=16,
    description="178 wines, 13 chemical measurements, 3 cultivars",
)
register_env(
    "sandbox/BreastCancer-v0",
    "envs.datasets:BreastCancerEnv",
    paradigm="classification",
    num_envs=32,
    description="569 tumours, 30 features; binary: one logit, BCE",
)
register_env(
    "sandbox/Diabetes-v0",
    "envs.datasets:DiabetesEnv",
    paradigm="regression",
    num_envs=32,
    description="442 patients, 10 features; disease progression",
)
register_env(
    "sandbox/Moons-v0",
    "envs.datasets:MoonsEnv",
    paradigm="classification",
    num_envs=32,
    description="two interleaving half moons in 2-D, binary",
)
register_env(
    "sandbox/BlobsClassification-v0",
    "envs.datasets:BlobsClassificationEnv",
    paradigm="classification",
    num_envs=32,
    description="Gaussian blobs in 2-D; name each point's blob",
)
register_env(
    "sandbox/MNIST-v0",
    "envs.datasets:MNISTEnv",
    paradigm="classification",
    num_envs=64,
    description="handwritten digits (1, 28, 28) from --env.data-root",
)
register_env(
    "sandbox/FashionMNIST-v0",
    "envs.datasets:FashionMNISTEnv",
    paradigm="classification",
    num_envs=64,
    description="clothes (1, 28, 28) from --env.data-root",
)
register_env(
    "sandbox/CIFAR10-v0",
    "envs.datasets:CIFAR10Env",
    paradigm="classification",
    num_envs=64,
    description="colour images (3, 32, 32) from --env.data-root",
)

register_env(
    "sandbox/CartPole-v1",
    "envs.classic_control:CartPoleEnv",
    paradigm="RL",
    num_envs=8,
    description="Gymnasium's CartPole-v1 in batched torch on the device (matches it to 1e-5)",
)
register_env(
    "sandbox/Pendulum-v1",
    "envs.classic_control:PendulumEnv",
    paradigm="RL",
    num_envs=8,
    description="Gymnasium's Pendulum-v1 in batched torch on the device (continuous torque)",
)

register_env(
    "sandbox/Blobs-v0",
    "envs.clustering:BlobsEnv",
    paradigm="clustering",
    num_envs=256,
    description="10 Gaussian blobs in 16-D (make_blobs); a cluster index per point, no labels",
)
register_env(
    "sandbox/DigitsClusters-v0",
    "envs.clustering:DigitsClustersEnv",
    paradigm="clustering",
    num_envs=256,
    description="8x8 handwritten digits as 64-D points; cluster them, the labels stay hidden",
)
register_env(
    "sandbox/IrisClusters-v0",
    "envs.clustering:IrisClustersEnv",
    paradigm="clustering",
    num_envs=30,
    description="Fisher's irises, 4 measurements; find the 3 species without their labels",
)
register_env(
    "sandbox/DigitsGAN-v0",
    "envs.gan_datasets:DigitsGAN",
    paradigm="GAN game",
    num_envs=64,
    description="generator vs discriminator on scikit-learn's 8x8 digits; eval/frechet",
)
register_env(
    "sandbox/RingGAN-v0",
    "envs.gan_datasets:RingGAN",
    paradigm="GAN game",
    num_envs=64,
    description="generator vs discriminator on 8 Gaussians on a ring; eval/modes (collapse)",
)
register_env(
    "sandbox/ToyBandit-v0",
    "envs.toy:ToyBanditEnv",
    paradigm="bandit",
    num_envs=32,
    description="name the class of a noisy point; reward 1 if right (a dataset as a bandit)",
)
register_env(
    "sandbox/Catch-v0",
    "envs.catch:CatchEnv",
    paradigm="RL",
    num_envs=16,
    description="bsuite's Catch: 10x5 uint8 pixels, catch the falling ball (CNN encoder)",
)
register_env(
    "sandbox/MNISTGAN-v0",
    "envs.gan_datasets:MNISTGAN",
    paradigm="GAN game",
    num_envs=64,
    description="generator vs discriminator on MNIST from --env.data-root (no download)",
)
register_env(
    "sandbox/FashionMNISTGAN-v0",
    "envs.gan_datasets:FashionMNISTGAN",
    paradigm="GAN game",
    num_envs=64,
    description="generator vs discriminator on Fashion-MNIST from --env.data-root",
)
register_env(
    "sandbox/Recall-v0",
    "envs.recall:RecallEnv",
    paradigm="classification",
    num_envs=64,
    description="associative recall: 8 key-value tokens, then a key; answer its value (attention)",
)
register_env(
    "sandbox/TicTacToe-v0",
    "envs.board:TicTacToeEnv",
    paradigm="game",
    num_envs=64,
    description="tic-tac-toe, torch-native, from the learner's seats; self-play or --env.seats",
)
