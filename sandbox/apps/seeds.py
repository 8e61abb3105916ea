"""``sandbox run ENV AGENT --seeds 0-4 [--jobs N]``: one run per seed, then the group's summary.

The runs go one after another in this process (``run_one``: the CLI's own ``sandbox run``),
or, with ``--jobs N``, N at a time in child processes (``python -m sandbox run ... --seed S``,
one thread each by default). The children sit in sessions of their own, so Ctrl-C reaches
this process only, and it passes the signal on once: every child writes its checkpoint and
exits 130 (143 for SIGTERM), as a single run does.

A group file next to the runs, ``<experiment>/<env>__<agent>__seeds__<stamp>.json``, records
the command and each seed's run directory; ``sandbox run --resume GROUP_FILE --seeds 0-4``
(or the experiment directory, when it holds one group file) keeps the finished seeds,
resumes the stopped ones from their checkpoints and starts the missing ones. At the end the
group's table is printed and its aggregate run (mean and 95% CI per tag) written for
TensorBoard, as ``sandbox compare DIR --write-tensorboard`` does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sandbox.apps import compare
from sandbox.checkpoint import load_checkpoint
from sandbox.errors import CheckpointError, NonFiniteError, RunFailed, RunInterrupted, UsageError
from sandbox.run import RunConfig

RunOne = Callable[[list[str]], int]
"""``sandbox run``'s own function: arguments in, exit code out (raises what it raises)."""


def parse_seeds(spec: str) -> list[int]:
    """``"0-4"``, ``"0,1,2"`` or both (``"0-2,7"``) as a list of distinct seeds, in order.

    Example:
        >>> parse_seeds("0-2,7"), parse_seeds("3")
        ([0, 1, 2, 7], [3])
        >>> parse_seeds("4-2")
        Traceback (most recent call last):
        ...
        sandbox.errors.UsageError: --seeds takes seeds like 0-4 or 0,1,2 (low-high), got '4-2'
    """
    seeds: list[int] = []
    for part in spec.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        low, high = (int(m[1]), int(m[2] or m[1])) if m else (1, 0)
        if low > high:
            raise UsageError(f"--seeds takes seeds like 0-4 or 0,1,2 (low-high), got {spec!r}")
        seeds += [s for s in range(low, high + 1) if s not in seeds]
    return seeds


def take_flag(args: list[str], name: str) -> tuple[str | None, list[str]]:
    """The value of ``--name X`` (or ``--name=X``) in ``args``, and ``args`` without it.

    Example:
        >>> take_flag(["a", "--jobs", "2", "--lr=1"], "--jobs")
        ('2', ['a', '--lr=1'])
    """
    for i, arg in enumerate(args):
        if arg == name:
            if i + 1 == len(args):
                raise UsageError(f"{name} needs a value")
            return args[i + 1], args[:i] + args[i + 2 :]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1], args[:i] + args[i + 1 :]
    return None, args


@dataclass
class Group:
    """A group of runs that differ only by seed: the command, and each seed's run directory."""

    args: list[str]
    """``ENV AGENT [flags]``, without ``--seed``, ``--seeds`` or ``--jobs``."""
    runs: dict[int, Path | None] = field(default_factory=dict)
    """seed -> its run directory (``None``: not started yet)."""
    path: Path | None = None
    """The group file; written once the first run directory exists."""

    @classmethod
    def load(cls, where: str) -> Group:
        """The group file ``where``, or the one group file in the directory ``where``."""
        path = Path(where)
        if path.is_dir():
            found = sorted(path.glob("*__seeds__*.json"))
            if len(found) != 1:
                raise UsageError(
                    f"--resume with --seeds takes a group file; {path} holds "
                    + (f"{len(found)}: {', '.join(p.name for p in found)}" if found else "none")
                )
            path = found[0]
        try:
            saved = json.loads(path.read_text())
            runs = {int(s): Path(d) if d else None for s, d in saved["runs"].items()}
            return cls(list(saved["args"]), runs, path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise UsageError(
                f"{path} is not a group file written by `sandbox run --seeds` ({e})"
            ) from None

    def save(self) -> None:
        """Write the group file next to the first run directory (atomically)."""
        first = next((d for d in self.runs.values() if d is not None), None)
        if first is None:
            return
        if self.path is None:
            env_agent = "__".join(first.name.split("__")[:2])
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.path = first.parent / f"{env_agent}__seeds__{stamp}.json"
        runs = {str(s): str(d) if d else None for s, d in self.runs.items()}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"args": self.args, "runs": runs}, indent=1) + "\n")
        os.replace(tmp, self.path)

    def logdir(self) -> Path:
        """The ``--logdir`` the runs write under."""
        default = next(f.default for f in dataclasses.fields(RunConfig) if f.name == "logdir")
        value, _ = take_flag(self.args, "--logdir")
        return Path(value or str(default))

    def command(self, seed: int) -> tuple[str, list[str]]:
        """What to do for ``seed`` and its ``sandbox run`` arguments: ``"start"``, ``"restart"``
        (its run directory has no checkpoint to resume), ``"resume"`` or ``"done"``."""
        run_dir = self.runs.get(seed)
        if run_dir is None:
            return "start", [*self.args, "--seed", str(seed)]
        try:
            state = load_checkpoint(run_dir)
        except CheckpointError:
            return "restart", [*self.args, "--seed", str(seed)]
        if state["samples"] >= state["config"]["run"]["steps"]:
            return "done", []
        return "resume", ["--resume", str(run_dir)]


def _run_dirs(logdir: Path, seed: int) -> set[Path]:
    """The run directories of ``seed``: ``<logdir>/<experiment>/<env>__<agent>__s<seed>__*``."""
    return set(logdir.glob(f"*/*__s{seed}__*"))


def _new_run_dir(logdir: Path, seed: int, before: set[Path]) -> Path | None:
    new = sorted(_run_dirs(logdir, seed) - before, key=lambda p: p.stat().st_mtime)
    return new[-1].resolve() if new else None


def run_seeds(args: list[str], run_one: RunOne) -> int:
    """``sandbox run ... --seeds SPEC [--jobs N]``; returns the exit code (see the module)."""
    spec, args = take_flag(args, "--seeds")
    jobs_text, args = take_flag(args, "--jobs")
    resume, args = take_flag(args, "--resume")
    seeds = parse_seeds(spec or "")
    if not (jobs_text or "1").isdigit() or int(jobs_text or "1") < 1:
        raise UsageError(f"--jobs takes a number of processes >= 1, got {jobs_text!r}")
    if take_flag(args, "--seed")[0] is not None:
        raise UsageError("--seeds makes one run per seed; drop --seed")
    if resume is not None:
        if args:
            raise UsageError(
                "--resume GROUP_FILE --seeds ... takes the env, agent and flags from the "
                f"group file; drop {' '.join(args)}"
            )
        group = Group.load(resume)
    else:
        group = Group(args)
    for seed in seeds:
        group.runs.setdefault(seed, None)
    plan = []
    for seed in seeds:
        action, seed_args = group.command(seed)
        if action == "done":
            print(f"seed {seed}: finished in {group.runs[seed]}, kept")
            continue
        if action == "restart":
            print(f"seed {seed}: no checkpoint in {group.runs[seed]} to resume; starting anew")
        plan.append((seed, seed_args))
    jobs = int(jobs_text or "1")
    run = _in_parallel if jobs > 1 else _one_after_another
    failed, stopped = run(group, plan, run_one, jobs)
    group.save()
    return _report(group, seeds, failed, stopped)


def _one_after_another(
    group: Group, plan: Sequence[tuple[int, list[str]]], run_one: RunOne, jobs: int
) -> tuple[dict[int, str], int | None]:
    """Each seed's run in this process, in turn; stop at the first interrupted one."""
    failed: dict[int, str] = {}
    logdir = group.logdir()
    for seed, args in plan:
        before = _run_dirs(logdir, seed)
        print(f"seed {seed}: sandbox run {' '.join(args)}")
        try:
            run_one(list(args))
        except RunInterrupted as e:
            print(f"sandbox: seed {seed}: {e}", file=sys.stderr)
            return failed, e.signum
        except (RunFailed, NonFiniteError, CheckpointError) as e:  # the other seeds still run
            failed[seed] = str(e)
        finally:  # (a UsageError goes up at once: a bad flag, before any run directory)
            group.runs[seed] = _new_run_dir(logdir, seed, before) or group.runs[seed]
            group.save()
    return failed, None


def _in_parallel(
    group: Group, plan: Sequence[tuple[int, list[str]]], run_one: RunOne, jobs: int
) -> tuple[dict[int, str], int | None]:
    """``jobs`` child processes at a time; a signal is passed on once to each child."""
    logdir, queue = group.logdir(), list(plan)
    running: dict[int, tuple[subprocess.Popen, set[Path] | None, threading.Thread]] = {}
    failed: dict[int, str] = {}
    errors: dict[int, list[str]] = {}
    stopped: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        stopped.append(signum)
        for proc, _, _ in running.values():
            proc.send_signal(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while queue or running:
            while queue and len(running) < jobs and not stopped:
                seed, args = queue.pop(0)
                before = _run_dirs(logdir, seed)
                proc = _spawn(args)
                errors[seed] = []
                relay = threading.Thread(target=_relay, args=(proc, seed, errors[seed]))
                relay.start()
                running[seed] = (proc, before, relay)
            for seed, (proc, before, relay) in list(running.items()):
                if before is not None:  # its run directory, recorded as soon as it exists
                    found = _new_run_dir(logdir, seed, before)
                    if found is not None:
                        group.runs[seed], before = found, None
                        running[seed] = (proc, before, relay)
                        group.save()
                if proc.poll() is None:
                    continue
                relay.join()
                del running[seed]
                if proc.returncode not in (0, 128 + signal.SIGINT, 128 + signal.SIGTERM):
                    failed[seed] = " ".join(errors[seed]) or f"exit code {proc.returncode}"
            time.sleep(0.1)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if failed and all(m.startswith("sandbox: error:") for m in failed.values()):
        messages = {m.removeprefix("sandbox: error: ") for m in failed.values()}
        if len(messages) == 1 and len(failed) == len(plan):  # the same mistake in every seed
            raise UsageError(messages.pop())
    return failed, stopped[0] if stopped else None


def _spawn(args: list[str]) -> subprocess.Popen:
    """``python -m sandbox run ARGS`` in its own session, its output read line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,  # Ctrl-C at the terminal reaches the parent alone
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _relay(proc: subprocess.Popen, seed: int, errors: list[str]) -> None:
    """Print a child's lines prefixed by its seed; keep its error lines for the summary."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("sandbox: error:"):
            errors.append(line.strip())
        else:
            print(f"[seed {seed}] {line}", end="", flush=True)


def _report(group: Group, seeds: list[int], failed: dict[int, str], stopped: int | None) -> int:
    """The group's table and aggregate run, or what is unfinished and how to continue."""
    for seed, message in failed.items():
        print(f"sandbox: seed {seed} failed: {message}", file=sys.stderr)
    unfinished = [s for s in seeds if group.command(s)[0] != "done"]
    if unfinished:
        how = (
            f"sandbox run --resume {group.path} --seeds {','.join(map(str, seeds))}"
            if group.path
            else "run the same command again"
        )
        line = f"seeds {', '.join(map(str, unfinished))} unfinished; continue the group with: {how}"
        if stopped is not None:
            raise RunInterrupted(line, stopped)
        print(f"sandbox: {line}", file=sys.stderr)
    done = [group.runs[s] for s in seeds if s not in unfinished]
    if done:
        runs = compare.read_runs([d for d in done if d is not None])
        tags = [t for t in compare.DEFAULT_TAGS if any(t in r.scalars for r in runs)]
        print(compare.render(*compare.summarize(runs, tags), "table"))
        compare.write_tensorboard(runs)
        print(f"view      tensorboard --logdir {done[0].parent}")  # type: ignore[union-attr]
    return 1 if failed or unfinished else 0
