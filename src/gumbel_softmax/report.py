"""Small helpers for what commands print and save: aligned tables, figures, chi-square p-values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["format_table", "chi_square_pvalue", "new_figure", "save_figure"]


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, float):
        return format(value, floatfmt)
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], floatfmt: str = ".4f") -> str:
    """Rows as a Markdown-compatible table with right-aligned, equal-width columns."""
    cells = [[_cell(v, floatfmt) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda items: "| " + " | ".join(s.rjust(w) for s, w in zip(items, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(headers), rule] + [line(r) for r in cells])


def chi_square_pvalue(statistic: float, df: int) -> float:
    """Upper tail ``P(X >= statistic)`` of a chi-square law with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    value = torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64), torch.tensor(statistic / 2.0))
    return float(value) if math.isfinite(statistic) else 0.0


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """A matplotlib figure on the non-interactive Agg backend (matplotlib is an optional dependency)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("figures need matplotlib: pip install 'gumbel-softmax[cli]'") from error
    return plt.subplots(rows, cols, figsize=size or (4.5 * cols, 3.6 * rows), squeeze=False)


def save_figure(fig: Any, path: Path) -> Path:
    """Save ``fig`` as a PNG at ``path`` (creating folders) and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
