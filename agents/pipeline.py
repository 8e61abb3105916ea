"""A hand-crafted pipeline as an agent: fixed features into a scikit-learn classifier.

Before deep learning, a vision system was a pipeline (d2l §8.1.1, "Representation
Learning"): features designed by hand — here histograms of gradient orientations per cell
(Dalal & Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005, without
block normalisation), or PCA — then a classifier fitted on them: logistic regression or an
SVM. Nothing is learnt end to end. As an agent it takes the labels the online way
(``feedback="label"``): it acts with uniform logits while it buffers features and revealed
labels, fits once it has seen ``fit_after`` samples (default: one epoch of the training
split), then acts with the classifier's log-probabilities as logits.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import ThreadpoolController
from torch import Tensor

from agents.label import require_label_feedback, revealed_label
from sandbox.core import Env, Transition, UsageError, env_device

LOG_EPS = math.log(1e-12)  # the log-probability of a class the classifier gives ~0 (finite)


@dataclass(frozen=True)
class PipelineConfig:
    """Features and classifier of the pipeline, and when it fits."""

    features: Literal["hog", "pca", "pixels"] = "hog"
    """Hand-made features: gradient-orientation histograms per cell (images), PCA, or the raw
    pixels/features as they are."""
    classifier: Literal["logistic", "svm"] = "logistic"
    """scikit-learn's LogisticRegression, or an RBF SVC with probabilities by calibration."""
    cell_size: int = 2
    """hog: pixels per side of a cell; each cell gives one histogram."""
    num_bins: int = 9
    """hog: orientation bins over [0, 180) degrees."""
    num_components: int = 20
    """pca: principal components kept (at most the number of features)."""
    fit_after: int = 0
    """Samples to buffer before fitting; 0: one epoch of the env's training split."""

    def __post_init__(self) -> None:
        for name in ("cell_size", "num_bins", "num_components"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.fit_after < 0:
            raise ValueError(f"fit_after must be >= 0, got {self.fit_after}")


def hog_features(X: Tensor, cell_size: int = 2, num_bins: int = 9) -> Tensor:
    """Histograms of oriented gradients: images ``(N, C, H, W)`` -> ``(N, C*cells*num_bins)``.

    Each pixel votes its gradient's magnitude (central differences, 0 at the border) into the
    bin of its unsigned orientation; the votes are summed per ``cell_size`` square cell.

    Example:
        >>> ramp = torch.arange(4.0).expand(1, 1, 4, 4)  # brighter to the right: gradient 0°
        >>> hog_features(ramp, cell_size=4, num_bins=4)  # 2 inner columns x 4 rows x |2|
        tensor([[16.,  0.,  0.,  0.]])
        >>> hog_features(ramp.transpose(2, 3), cell_size=4, num_bins=4)  # brighter down: 90°
        tensor([[ 0.,  0., 16.,  0.]])
    """
    gx, gy = torch.zeros_like(X), torch.zeros_like(X)  # (N, C, H, W)
    gx[..., :, 1:-1] = X[..., :, 2:] - X[..., :, :-2]
    gy[..., 1:-1, :] = X[..., 2:, :] - X[..., :-2, :]
    angle = torch.atan2(gy, gx).remainder(math.pi)  # unsigned orientation in [0, pi)
    bins = (angle / (math.pi / num_bins)).long().clamp_max(num_bins - 1)  # (N, C, H, W)
    votes = F.one_hot(bins, num_bins) * torch.hypot(gx, gy).unsqueeze(-1)  # (N, C, H, W, B)
    N, C, H, W, B = votes.shape
    cells = votes.reshape(N, C, H // cell_size, cell_size, W // cell_size, cell_size, B)
    return cells.sum(dim=(3, 5)).flatten(1)  # (N, C * H/cell * W/cell * B)


def make_classifier(config: PipelineConfig, num_features: int) -> Pipeline:
    """The scikit-learn half: standardize, PCA if asked, then the classifier (deterministic)."""
    steps: list[Any] = [StandardScaler()]
    if config.features == "pca":
        steps.append(PCA(min(config.num_components, num_features), random_state=0))
    if config.classifier == "logistic":
        steps.append(LogisticRegression(max_iter=1000))
    else:  # SVC(probability=True) is deprecated since scikit-learn 1.9; this is its successor
        steps.append(CalibratedClassifierCV(SVC(), ensemble=False))
    return make_pipeline(*steps)


class PipelineAgent:
    """Hand-made features + a scikit-learn classifier, fitted once on the revealed labels.

    Resume: ``state_dict`` holds the buffered features and labels (tensors, so the checkpoint
    stays ``weights_only``-loadable), not the estimator; ``load_state_dict`` refits on them.
    The fit is deterministic, so a resumed agent acts as the one that was saved.

    Args:
        env: a classification env with ``feedback="label"`` (``info["target"]`` after acting).
        config: features, classifier and ``fit_after``; defaults to ``PipelineConfig()``.
    """

    Config = PipelineConfig
    name = "pipeline"

    def __init__(self, env: Env, config: PipelineConfig | None = None) -> None:
        self.config = cfg = config or PipelineConfig()
        require_label_feedback("pipeline", env)
        self.num_classes = getattr(env, "num_classes", None)
        if not self.num_classes:
            raise UsageError(
                "agent 'pipeline' is a classifier, but this env has no classes (a regression?); "
                "use a classification env such as sandbox/Digits-v0"
            )
        obs_shape = env.single_observation_space.shape
        cells_fit = all(side % cfg.cell_size == 0 for side in obs_shape[1:])  # (H, W) of images
        if cfg.features == "hog" and not (len(obs_shape) == 3 and cells_fit):
            raise UsageError(
                f"features 'hog' needs images (C, H, W) whose sides divide by cell_size "
                f"({cfg.cell_size}), got observations of shape {obs_shape}; "
                "use --features pca or pixels, or another --cell-size"
            )
        self.fit_after = cfg.fit_after or len(getattr(env, "X", ()))
        if self.fit_after == 0:
            raise UsageError("agent 'pipeline' cannot tell this env's epoch; set --fit-after")
        self.device = env_device(env)
        self.action_shape = env.single_action_space.shape  # (C,) logits, or () for one logit
        num_features = self.features(torch.zeros(1, *obs_shape, device=self.device)).shape[1]
        rows = self.fit_after + env.num_envs  # the last batch may run past fit_after
        self.X_seen = torch.zeros(rows, num_features, device=self.device)  # (rows, features)
        self.y_seen = torch.zeros(rows, dtype=torch.long, device=self.device)  # (rows,)
        self.num_seen = 0
        self.classifier: Pipeline | None = None
        # scikit-learn's BLAS and OpenMP get torch's threads (--threads): their default, one
        # per core, oversubscribes the cores that torch's own threads already use.
        self._threads = ThreadpoolController()

    def features(self, obs: Tensor) -> Tensor:
        """The hand-made features of a batch: ``(N, num_features)`` (PCA is fitted later)."""
        if self.config.features == "hog":
            return hog_features(obs.float(), self.config.cell_size, self.config.num_bins)
        return obs.float().flatten(1)

    def act(self, obs: Tensor, *, deterministic: bool = False) -> Tensor:
        """Uniform logits before the fit; after it, the classifier's log-probabilities."""
        if self.classifier is None:
            return torch.zeros(len(obs), *self.action_shape, device=self.device)  # p = 1/C
        # scikit-learn runs on the CPU: one copy each way per batch, the price of the library.
        with self._threads.limit(limits=torch.get_num_threads()):
            proba = self.classifier.predict_proba(self.features(obs).cpu().numpy())  # (N, seen)
        log_p = torch.full((len(obs), self.num_classes), LOG_EPS)  # (N, C)
        seen = torch.as_tensor(self.classifier.classes_)  # classes absent from the fit keep ~0
        log_p[:, seen] = torch.from_numpy(np.log(proba.clip(1e-12))).float()
        if self.action_shape == ():  # two classes, one logit: the log-odds of class 1
            log_p = log_p[:, 1] - log_p[:, 0]  # (N,)
        return log_p.to(self.device)

    def learn(self, transition: Transition) -> dict[str, Tensor]:
        """Buffer the batch's features and revealed labels; fit once ``fit_after`` are in."""
        target = revealed_label("pipeline", transition)
        if self.classifier is None:
            n, start = len(target), self.num_seen
            self.X_seen[start : start + n] = self.features(transition.obs)
            self.y_seen[start : start + n] = target
            self.num_seen += n
            if self.num_seen >= self.fit_after:
                self._fit()
        return {"train/loss": -transition.reward.mean()}  # the env's cross-entropy

    def _fit(self) -> None:
        X = self.X_seen[: self.num_seen].cpu().numpy()  # (num_seen, num_features)
        y = self.y_seen[: self.num_seen].cpu().numpy()  # (num_seen,)
        with self._threads.limit(limits=torch.get_num_threads()):
            self.classifier = make_classifier(self.config, X.shape[1]).fit(X, y)

    def state_dict(self) -> dict[str, Any]:
        """The buffered features and labels, whether it has fitted, and the config."""
        return {
            "X_seen": self.X_seen[: self.num_seen].clone(),
            "y_seen": self.y_seen[: self.num_seen].clone(),
            "fitted": self.classifier is not None,
            "config": dataclasses.asdict(self.config),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict``: the buffer, and the classifier refitted on it if it was."""
        self.num_seen = n = len(state["y_seen"])
        self.X_seen[:n] = state["X_seen"].to(self.device)
        self.y_seen[:n] = state["y_seen"].to(self.device)
        self.classifier = None
        if state["fitted"]:
            self._fit()
