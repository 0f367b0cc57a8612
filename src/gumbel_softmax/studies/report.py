"""Small helpers for what commands print and save: aligned tables, figures, chi-square p-values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

__all__ = ["format_table", "ChiSquare", "chi_square", "chi_square_pvalue", "new_figure", "save_figure"]

# Pearson's statistic follows its asymptotic chi-square law when every expected count is at least this.
MIN_EXPECTED = 5.0


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


@dataclass(frozen=True)
class ChiSquare:
    """Pearson's chi-square test of counts against probabilities."""

    statistic: float
    df: int
    p_value: float
    reliable: bool  # every expected count is >= 5, so the asymptotic chi-square law holds


def chi_square(
    counts: Sequence[float] | torch.Tensor, probs: Sequence[float] | torch.Tensor, *, pool: bool = True
) -> ChiSquare:
    """Pearson's chi-square test of `counts` against `probs`.

    Categories with probability exactly 0 are left out; a count in one of them makes the
    p-value 0. With `pool`, categories whose expected count is below 5 are pooled into one
    bin so that the asymptotic chi-square law holds; without it, `reliable` says whether it does.

    Args:
        counts: observed count per category.
        probs: probability per category (normalized over the categories with `probs > 0`).
        pool: pool the categories of expected count below 5 into one bin.

    Returns:
        The statistic, its degrees of freedom, the p-value (1 with fewer than two bins) and `reliable`.

    Raises:
        ValueError: `counts` and `probs` differ in shape.
    """
    counts = torch.as_tensor(counts, dtype=torch.float64).cpu().flatten()
    probs = torch.as_tensor(probs, dtype=torch.float64).cpu().flatten()
    if counts.shape != probs.shape:
        raise ValueError(f"counts {tuple(counts.shape)} and probs {tuple(probs.shape)} differ in shape")
    keep = probs > 0
    if bool((counts[~keep] > 0).any()):
        return ChiSquare(math.inf, int(keep.sum()) - 1, 0.0, True)
    counts, probs = counts[keep], probs[keep] / probs[keep].sum()
    expected = counts.sum() * probs
    small = expected < MIN_EXPECTED
    if pool and bool(small.any()):
        counts = torch.cat([counts[~small], counts[small].sum().reshape(1)])
        expected = torch.cat([expected[~small], expected[small].sum().reshape(1)])
    df = len(counts) - 1
    statistic = float(((counts - expected) ** 2 / expected).sum()) if df > 0 else 0.0
    reliable = bool((expected >= MIN_EXPECTED).all())
    return ChiSquare(statistic, df, _chi_square_tail(statistic, df) if df > 0 else 1.0, reliable)


def chi_square_pvalue(counts: Sequence[float] | torch.Tensor, probs: Sequence[float] | torch.Tensor) -> float:
    """p-value of Pearson's chi-square test of `counts` against `probs`, rare categories pooled.

    See `chi_square`.
    """
    return chi_square(counts, probs).p_value


def _chi_square_tail(statistic: float, df: int) -> float:
    """Upper tail `P(X >= statistic)` of a chi-square law with `df` degrees of freedom."""
    if not math.isfinite(statistic):
        return 0.0
    half = torch.tensor([df / 2, statistic / 2], dtype=torch.float64)  # float64 throughout: small p-values matter
    return float(torch.special.gammaincc(half[0], half[1]))


def new_figure(rows: int = 1, cols: int = 1, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """A matplotlib figure on the non-interactive Agg backend (matplotlib is an optional dependency)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("figures need matplotlib: pip install 'gumbel-softmax[figures]'") from error
    return plt.subplots(rows, cols, figsize=size or (4.5 * cols, 3.6 * rows), squeeze=False)


def save_figure(fig: Any, path: Path) -> Path:
    """Save `fig` as a PNG at `path` (creating folders) and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
