"""TensorBoard logging: run directories, metrics summed on the device, clean HParams (DESIGN §5).

Metrics arrive every step as 0-d tensors and are summed where they live; ``MetricSums.means``
reads them all with one device-to-host copy per log interval, never per step.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.plugins.hparams import summary_v2 as hparams_summary
from torch import Tensor
from torch.utils.tensorboard import SummaryWriter

from sandbox.core import env_hook
from sandbox.errors import UsageError
from sandbox.video import gif_bytes

CUSTOM_SCALARS = {
    "paradigms side by side": {
        "eval/score: every paradigm's headline figure": ["Multiline", [r"^eval/score$"]],
        "reward/mean": ["Multiline", [r"^reward/mean$"]],
        "time/fps": ["Multiline", [r"^time/fps$"]],
        "eval/generalization_gap: train minus held-out score (datasets)": [
            "Multiline",
            [r"^eval/generalization_gap$"],
        ],
    }
}
"""The Custom Scalars tab: one chart per shared tag, every run on it."""


class MetricSums:
    """Per-tag running sums of tensors, kept on their device until read.

    A tag's value may be 0-d (a loss) or batched (a reward per sub-env): batched values are
    summed elementwise, one in-place add per step, and averaged over the batch when read.

    Example:
        >>> sums = MetricSums()
        >>> sums.add({"train/loss": torch.tensor(1.0)}); sums.add({"train/loss": torch.tensor(3.0)})
        >>> sums.means()
        {'train/loss': 2.0}
        >>> sums.means()
        {}
    """

    def __init__(self) -> None:
        self._sums: dict[str, Tensor] = {}
        self._counts: dict[str, int] = {}

    def add(self, metrics: Mapping[str, Tensor]) -> None:
        """Add one step's metrics (detached; no synchronisation). Shapes must repeat per tag."""
        for tag, value in metrics.items():
            if tag in self._sums:
                self._sums[tag] += value.detach()
                self._counts[tag] += 1
            else:
                self._sums[tag] = value.detach().float().clone()
                self._counts[tag] = 1

    def means(self, reduce: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """The mean of each tag since the last call, read in one transfer; then reset.

        ``reduce`` maps the stacked means before the read (the mean over data-parallel ranks).
        """
        if not self._sums:
            return {}
        tags = list(self._sums)
        values = torch.stack([self._sums[t].mean() / self._counts[t] for t in tags])
        values = (values if reduce is None else reduce(values)).tolist()
        self._sums.clear()
        self._counts.clear()
        return dict(zip(tags, values, strict=True))


class EpisodeSums:
    """Returns and lengths of the episodes that ended in a log interval, summed on the device.

    ``add`` takes Gymnasium's vector episode statistics: ``{"r": (N,), "l": (N,)}`` and the
    ``(N,)`` bool mask of sub-envs whose episode ended this step.

    Example:
        >>> e = EpisodeSums()
        >>> e.add({"r": torch.tensor([1.0, 9.0]), "l": torch.tensor([1, 9])},
        ...       torch.tensor([True, False]))
        >>> e.means()
        {'rollout/ep_rew_mean': 1.0, 'rollout/ep_len_mean': 1.0}
    """

    def __init__(self) -> None:
        self._sums: Tensor | None = None  # (5,) return, length, count, successes, with success

    def add(self, episode: Mapping[str, Tensor], mask: Tensor) -> None:
        """Add the episodes that ended this step (no synchronisation). An ``"is_success"``
        entry (N,), masked by ``"_is_success"`` (N,) bool, counts into the success rate."""
        m = torch.as_tensor(mask).float()  # (N,)
        success = torch.as_tensor(episode.get("is_success", torch.zeros_like(m))).float()
        has = torch.as_tensor(episode.get("_is_success", torch.zeros_like(m))).float() * m
        row = torch.stack(
            [
                (torch.as_tensor(episode["r"]).float() * m).sum(),
                (torch.as_tensor(episode["l"]).float() * m).sum(),
                m.sum(),
                (success.to(m.device) * has).sum(),
                has.sum(),
            ]
        )
        self._sums = row if self._sums is None else self._sums + row

    def means(self, reduce: Callable[[Tensor], Tensor] | None = None) -> dict[str, float]:
        """Mean return and length since the last call (``{}`` if no episode ended), and
        ``rollout/success_rate`` where episodes reported ``is_success``; reset.

        ``reduce`` maps the ``(5,)`` sums before the read (the sum over data-parallel ranks,
        which every rank calls, with or without episodes of its own).
        """
        if reduce is not None:
            self._sums = reduce(torch.zeros(5) if self._sums is None else self._sums)
        if self._sums is None:
            return {}
        ret, length, count, successes, with_success = self._sums.tolist()
        self._sums = None
        if count == 0:
            return {}
        means = {"rollout/ep_rew_mean": ret / count, "rollout/ep_len_mean": length / count}
        if with_success:
            means["rollout/success_rate"] = successes / with_success
        return means


def image_grid(images: Tensor, pad: int = 1) -> Tensor:
    """``(N, C, H, W)`` images in [0, 1] as one ``(C, H', W')`` grid, about square, white gaps.

    (torchvision's ``make_grid`` does this too, but importing torchvision costs seconds.)

    Example:
        >>> image_grid(torch.zeros(5, 1, 8, 8)).shape
        torch.Size([1, 19, 28])
    """
    n, c, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = torch.ones(c, rows * (h + pad) + pad, cols * (w + pad) + pad)  # (C, H', W')
    for i, image in enumerate(images.clamp(0, 1)):
        top, left = pad + (i // cols) * (h + pad), pad + (i % cols) * (w + pad)
        grid[:, top : top + h, left : left + w] = image
    return grid


def options_digest(options: Mapping[str, Any]) -> str:
    """A short digest of ``{option: value}``, the same in every process and session.

    Example:
        >>> options_digest({"agent.lr": 0.001}) == options_digest({"agent.lr": 0.001})
        True
        >>> len(options_digest({"agent.lr": 0.001})), options_digest({})
        (6, '')
    """
    if not options:
        return ""
    text = json.dumps(dict(sorted(options.items())), default=str)  # tuples, paths: as text
    return hashlib.sha256(text.encode()).hexdigest()[:6]


def make_run_dir(
    logdir: str | os.PathLike,
    experiment: str,
    env_id: str,
    agent: str,
    seed: int | None,
    digest: str = "",
) -> Path:
    """Create ``<logdir>/<experiment>/<env>__<agent>[__<digest>]__s<seed>__<YYYYmmdd-HHMMSS>``
    exclusively; ``digest`` (``options_digest``) tells runs of different options apart.

    Parallel runs never share a directory: on a clash a ``-2``, ``-3``... suffix is added.

    Example:
        >>> import tempfile
        >>> d = make_run_dir(tempfile.mkdtemp(), "demo", "sandbox/LinReg-v0", "gradient", 0)
        >>> d.name.startswith("sandbox-LinReg-v0__gradient__s0__")
        True
    """

    def clean(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", s)

    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = "__".join([clean(env_id), clean(agent), *([digest] if digest else []), f"s{seed}"])
    base = Path(logdir) / clean(experiment) / f"{name}__{stamp}"
    try:
        base.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file where a directory should be, no permission, read-only
        raise UsageError(
            f"cannot create run directories under logdir {str(logdir)!r}: {e.strerror} "
            f"({base.parent}); expected a writable directory"
        ) from None
    for attempt in range(1, 1000):
        path = base if attempt == 1 else base.with_name(f"{base.name}-{attempt}")
        try:
            path.mkdir()  # atomic: fails if another run took the name first
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a unique run directory next to {base}")


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"agent": {"lr": 0.1}}`` -> ``{"agent.lr": 0.1}``; non-scalars become strings.

    Example:
        >>> flatten_config({"agent": {"lr": 0.1, "sizes": (1, 2)}, "steps": 5})
        {'agent.lr': 0.1, 'agent.sizes': '(1, 2)', 'steps': 5}
    """
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, prefix=f"{name}."))
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


class Logger:
    """One TensorBoard run: scalars against samples consumed, the config, the HParams session.

    Args:
        run_dir: the run's directory (from ``make_run_dir``).
        purge_step: on resume, the sample count to continue from; TensorBoard drops any
            later events left by the interrupted run.
    """

    WRITE_EVERY_S = 2.0
    """Scalars wait in memory this long and go to the writer together (see ``scalars``)."""

    def __init__(self, run_dir: str | os.PathLike, purge_step: int | None = None) -> None:
        self.run_dir = Path(run_dir)
        if purge_step is not None:
            _wait_past_newest_event_file(self.run_dir)
        self.writer = SummaryWriter(str(self.run_dir), purge_step=purge_step)
        self._pending: list[tuple[int, float, Mapping[str, float]]] = []
        self._next_write = time.monotonic() + self.WRITE_EVERY_S

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        """Write each ``tag: value`` at x = ``step`` (samples consumed), with the time of now.

        One call is one event (a ``Summary`` with a value per tag, which TensorBoard reads as
        one scalar per tag), and events go to the writer in batches, every ``WRITE_EVERY_S``
        seconds and at ``flush``/``close``: each event costs protobuf and CRC work in Python
        and wakes the writer's thread, and one event per scalar cost ~12% of a small model's
        run (bench/supervised_overhead.py). The writer itself flushes its file every 120 s,
        so TensorBoard sees a scalar at most ``WRITE_EVERY_S`` later than it would have.
        """
        self._pending.append((step, time.time(), values))
        if time.monotonic() >= self._next_write:
            self._write_pending()

    def _write_pending(self) -> None:
        for step, wall_time, values in self._pending:
            summary = Summary(
                value=[Summary.Value(tag=t, simple_value=v) for t, v in values.items()]
            )
            self.writer.file_writer.add_summary(summary, step, wall_time)
        self._pending.clear()
        self._next_write = time.monotonic() + self.WRITE_EVERY_S

    def images(self, tag: str, images: Tensor, step: int) -> None:
        """A batch of images ``(N, C, H, W)`` in [0, 1] as one grid at x = ``step``."""
        self.writer.add_image(tag, image_grid(images.detach().float().cpu()), global_step=step)

    def video(self, tag: str, frames: list[Tensor], step: int, fps: float) -> Path:
        """``frames`` (each ``(H, W, 3)`` uint8) as one animated GIF at x = ``step``: a file
        ``videos/eval-<step>.gif`` in the run directory and an image summary (TensorBoard's
        IMAGES tab plays it, as it plays ``SummaryWriter.add_video``'s GIFs)."""
        encoded = gif_bytes(frames, fps)
        path = self.run_dir / "videos" / f"eval-{step}.gif"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(encoded)
        h, w, c = frames[0].shape
        image = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encoded)
        self.writer.file_writer.add_summary(
            Summary(value=[Summary.Value(tag=tag, image=image)]), step
        )
        return path

    def histograms(self, agent: Any, step: int) -> dict[str, float]:
        """Weights and last gradients of every ``nn.Module`` an agent holds (d2l §2.5, autograd),
        as histograms; returns ``train/grad_norm``, the norm of all those gradients together."""
        players = agent.items() if isinstance(agent, Mapping) else [("", agent)]
        norms, seen = [], set()
        for player, one in players:
            for attr, module in vars(one).items():
                if not isinstance(module, torch.nn.Module):
                    continue
                for name, p in module.named_parameters():
                    if id(p) in seen:  # the same parameter under another name (a DDP wrapper)
                        continue
                    seen.add(id(p))
                    tag = ".".join(part for part in (player, attr, name) if part)
                    self.writer.add_histogram(f"weights/{tag}", p.detach(), step)
                    if p.grad is not None:
                        self.writer.add_histogram(f"grads/{tag}", p.grad, step)
                        norms.append(p.grad.detach().norm())
        return {"train/grad_norm": float(torch.stack(norms).norm())} if norms else {}

    def media(self, env: Any, agent: Any, step: int, projector: bool = False) -> None:
        """An eval env's images or text (``media``); with ``projector``, its embedding."""
        with torch.inference_mode():
            if env_hook(env, "media") is not None:
                for name, media in env.media(agent).items():
                    if isinstance(media, str):  # Markdown, e.g. a board game's boards
                        self.writer.add_text(f"media/{name}", media, global_step=step)
                    else:
                        self.images(f"media/{name}", media, step)
            if projector and env_hook(env, "embedding") is not None:
                embedding = env.embedding(agent)
                if embedding is not None:
                    self.writer.add_embedding(**embedding, global_step=step, tag="embedding")

    def config(self, config: Mapping[str, Any]) -> None:
        """The resolved config, as a two-column Markdown table (TEXT tab) and HParams session.

        The HParams session goes into this run's own event file (no sub-run, unlike
        ``SummaryWriter.add_hparams``); its metrics are this run's ``eval/*`` scalars.
        """
        flat = flatten_config(config)
        rows = "\n".join(f"| {k} | {v} |" for k, v in flat.items())
        self.writer.add_text("config", "| option | value |\n| --- | --- |\n" + rows)
        # seeds of one config share a trial id, which summary_v2 stores as the session's
        # group_name: HParams shows them as one session group, with the group's mean metric
        config_but_seed = repr(sorted((k, v) for k, v in flat.items() if k != "seed")).encode()
        digest = hashlib.sha1(config_but_seed).hexdigest()[:12]
        group = f"{flat.get('env_id')}__{flat.get('agent')}__{digest}"
        session = hparams_summary.hparams_pb(flat, trial_id=group)
        self.writer.file_writer.add_summary(session)
        self.writer.add_custom_scalars(CUSTOM_SCALARS)

    def flush(self) -> None:
        """Make everything written so far readable on disk."""
        self._write_pending()
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._write_pending()
        self.writer.close()


def _wait_past_newest_event_file(run_dir: Path) -> None:
    """Let a resumed run's event file sort after the stopped run's.

    TensorBoard reads a run's files in name order, ``events.out.tfevents.<unix seconds>.<host>
    .<pid>.<n>``; within the same second the order falls to pid and counter, compared as
    text, and the resumed file could be read first, so its purge would erase the old curve.
    """
    stamps = [
        int(p.name.split(".")[3])
        for p in run_dir.glob("events.out.tfevents.*")
        if p.name.split(".")[3].isdigit()
    ]
    while stamps and int(time.time()) <= max(stamps):
        time.sleep(0.05)


def first_nonfinite(values: Mapping[str, float]) -> str | None:
    """The first tag whose value is NaN or infinite, else ``None``.

    Example:
        >>> first_nonfinite({"a": 1.0, "b": float("nan")})
        'b'
    """
    return next((tag for tag, v in values.items() if not math.isfinite(v)), None)
