"""The comparison table of ``sandbox compare`` as aligned text, Markdown or CSV."""

from __future__ import annotations

import csv
import io
from typing import NamedTuple


class Interval(NamedTuple):
    """A group's figure: the mean over seeds and its 95% CI (``None``s for one seed)."""

    mean: float
    lower: float | None
    upper: float | None


Cell = str | float | Interval | None
"""A table cell: text, a number (the IQM), an ``Interval``, or ``None`` for no data."""


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def render(header: list[str], rows: list[list[Cell]], fmt: str) -> str:
    """The table as aligned text, Markdown (``mean [lower, upper]``) or CSV (one column each).

    Example:
        >>> header = ["run", "seeds", "x final", "x IQM"]
        >>> rows = [["a", "2", Interval(2, 1, 3), 2.0]]
        >>> print(render(header, rows, "markdown"))
        | run | seeds | x final | x IQM |
        | --- | --- | --- | --- |
        | a | 2 | 2 [1, 3] | 2 |
        >>> print(render(header, rows, "csv"))
        run,seeds,x final,x final lower,x final upper,x IQM
        a,2,2,1,3,2.0
    """
    if fmt == "csv":  # an interval takes three columns: mean, lower, upper
        head = [
            h
            for h in header
            for h in ([h, f"{h} lower", f"{h} upper"] if h.endswith(" final") else [h])
        ]

        def columns(c: Cell, h: str) -> list:
            if h.endswith(" final"):
                return ["" if v is None else v for v in (c or (None, None, None))]
            return ["" if c is None else c]

        body = [[v for c, h in zip(r, header, strict=True) for v in columns(c, h)] for r in rows]
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([head, *body])
        return out.getvalue().rstrip("\n")

    def text(c: Cell) -> str:
        if c is None:
            return "-"
        if isinstance(c, str):
            return c
        if isinstance(c, Interval):
            if c.lower is None or c.upper is None:  # one seed: no interval
                return _number(c.mean)
            return f"{_number(c.mean)} [{_number(c.lower)}, {_number(c.upper)}]"
        return _number(c)

    cells = [header, *[[text(c) for c in r] for r in rows]]
    if fmt == "markdown":
        lines = [cells[0], ["---"] * len(header), *cells[1:]]
        return "\n".join("| " + " | ".join(r) + " |" for r in lines)
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )
