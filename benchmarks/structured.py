"""Timing of the structured relaxations against the alternatives, side by side in one process.

Usage: python benchmarks/structured.py [--repeats 7] [--sst-path DIR]

Each row times our function and a competitor alternately (so drifting load hits both alike) and prints
the median of each and the ratio competitor / ours (> 1: ours is faster), with a column saying whether
each output is finite at tau = 0.01 in float32. The competitors:

- Sinkhorn: ours (`structured.sinkhorn`, log space) against the exp-domain Sinkhorn of Mena et al.,
  `P = exp(X / tau)` normalized by rows and columns in turn;
- spanning-tree and arborescence marginals at n = 6 against enumeration of all 1296 trees (the list of
  trees is built once, outside the timing), and the spanning-tree marginals at n = 6 and 30 against the
  textbook formula with `torch.linalg.inv`: `A_ij (L^-1_ii + L^-1_jj - 2 L^-1_ij)`;
- the k-subset dynamic program (`structured.k_subset_marginals`) against the SST authors' NumPy
  implementation (`core/topk.py` of github.com/choidami/sst, which is not on PyPI: pass a checkout with
  `--sst-path`), or, when it cannot be imported, against a NumPy dynamic program written by us from the
  paper's recurrence (Paulus et al. 2020, App. B), labelled as such.

Benchmarks are not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import torch

from gumbel_softmax.structured import (
    arborescence_marginals,
    k_subset_marginals,
    sinkhorn,
    spanning_tree_marginals,
)
from gumbel_softmax.studies.report import format_table


def naive_sinkhorn(x: torch.Tensor, tau: float, n_iters: int) -> torch.Tensor:
    """Sinkhorn in the exp domain: overflows once `x / tau` exceeds about 88 in float32."""
    p = torch.exp(x / tau)
    for _ in range(n_iters):
        p = p / p.sum(-1, keepdim=True)
        p = p / p.sum(-2, keepdim=True)
    return p


def spanning_trees(n: int) -> torch.Tensor:
    """All spanning trees of the complete graph on n nodes as symmetric 0/1 matrices `[T, n, n]`."""
    edges = list(itertools.combinations(range(n), 2))
    found = []
    for chosen in itertools.combinations(edges, n - 1):
        label = list(range(n))
        ok = True
        for i, j in chosen:
            a, b = label[i], label[j]
            if a == b:
                ok = False
                break
            label = [a if c == b else c for c in label]
        if ok:
            tree = torch.zeros(n, n)
            for i, j in chosen:
                tree[i, j] = tree[j, i] = 1.0
            found.append(tree)
    return torch.stack(found)


def arborescences(n: int) -> torch.Tensor:
    """All arborescences rooted at node 0 on n nodes as 0/1 matrices `[T, n, n]` (`[i, j] = 1`: i -> j)."""
    found = []
    for parents in itertools.product(range(n), repeat=n - 1):
        parent = dict(zip(range(1, n), parents, strict=True))
        ok = True
        for j in range(1, n):
            node, steps = j, 0
            while node != 0 and steps <= n:
                node, steps = parent[node], steps + 1
            ok = ok and node == 0
        if ok:
            tree = torch.zeros(n, n)
            for j in range(1, n):
                tree[parent[j], j] = 1.0
            found.append(tree)
    return torch.stack(found)


def enumerated(scores: torch.Tensor, trees: torch.Tensor, tau: float, halve: bool) -> torch.Tensor:
    total = torch.einsum("bij,tij->bt", scores, trees) / (2 if halve else 1)
    return torch.einsum("bt,tij->bij", torch.softmax(total / tau, -1), trees)


def linalg_tree_marginals(scores: torch.Tensor, tau: float) -> torch.Tensor:
    """The textbook formula: effective resistances times weights, from `torch.linalg.inv` of `exp`."""
    n = scores.shape[-1]
    a = torch.exp(scores / tau) * (1 - torch.eye(n))
    laplacian = torch.diag_embed(a.sum(-1)) - a
    inv = torch.zeros_like(a)
    inv[:, 1:, 1:] = torch.linalg.inv(laplacian[:, 1:, 1:])
    diag = inv.diagonal(dim1=-2, dim2=-1)
    return a * (diag.unsqueeze(-1) + diag.unsqueeze(-2) - 2 * inv)


def numpy_k_subset(logits: np.ndarray, k: int) -> np.ndarray:
    """Our NumPy dynamic program from the paper's recurrence (not the SST authors' code).

    `a_i(j) = log e_j(w_1..w_i)` from the left and `b_i(j) = log e_j(w_i..w_n)` from the right, by
    `a_i(j) = logaddexp(a_{i-1}(j), a_{i-1}(j - 1) + w_i)`; then
    `mu_i = exp(w_i + logsumexp_j (a_{i-1}(j) + b_{i+1}(k - 1 - j)) - log e_k(w))`.
    """
    batch, n = logits.shape
    left = np.full((n + 1, batch, k + 1), -np.inf)
    left[0, :, 0] = 0.0
    for i in range(n):
        left[i + 1] = left[i]
        left[i + 1, :, 1:] = np.logaddexp(left[i, :, 1:], left[i, :, :-1] + logits[:, i : i + 1])
    right = np.full((n + 2, batch, k + 1), -np.inf)
    right[n + 1, :, 0] = 0.0
    for i in range(n, 0, -1):
        right[i] = right[i + 1]
        right[i, :, 1:] = np.logaddexp(right[i + 1, :, 1:], right[i + 1, :, :-1] + logits[:, i - 1 : i])
    log_z = left[n, :, k]
    out = np.empty_like(logits)
    for i in range(n):
        pairs = left[i, :, :k] + right[i + 2, :, k - 1 :: -1]
        out[:, i] = np.exp(logits[:, i] + np.logaddexp.reduce(pairs, axis=-1) - log_z)
    return out


def load_sst(path: str | None) -> tuple[Callable[[np.ndarray, int], np.ndarray] | None, str]:
    if path is None:
        return None, "no --sst-path given; choidami/sst is not on PyPI, so it cannot be pip-installed"
    sys.path.insert(0, path)
    try:
        from core.topk import softtopk_np  # the SST authors' NumPy forward-backward
    except Exception as error:  # any failure means: fall back, and say why
        return None, f"could not import core.topk from {path}: {error}"
    return softtopk_np, f"the SST authors' core/topk.py from {path}"


def finite(fn: Callable[[], torch.Tensor | np.ndarray]) -> str:
    try:
        y = fn()
    except RuntimeError as error:  # torch.linalg refuses a matrix that became singular in floating point
        return "error: " + str(error).split(":")[0]
    return "yes" if bool(np.isfinite(np.asarray(y)).all()) else "NO"


def time_pair(ours: Callable[[], object], theirs: Callable[[], object], repeats: int) -> tuple[float, float]:
    ours(), theirs()  # warm-up
    t_ours, t_theirs = [], []
    for _ in range(repeats):
        for fn, times in ((ours, t_ours), (theirs, t_theirs)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(t_ours) * 1e3, statistics.median(t_theirs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--sst-path", default=None, help="a checkout of github.com/choidami/sst")
    args = parser.parse_args()
    g = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, numpy {np.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, float32 (float64 for the NumPy DP)")
    rows = []

    def add(what: str, shape: str, competitor: str, ours: Callable, theirs: Callable,
            ours_small: Callable, theirs_small: Callable) -> None:
        t_ours, t_theirs = time_pair(ours, theirs, args.repeats)
        rows.append([what, shape, competitor, f"{t_theirs:.2f}", f"{t_ours:.2f}", f"{t_theirs / t_ours:.2f}",
                     finite(ours_small), finite(theirs_small)])

    x = torch.randn(32, 50, 50, generator=g)
    add("Sinkhorn, L = 20", "32x50x50", "exp-domain Sinkhorn",
        lambda: sinkhorn(x, 1.0, 20), lambda: naive_sinkhorn(x, 1.0, 20),
        lambda: sinkhorn(x, 0.01, 20), lambda: naive_sinkhorn(x, 0.01, 20))

    u = torch.randn(256, 6, 6, generator=g)
    sym = (u + u.mT) / 2
    trees = spanning_trees(6)
    add("spanning-tree marginals", "256x6x6", f"enumeration ({len(trees)} trees)",
        lambda: spanning_tree_marginals(sym), lambda: enumerated(sym, trees, 1.0, True),
        lambda: spanning_tree_marginals(sym, 0.01), lambda: enumerated(sym, trees, 0.01, True))
    add("spanning-tree marginals", "256x6x6", "torch.linalg.inv formula",
        lambda: spanning_tree_marginals(sym), lambda: linalg_tree_marginals(sym, 1.0),
        lambda: spanning_tree_marginals(sym, 0.01), lambda: linalg_tree_marginals(sym, 0.01))
    u30 = torch.randn(64, 30, 30, generator=g)
    sym30 = (u30 + u30.mT) / 2
    add("spanning-tree marginals", "64x30x30", "torch.linalg.inv formula",
        lambda: spanning_tree_marginals(sym30), lambda: linalg_tree_marginals(sym30, 1.0),
        lambda: spanning_tree_marginals(sym30, 0.01), lambda: linalg_tree_marginals(sym30, 0.01))
    directed = torch.randn(256, 6, 6, generator=g)
    arbs = arborescences(6)
    add("arborescence marginals, root 0", "256x6x6", f"enumeration ({len(arbs)} arborescences)",
        lambda: arborescence_marginals(directed), lambda: enumerated(directed, arbs, 1.0, False),
        lambda: arborescence_marginals(directed, 0.01), lambda: enumerated(directed, arbs, 0.01, False))

    sst, sst_note = load_sst(args.sst_path)
    logits = torch.randn(256, 100, generator=g)
    np_logits = logits.double().numpy()
    if sst is not None:
        label, theirs = "SST authors' NumPy (core/topk.py)", (lambda t: sst(np_logits / t, 10))
    else:
        label, theirs = "our NumPy DP (SST not installed)", (lambda t: numpy_k_subset(np_logits / t, 10))
    add("k-subset marginals, k = 10", "256x100", label,
        lambda: k_subset_marginals(logits, 10), lambda: theirs(1.0),
        lambda: k_subset_marginals(logits, 10, 0.01), lambda: theirs(0.01))
    check = np.abs(theirs(1.0) - k_subset_marginals(logits.double(), 10).numpy()).max()
    print(f"k-subset competitor: {sst_note}; "
          f"largest difference from ours at tau = 1: {check:.1e}")
    header = ["relaxation", "shape", "competitor", "theirs ms", "ours ms", "ratio", "ours finite", "theirs finite"]
    print(format_table(header, rows))
    print("ratio: competitor time / our time (> 1: ours is faster); finite: at tau = 0.01, float32")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
