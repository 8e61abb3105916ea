"""Every preset at seed 0 on the CPU: its budget, its bar, what it reached, its wall time.

Each preset runs as a user runs it, ``sandbox run ENV_ID AGENT --seed 0 --device cpu``, in its
own process; the figures come from the run's summary line. The markdown table goes in the
README ("Presets"). A run over ``--timeout`` seconds is reported as not run here.

    .venv/bin/python bench/presets.py                          # every preset
    .venv/bin/python bench/presets.py --only CartPole Digits   # ids or agents containing these
    .venv/bin/python bench/presets.py --out bench/presets.md --timeout 180
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time

from sandbox import presets

SUMMARY = re.compile(r"^samples\s+[\d,]+ in ([\d.]+) s", re.M)
EVAL = re.compile(r"^eval\s+score (\S+) \((.*)\)$", re.M)


def run_preset(preset: presets.Preset, logdir: str, timeout: float) -> dict[str, str]:
    """One row of the table: run the preset through the CLI and read its summary."""
    row = {
        "preset": f"`{preset.env_id}` {preset.agent_name}",
        "budget": f"{preset.steps:,}",
        "bar": preset.bar,
    }
    command = [sys.executable, "-m", "sandbox", "run", preset.env_id, preset.agent_name]
    command += ["--seed", "0", "--device", "cpu", "--no-progress", "--logdir", logdir]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**row, "reached": f"not run here (over {timeout:.0f} s)", "met": "", "wall": ""}
    wall = time.perf_counter() - start
    summary, figures = SUMMARY.search(done.stdout), EVAL.search(done.stdout)
    if done.returncode != 0 or summary is None or figures is None:
        reason = (done.stderr.strip().splitlines() or ["no summary"])[-1]
        if " not found: " in reason:  # torchvision data this machine lacks (--env.data-root)
            reached = f"not run here ({reason.split(' not found')[0].split()[-1]} files absent)"
        else:
            reached = f"failed: {reason[:80]}"
        return {**row, "reached": reached, "met": "", "wall": f"{wall:.0f}"}
    metrics = {"eval/score": float(figures.group(1))}
    for part in figures.group(2).split(", "):
        name, value = part.split()
        metrics[f"eval/{name}"] = float(value)
    metric = preset.bar.split()[0]
    return {
        **row,
        "reached": f"{metric} {metrics[f'eval/{metric}']:.4g}",
        "met": "yes" if preset.meets_bar(metrics) else "**no**",
        "wall": f"{float(summary.group(1)):.0f}",
    }


def markdown(rows: list[dict[str, str]]) -> str:
    """The README's table."""
    lines = [
        "| preset | budget (samples) | bar | reached (seed 0, CPU) | met | wall s |",
        "| --- | ---: | --- | --- | --- | ---: |",
    ]
    for r in rows:
        cells = (r["preset"], r["budget"], r["bar"], r["reached"], r["met"], r["wall"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], help="substrings of 'ENV_ID AGENT'")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per preset")
    parser.add_argument("--out", help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    chosen = [
        p
        for p in presets.everything()
        if not args.only or any(s in f"{p.env_id} {p.agent_name}" for s in args.only)
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="sandbox-presets-") as logdir:
        for preset in chosen:
            rows.append(run_preset(preset, logdir, args.timeout))
            r = rows[-1]
            print(f"{r['preset']}: {r['reached']} {r['met']} ({r['wall']} s)", file=sys.stderr)
            if args.out:  # after every row: a long sweep stopped half-way keeps its rows
                with open(args.out, "w") as f:
                    f.write(markdown(rows) + "\n")
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
