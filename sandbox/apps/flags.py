"""What every ``sandbox`` command shares: one-line errors, and tyro's parsing made to give them.

tyro prints a boxed, multi-line error; ``parse_tyro`` turns it into one ``UsageError`` line
naming what was expected and what was given (``--steps expects an integer, got '10x'``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from typing import Any

import tyro

from sandbox import distributed
from sandbox.errors import UsageError


def fail(message: str, code: int = 2) -> int:
    if distributed.active() and not message.startswith("[rank"):  # which process says it
        message = f"[rank {distributed.rank()}] {message}"
    print(f"sandbox: error: {message}", file=sys.stderr)
    return code


KINDS = {"INT": "an integer", "FLOAT": "a number", "STR": "a string"}


def one_line(tyro_output: str) -> str:
    """Condense tyro's boxed error (unicode or ASCII borders) into one line with its hints."""
    lines = []
    for raw in tyro_output.splitlines()[1:]:  # the first line is the box's top, with a title
        line = raw.strip().strip("│|").strip()
        if line and not re.fullmatch(r"[╭╮╰╯─│|+=\- ]+", line):
            lines.append(line)
    body = [ln for ln in lines if not ln.startswith(("For full helptext", "Argument helptext"))]
    message = body[0] if body else "bad arguments"
    typed = re.match(r"Error parsing (\S+): no type matching (\S+) could be .* \[(.*)\]", message)
    if typed:  # "--steps: no type matching {None}|INT could be ..." -> what to type instead
        kinds = [KINDS.get(k, k.lower()) for k in typed[2].split("|") if k != "{None}"]
        message = f"{typed[1]} expects {' or '.join(kinds)}, got {typed[3]}"
    message = message.replace("Error parsing ", "").rstrip(".")
    for python_says, kind in (
        ("could not convert string to float", "a number"),
        (r"invalid literal for int\(\) with base 10", "an integer"),
    ):
        message = re.sub(f": {python_says}: (.*)", rf" expects {kind}, got \1", message)
    if "Perhaps you meant:" in body:
        near = [
            ln.split()[0].rstrip(",")
            for ln in body[body.index("Perhaps you meant:") + 1 :]
            if ln.startswith("--")
        ]
        message += f" (did you mean {', '.join(near)}?)" if near else ""
    if message.startswith("Unrecognized options") and re.search(r"\b(True|False)\b", message):
        message += " (a yes/no option is a flag: --name or --no-name)"
    return message


def parse_tyro(cls: type, args: list[str], prog: str) -> Any:
    """``tyro.cli``, with its boxed errors turned into one-line ``UsageError``s."""
    if "-h" in args or "--help" in args:
        return tyro.cli(cls, args=args, prog=prog)
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured), wide_terminal():
            return tyro.cli(cls, args=args, prog=prog)
    except SystemExit as e:
        if e.code:
            raise UsageError(f"{one_line(captured.getvalue())}; see `{prog} --help`") from None
        raise


@contextlib.contextmanager
def wide_terminal() -> Any:
    """Keep tyro's captured error message on one line (rich wraps at $COLUMNS)."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "1000"
    try:
        yield
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
