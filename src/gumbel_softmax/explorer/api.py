"""The explorer's JSON endpoints: query parameters in, JSON-ready dicts out, all sampling by the library.

Each endpoint is a function of a parsed query string (`urllib.parse.parse_qs`
form) that returns a dict, or raises `BadRequest`.
The HTTP layer (`gumbel_softmax.explorer.server`) only routes and encodes.

`/api/sample` draws `n` Gumbel-Softmax samples `y = softmax((logits + E) / tau)`
with noise `E` from `gumbel_softmax.gumbel_noise` and the relaxation from
`gumbel_softmax.gumbel_softmax_from_noise`; the hard sample of each draw is
the same function with `hard=True`, i.e. `argmax(logits + E)` on the same
noise, so the hard sample is always the argmax of the soft one shown beside it.
With Gumbel noise the hard samples are exact draws from `softmax(logits)`
(the Gumbel-max trick: Gumbel 1954; Maddison, Tarlow, Minka 2014) at every
temperature, while the mean soft sample moves from `pi` (tau -> 0) toward
uniform (tau -> inf) (Jang, Gu, Poole 2017; Maddison, Mnih, Teh 2017).

`noise=normal` swaps in Normal noise with the Gumbel's variance `pi^2/6`
as a contrast: its argmax frequencies are *not* `softmax(logits)` (except for
uniform logits), which is why the Gumbel is the right noise.

`/api/density` evaluates the Concrete log-density (Jang, Gu, Poole 2017, eq. 3;
Maddison, Mnih, Teh 2017) on a triangular grid of the 2-simplex (`K = 3`)
with `gumbel_softmax.distributions.Concrete`.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import torch

import gumbel_softmax
from gumbel_softmax.distributions import Concrete
from gumbel_softmax.explorer import params as P
from gumbel_softmax.explorer.params import BadRequest
from gumbel_softmax.studies.report import chi_square

__all__ = [
    "ROUTES",
    "info",
    "sample",
    "density",
    "draw_noise",
    "NORMAL_STD",
    "SAMPLES_SHOWN",
    "CHUNK",
]

Query = Mapping[str, Sequence[str]]

NORMAL_STD = math.pi / math.sqrt(6.0)  # the standard Gumbel's standard deviation: Var G = pi^2 / 6
SAMPLES_SHOWN = 500  # individual draws returned by /api/sample (the rest are summarized)
CHUNK = 8192  # rows drawn at a time: memory per request stays below CHUNK * 64 * 8 B * 3 ~ 13 MB
_DIGITS = 6  # significant digits of the individual samples in the JSON (summaries keep full precision)


def draw_noise(kind: str, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Float64 noise of `shape`: standard Gumbel (the library's) or Normal(0, pi^2/6) (the contrast).

    Args:
        kind: `"gumbel"` or `"normal"`.
        shape: the shape of the result.
        generator: the source of randomness.

    Returns:
        a float64 tensor of `shape`.
    """
    if kind == "gumbel":
        return gumbel_softmax.gumbel_noise(shape, dtype=torch.float64, generator=generator)
    if kind == "normal":
        return torch.randn(shape, dtype=torch.float64, generator=generator).mul_(NORMAL_STD)
    raise ValueError(f"noise must be one of {P.NOISES}, got {kind!r}")


def info(query: Query) -> dict[str, Any]:
    """`GET /api/info`: the library version and the parameter limits."""
    P.check_known(query, ())
    return {
        "version": gumbel_softmax.__version__,
        "limits": P.limits(),
        "samples_shown": SAMPLES_SHOWN,
    }


def _rounded(rows: torch.Tensor) -> list[list[float]]:
    return [[float(f"{v:.{_DIGITS}g}") for v in row] for row in rows.tolist()]


def _json_logits(logits: Sequence[float]) -> list[float | None]:
    """JSON has no infinity: a masked class's logit is sent as `null`."""
    return [None if math.isinf(v) else v for v in logits]


def _chi_square(counts: torch.Tensor, probs: torch.Tensor) -> dict[str, Any]:
    """Pearson's chi-square of the argmax counts against `probs`, over the classes with `probs > 0`.

    Nothing is pooled: `reliable` says whether every expected count is >= 5, so the p-value can be trusted.
    """
    test = chi_square(counts, probs, pool=False)
    return {"statistic": test.statistic, "df": test.df, "p_value": test.p_value, "reliable": test.reliable}


SAMPLE_PARAMS = ("logits", "tau", "n", "noise", "seed")


def sample(query: Query) -> dict[str, Any]:
    """`GET /api/sample`: `n` draws at temperature `tau` with the chosen noise, and their summary.

    Parameters: `logits` (required), `tau` (default 1), `n` (default 1),
    `noise` (`gumbel` default, or `normal`), `seed` (default: a fresh
    random seed, returned so that the draw can be repeated).
    """
    P.check_known(query, SAMPLE_PARAMS)
    logits = P.parse_logits(P.single(query, "logits"))
    tau = P.parse_float(P.single(query, "tau"), "tau", *P.TAU_RANGE, default=1.0)
    n = P.parse_int(P.single(query, "n"), "n", 1, P.N_MAX, default=1)
    noise = P.parse_choice(P.single(query, "noise"), "noise", P.NOISES, default="gumbel")
    seed_text = P.single(query, "seed")
    seed = secrets.randbelow(2**53) if seed_text is None else P.parse_int(seed_text, "seed", 0, P.SEED_MAX)

    k = len(logits)
    row = torch.tensor(logits, dtype=torch.float64)
    probs = torch.softmax(row, -1)
    generator = torch.Generator().manual_seed(seed)
    counts = torch.zeros(k, dtype=torch.float64)
    soft_sum = torch.zeros(k, dtype=torch.float64)
    max_sum = 0.0
    soft_shown: list[torch.Tensor] = []
    hard_shown: list[torch.Tensor] = []
    shown = min(n, SAMPLES_SHOWN)
    for start in range(0, n, CHUNK):
        rows = min(CHUNK, n - start)
        batch = row.expand(rows, k)
        e = draw_noise(noise, (rows, k), generator)
        soft = gumbel_softmax.gumbel_softmax_from_noise(batch, e, tau)
        hard = gumbel_softmax.gumbel_softmax_from_noise(batch, e, tau, hard=True).argmax(-1)
        counts += torch.bincount(hard, minlength=k).double()
        soft_sum += soft.sum(0)
        max_sum += float(soft.amax(-1).sum())
        if start < shown:
            soft_shown.append(soft[: shown - start])
            hard_shown.append(hard[: shown - start])
    return {
        "k": k,
        "logits": _json_logits(logits),
        "probs": probs.tolist(),
        "tau": tau,
        "n": n,
        "noise": noise,
        "seed": seed,
        "samples": {
            "soft": _rounded(torch.cat(soft_shown)),
            "hard": torch.cat(hard_shown).tolist(),
        },
        "summary": {
            "counts": [int(c) for c in counts.tolist()],
            "frequencies": (counts / n).tolist(),
            "mean_soft": (soft_sum / n).tolist(),
            "mean_max": max_sum / n,
            "chi_square": _chi_square(counts, probs),
        },
    }


DENSITY_PARAMS = ("logits", "tau", "resolution")


def _simplex_triangles(resolution: int) -> tuple[list[list[list[float]]], torch.Tensor]:
    """The `resolution^2` small triangles of a regular grid on the 2-simplex, and their centroids.

    Lattice points are `(i, j, R - i - j) / R`. Each triangle is its three
    corners in barycentric coordinates; the centroids are is a `[R^2, 3]` float64 tensor.
    """
    r = resolution
    triangles, centroids = [], []
    for i in range(r):
        for j in range(r - i):
            up = [(i, j), (i + 1, j), (i, j + 1)]
            cells = [up] if i + j == r - 1 else [up, [(i + 1, j), (i, j + 1), (i + 1, j + 1)]]
            for cell in cells:
                corners = [[a / r, b / r, (r - a - b) / r] for a, b in cell]
                triangles.append(corners)
                centroids.append([sum(c[d] for c in corners) / 3 for d in range(3)])
    return triangles, torch.tensor(centroids, dtype=torch.float64)


def density(query: Query) -> dict[str, Any]:
    """`GET /api/density`: the Concrete log-density of `K = 3` logits at `tau` on a simplex grid.

    Parameters: `logits` (three finite values), `tau` (default 1),
    `resolution` (grid rows, default 40; `resolution^2` triangles).
    Answers with the triangles' corners (barycentric) and the log-density at each centroid.
    """
    P.check_known(query, DENSITY_PARAMS)
    logits = P.parse_logits(P.single(query, "logits"))
    if len(logits) != 3 or not all(math.isfinite(v) for v in logits):
        raise BadRequest("logits", "the density is drawn on the 2-simplex: give exactly 3 finite logits")
    tau = P.parse_float(P.single(query, "tau"), "tau", *P.TAU_RANGE, default=1.0)
    resolution = P.parse_int(P.single(query, "resolution"), "resolution", *P.RESOLUTION_RANGE, default=40)
    triangles, centroids = _simplex_triangles(resolution)
    with torch.no_grad():
        dist = Concrete(tau, logits=torch.tensor(logits, dtype=torch.float64))
        log_density = dist.log_prob(centroids)
    values = [v if math.isfinite(v) else None for v in log_density.tolist()]
    return {"logits": logits, "tau": tau, "resolution": resolution, "triangles": triangles, "log_density": values}


ROUTES = {"/api/info": info, "/api/sample": sample, "/api/density": density}
