"""`gumbel-softmax reproduce jang2017`: Jang et al.'s Table 1, ours beside the paper's numbers.

Rows are the paper's columns (SF, DARN, MuProp, ST, annealed ST, Gumbel-Softmax,
ST Gumbel-Softmax) plus Gumbel-Rao, ReinMax and RELAX; columns are the models
(VAE and SBN, categorical and Bernoulli). Each cell is the mean and the standard
deviation over `--seeds` of the final test number of one `train` run per seed:
for the VAE the negative ELBO (the paper's VAE metric) and the `k`-sample bound
on `-log p(x)`; for the SBN the `m`-sample bound on `-log p(lower | upper)`
(the paper's SBN metric). Runs live in `OUT/<model>/<row>/seed<S>`.

`--resume` reuses a finished run only if its saved configuration is this one: a
folder holding a run with other data, model, estimator or schedule is refused, and
one of another test bound, or shorter, is continued from its last checkpoint and
evaluated again (`train` refuses a checkpoint past `--steps`). Unfinished runs
continue from their checkpoints; without `--resume`, a folder that holds a run is
refused unless `--overwrite` says to train it again. `--report` trains nothing and prints the table
of the runs already finished ("not run" where none, "k/n seeds" where some, "other
run" where the folder holds a run of another configuration), so that a long table
can be filled in over several sessions and reported at any point.

How the paper's columns map to our estimators: SF = `reinforce_ema` (REINFORCE
with a moving-average baseline; the paper adds variance normalization); ST =
`straight_through` at tau = 1; annealed ST, Gumbel-Softmax, ST Gumbel-Softmax
and Gumbel-Rao use the `--anneal` schedule on the VAE; the SBN keeps tau = 1 in
every row, as in the paper (Section 4.1), so its annealed-ST row is the ST run
itself (one run, reported twice, marked so). The paper's numbers are for MNIST at
full length (50,000 steps is the authors' notebook value); on other data or
shorter runs the two columns are not comparable, and the table says so.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from gumbel_softmax import anneal
from gumbel_softmax.experiments.checkpoint import CHECKPOINT
from gumbel_softmax.experiments.config import TrainConfig, check_out, check_same_run, check_writable
from gumbel_softmax.experiments.options import MODELS, ROWS
from gumbel_softmax.experiments.train import train
from gumbel_softmax.studies.report import format_table

__all__ = ["ROWS", "PAPER", "MODELS", "run_table", "format_results", "export_runs", "save_curves", "finished_run",
           "read_or_train", "check_runs", "mean_sd", "save_table", "table_command"]

# Jang, Gu, Poole 2017, Table 1 (test nats, MNIST, fixed binarization); columns SF ... ST Gumbel-S.
PAPER: dict[str, dict[str, float]] = {
    model: dict(zip(list(ROWS)[:7], values))
    for model, values in {
        "sbn-bern": (72.0, 59.7, 58.9, 58.9, 58.7, 58.5, 59.3),
        "sbn-cat": (73.1, 67.9, 63.0, 61.8, 61.1, 59.0, 59.7),
        "vae-bern": (112.2, 110.9, 109.7, 116.0, 111.5, 105.0, 111.5),
        "vae-cat": (110.6, 128.8, 107.0, 110.9, 107.8, 101.5, 107.8),
    }.items()
}

def _config(args: argparse.Namespace, model: str, row: str, seed: int) -> TrainConfig:
    kind, latent = MODELS[model]
    estimator, annealed = ROWS[row]
    return TrainConfig(
        model=kind,
        latent=latent,
        estimator=estimator,
        hidden=tuple(args.hidden) if kind == "vae" else TrainConfig.hidden,  # the SBN has no hidden MLP
        dataset=args.dataset,
        data_dir=args.data_dir,
        tau=1.0,
        anneal=args.anneal if annealed and kind == "vae" else "constant",
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        kl_warmup=args.kl_warmup if kind == "vae" else 0,
        seed=seed,
        device=args.device,
        backend=args.backend,
        out=str(Path(args.out) / model / row.replace(" ", "_").replace(".", "") / f"seed{seed}"),
        checkpoint_every=args.checkpoint_every,
        eval_every=0,
        eval_samples=args.eval_samples,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=args.progress,
        figures=False,
    )


def _shared_row(args: argparse.Namespace, model: str, row: str, seed: int) -> str:
    """The first row, in the paper's order, whose run is the same as `row`'s (on the SBN, annealed ST is ST)."""
    mine = replace(_config(args, model, row, seed), out="")
    return next(r for r in ROWS if replace(_config(args, model, r, seed), out="") == mine)


def finished_run(
    config: Any, complete: Callable[[dict[str, Any]], bool], resumable_changes: frozenset[str] | None = None
) -> dict[str, Any] | None:
    """The final metrics of the finished run of `config` in `config.out`, else `None`.

    `config` is any run configuration with an `out` field (`TrainConfig`, or those of `train ssl` and
    `train molgan`); `complete(final)` says whether the saved `final.json` is this configuration's end (its
    length, its test bound); `resumable_changes` as in `check_same_run`. A run there with other data, model,
    estimator or schedule is refused (`ValueError`), never reported as this one; a run that is not `complete`
    counts as not finished.
    """
    out = Path(config.out)
    if not (out / "final.json").exists() or not (out / "config.json").exists():
        return None
    check_same_run(out, config, resumable_changes)
    final = json.loads((out / "final.json").read_text())
    return final if complete(final) else None


def _complete(config: TrainConfig) -> Callable[[dict[str, Any]], bool]:
    """Whether a `train` run's `final.json` is at `config.steps` with the test bound of `config.eval_samples`."""
    return lambda final: final.get("step") == config.steps and f"test_nll_k{config.eval_samples}" in final


def _finished(config: TrainConfig) -> dict[str, Any] | None:
    """`finished_run` of a `train` run (`_complete`)."""
    return finished_run(config, _complete(config))


def read_or_train(
    args: argparse.Namespace,
    config: Any,
    train_run: Callable[[Any], dict[str, Any]],
    complete: Callable[[dict[str, Any]], bool],
    resumable_changes: frozenset[str] | None = None,
) -> dict[str, Any]:
    """Read back (`args.resume` or `args.report`), or train with `train_run`, the run of `config`.

    `--report` never trains: it returns `{"estimator": ...}` for a run not finished, and adds `other_run`
    (the reason) for a folder holding another configuration's run. Under `--resume`, a run with a checkpoint
    continues from it, and one of this configuration killed before its first checkpoint starts again (as
    `train --resume` does); `complete` and `resumable_changes` as in `finished_run`.
    """
    try:
        final = finished_run(config, complete, resumable_changes) if args.resume or args.report else None
    except ValueError as error:
        if not args.report:
            raise
        return {"estimator": getattr(config, "estimator", None), "other_run": str(error)}
    if final is not None:
        return final
    if args.report:
        return {"estimator": getattr(config, "estimator", None)}
    return train_run(_to_train(args, config))


def _to_train(args: argparse.Namespace, config: Any) -> Any:
    """`config` as `read_or_train` trains it: resuming a run with a checkpoint, or one killed before its first
    (config.json, no final.json), which the command's check_out restarts when it is this configuration, as
    `train --resume` does. An empty folder starts fresh without --resume's "found no checkpoint" note."""
    out = Path(config.out)
    unfinished = (out / CHECKPOINT).exists() or ((out / "config.json").exists() and not (out / "final.json").exists())
    return replace(config, resume=args.resume and unfinished)


def check_runs(
    args: argparse.Namespace,
    runs: list[tuple[Any, Callable[[dict[str, Any]], bool]]],
    resumable_changes: frozenset[str] | None = None,
) -> None:
    """Refuse (`ValueError`), before anything trains, what `read_or_train` would refuse part way through a
    table: a folder holding another configuration's run, or (without `--resume` or `--overwrite`) any run.

    `runs` holds each run's configuration and its `complete` test; `--report` checks nothing.
    """
    if args.report:
        return
    for config, complete in runs:
        if args.resume and (Path(config.out) / "config.json").exists():
            check_same_run(Path(config.out), config, resumable_changes)  # also an unfinished run's
        if not (args.resume and finished_run(config, complete, resumable_changes) is not None):
            check_out(_to_train(args, config), resumable_changes)


def _run(args: argparse.Namespace, config: TrainConfig) -> dict[str, Any]:
    """Read back, or train (`--report`: never), the run of `config`."""
    return read_or_train(args, config, train, _complete(config))


def run_table(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train (or read back) every (model, row, seed); return one record per run.

    Rows whose runs are the same (the SBN's annealed ST, at tau = 1, is ST) share one run, kept in the
    folder of the first such row in the paper's order; the other row's record names it in `same_run_as`.
    """
    try:  # read even when no row of this table anneals: a bad schedule is a mistake either way
        anneal.parse(args.anneal, 1.0, args.steps)
    except ValueError as error:
        raise ValueError(f"--anneal: {error}") from None
    if args.kl_warmup and not any(MODELS[m][0] == "vae" for m in args.models):
        raise ValueError("--kl-warmup applies to the VAE models only (the SBN has no KL); add vae-cat or vae-bern")
    results: list[dict[str, Any]] = []
    done: dict[str, dict[str, Any]] = {}  # run folder -> its final metrics, for rows that share a run
    for model in args.models:
        for row in args.rows:
            for seed in args.seeds:
                shared = _shared_row(args, model, row, seed)
                config = _config(args, model, shared, seed)
                if config.out not in done:
                    done[config.out] = _run(args, config)
                record = {"model": model, "row": row, "seed": seed, "folder": config.out, "dataset": config.dataset,
                          "steps": config.steps, "hidden": list(config.hidden), "eval_samples": config.eval_samples,
                          "kl_warmup": config.kl_warmup}
                if shared != row:
                    record["same_run_as"] = shared
                results.append(record | done[config.out])
    return results


def _has_metrics(record: dict[str, Any]) -> bool:
    """Whether a record of `run_table` holds a finished run's test numbers."""
    return any(k.startswith("test_nll_k") for k in record)


def _comparable(runs: list[dict[str, Any]]) -> bool:
    """Whether the finished runs follow the paper's protocol: MNIST, 50,000 steps, its MLP sizes, m = 1000."""
    finished = [r for r in runs if _has_metrics(r)]
    return bool(finished) and all(
        r["dataset"] == "mnist" and r["steps"] >= 50_000 and r["eval_samples"] == 1000
        and (r["model"].startswith("sbn") or r["hidden"] == [512, 256])
        for r in finished
    )


def mean_sd(runs: list[dict[str, Any]], key: str, digits: int = 2) -> str:
    """Mean ± sd of `key` over the finished runs (`digits` decimals); "not run", "other run" or "k/n seeds"
    where that applies."""
    values = [r[key] for r in runs if key in r]
    if not values:
        return "other run" if any("other_run" in r for r in runs) else "not run"
    text = f"{values[0]:.{digits}f}"
    if len(values) > 1:
        text = f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"
    return text if len(values) == len(runs) else f"{text} ({len(values)}/{len(runs)} seeds)"


def _cell(runs: list[dict[str, Any]], key: str) -> str:
    return mean_sd(runs, key)


def format_results(results: list[dict[str, Any]]) -> str:
    """One Markdown table per model: ours (mean ± sd over seeds) beside the paper's number.

    The heading says whether the runs follow the paper's data and length; even then the
    optimizer differs (ours: Adam at one rate for every row; the paper: SGD with momentum, a
    rate chosen per estimator, variance normalization for SF, DARN and MuProp).
    """
    blocks = []
    for model in dict.fromkeys(r["model"] for r in results):
        mine = [r for r in results if r["model"] == model]
        bounds = sorted({k for r in mine for k in r if k.startswith("test_nll_k")})
        bound = bounds[0] if bounds else f"test_nll_k{mine[0]['eval_samples']}"
        first = "test_neg_elbo" if model.startswith("vae") else None
        headers = ["estimator", "ours: " + ("-ELBO" if first else bound[5:]), "paper"]
        if first:
            headers.insert(2, f"ours: -log p, k={bound[10:]}")
        rows = []
        for row in dict.fromkeys(r["row"] for r in mine):
            runs = [r for r in mine if r["row"] == row]
            cells = [mean_sd(runs, first or bound)]
            if first:
                cells.append(mean_sd(runs, bound))
            paper = PAPER[model].get(row)
            same = runs[0].get("same_run_as")
            label = f"{row} ({runs[0]['estimator']}{f'; the {same} run' if same else ''})"
            rows.append([label, *cells, "-" if paper is None else f"{paper:.1f}"])
        if not bounds:
            note = " (no finished run yet)"
        elif _comparable(mine):
            note = " (paper's data and length; ours with Adam at one rate, the paper's SGD+momentum tuned per row)"
        else:
            note = " (paper: MNIST, 50k steps; not comparable with this run's data/length)"
        warmups = sorted({r.get("kl_warmup", 0) for r in mine} - {0})
        if warmups:
            note += f"; ours with a KL warm-up over {', '.join(map(str, warmups))} steps, the paper without"
        blocks.append(f"{model}, {len(mine) // len(rows)} seed(s) per row{note}\n" + format_table(headers, rows))
    return "\n\n".join(blocks)


def save_curves(results: list[dict[str, Any]], out: Path) -> list[Path]:
    """`OUT/curves_<model>.png` for each model with finished runs (nothing without matplotlib)."""
    try:
        import matplotlib  # noqa: F401

        from gumbel_softmax.experiments.figures import table_curves
    except ImportError:
        return []
    paths = []
    for model in dict.fromkeys(r["model"] for r in results):
        runs: dict[str, list[Path]] = {}
        for r in results:
            logged = _has_metrics(r) and (Path(r["folder"]) / "metrics.csv").exists()
            if r["model"] == model and logged and "same_run_as" not in r:
                runs.setdefault(r["row"], []).append(Path(r["folder"]))
        if runs:
            paths.append(table_curves(runs, out / f"curves_{model}.png", f"{model}: training objective per row"))
    return paths


# What --export keeps of a run: enough to report it and to reuse it under --resume.
EXPORTED = ("config.json", "final.json", "metrics.csv")


def export_runs(results: list[dict[str, Any]], out: Path, dest: Path) -> int:
    """Copy the kept files of every finished run in `results` from `out` to `dest`; return how many runs."""
    folders = {Path(r["folder"]) for r in results if _has_metrics(r)}
    for folder in sorted(folders):
        target = dest / folder.relative_to(out)
        target.mkdir(parents=True, exist_ok=True)
        for name in EXPORTED:
            if (folder / name).exists():
                shutil.copyfile(folder / name, target / name)
    return len(folders)


def save_table(out: Path, results: Any, text: str) -> Path:
    """Write `results.json` (`results` as JSON: one record per run, or one record of the whole table) and
    `table.md` (`text`) in `out`, made if missing; return `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "table.md").write_text(text + "\n")
    return out


def table_command(
    name: str,
    args: argparse.Namespace,
    run_table: Callable[[argparse.Namespace], list[dict[str, Any]]],
    format_results: Callable[[list[dict[str, Any]]], str],
    errors: tuple[type[Exception], ...] = (ValueError, FileNotFoundError),
    figures: Callable[[list[dict[str, Any]], Path], list[Path]] | None = None,
) -> int:
    """Run a reproduction table's command `name` (`"reproduce ssl"`): check `--out` (and that `--resume` and
    `--overwrite` are not both given), train or read back the runs with `run_table`, print `format_results`
    and save it (`save_table`), then, unless `--no-figures`, `figures(results, out)`; 2 with one line on
    `errors`."""
    try:
        check_writable(Path(args.out))
        if args.resume and args.overwrite:
            raise ValueError("--resume continues the runs in --out and --overwrite replaces them: give one of them")
        results = run_table(args)
    except errors as error:  # bad options, missing data or dependencies, a folder of another run
        print(f"gumbel-softmax {name}: error: {error}", file=sys.stderr)
        return 2
    text = format_results(results)
    out = save_table(Path(args.out), results, text)
    if figures is not None and getattr(args, "figures", True):
        for path in figures(results, out):
            print(f"wrote {path}", file=sys.stderr)
    print(text)
    return 0


def run(args: argparse.Namespace) -> int:
    """Train (or read back) the table's runs, print it, and save it in `--out`; 2 on bad options, with one line."""
    try:
        check_writable(Path(args.out))
        if args.export:
            check_writable(Path(args.export), "--export")
            if Path(args.export).resolve() == Path(args.out).resolve():
                raise ValueError("--export names the --out folder itself; export to another folder")
        results = run_table(args)
    except (ValueError, FileNotFoundError) as error:  # bad options, missing data, a folder of another run
        print(f"gumbel-softmax reproduce jang2017: error: {error}", file=sys.stderr)
        return 2
    text = format_results(results)
    out = save_table(Path(args.out), results, text)
    for path in save_curves(results, out):
        print(f"wrote {path}", file=sys.stderr)
    if args.export:
        count = export_runs(results, out, Path(args.export))
        print(f"exported {count} finished run(s) to {args.export}", file=sys.stderr)
    print(text)
    return 0
