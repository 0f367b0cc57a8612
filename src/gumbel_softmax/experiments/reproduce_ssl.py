"""`gumbel-softmax reproduce ssl`: Jang et al.'s Table 2 (semi-supervised M2), ours beside the paper's numbers.

Jang, Gu and Poole (2017), Section 4.3 and Table 2: M2 (Kingma et al. 2014) on MNIST with 100 labels,
the unlabeled term's class summed out (marginalization) or drawn by Gumbel-Softmax or ST Gumbel-Softmax;
test ELBO and test accuracy:

| method | ELBO | accuracy |
|---|---|---|
| marginalization | -106.8 | 92.6% |
| Gumbel | -109.6 | 92.4% |
| ST Gumbel-Softmax | -110.7 | 93.6% |

The rows here are values of `train ssl --unlabeled`: by default `marginalize`, `gumbel_softmax`,
`st_gumbel_softmax` (the paper's three) and `gumbel_rao`, `reinmax` (no paper has those); `--rows` takes
any. Each cell is the mean ± sd over `--seeds` of one run's final number: `test_accuracy` (in percent) and
`test_elbo`, our `-mean U(x)` over the test images with the exact sum over classes. Both are lower bounds on
`log p(x)` in nats, so higher is better, and their sign is the paper's (its ELBOs are negative).

Every run is a plain `train ssl` run with that command's defaults for everything this command does not
set, in `OUT/<row>/seed<S>`. A run started by hand as

    gumbel-softmax train ssl --dataset mnist --unlabeled <row> --seed S --steps N --no-progress --out OUT/<row>/seed<S>

is therefore the same run, and `--resume` and `--report` read it (or continue it) as their own. Reuse
follows `reproduce jang2017`: a finished run is reused only under `--resume` and only if its saved
configuration is this one (a folder holding another configuration's run is refused, or shown as "other
run" by `--report`); one of another length or `--eval-samples` is continued from its checkpoint and
evaluated again. `--report` trains nothing.

The paper does not give its number of steps. Its temperature `max(0.5, exp(-3e-5 t))`, recomputed every
2,000 steps, first reaches its floor of 0.5 at step 24,000; we call a run full length from there, and mark
the paper's column comparable only for MNIST runs at least that long. Our networks' channel widths and
`alpha = 1` are ours (the paper gives the depths and a range of `alpha`), so even then the two differ.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from gumbel_softmax.experiments.options import config_values
from gumbel_softmax.experiments.reproduce import check_runs, mean_sd, read_or_train, table_command
from gumbel_softmax.experiments.ssl_config import SSLConfig
from gumbel_softmax.studies.report import format_table

__all__ = ["PAPER", "FULL_LENGTH", "config_for", "run_table", "format_results", "run"]

# Jang et al. 2017, Table 2 (MNIST, 100 labels): row -> (the paper's name, test ELBO, test accuracy in %).
PAPER: dict[str, tuple[str, float, float]] = {
    "marginalize": ("marginalization", -106.8, 92.6),
    "gumbel_softmax": ("Gumbel", -109.6, 92.4),
    "st_gumbel_softmax": ("ST Gumbel-Softmax", -110.7, 93.6),
}

# The first step at which the paper's schedule max(0.5, exp(-3e-5 t)), recomputed every 2,000 steps, is 0.5.
FULL_LENGTH = 2000 * math.ceil(math.log(2) / 3e-5 / 2000)


def config_for(args: argparse.Namespace, row: str, seed: int) -> SSLConfig:
    """The `train ssl` configuration of `row` and `seed`: `train ssl`'s defaults but for the options given here."""
    values = config_values(SSLConfig, args) | {"unlabeled": row, "seed": seed}
    return SSLConfig(**values | {"out": str(Path(args.out) / row / f"seed{seed}")})


def _complete(config: SSLConfig) -> Any:
    """Whether a `final.json` ends `config`'s run: at its steps, with its number of test style draws."""
    return lambda final: final.get("step") == config.steps and final.get("eval_samples") == config.eval_samples


def run_table(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train (or read back) every (row, seed); return one record per run (the run's final numbers added).

    Every configuration is checked before the first run trains, so a bad row or option costs nothing.
    """
    from gumbel_softmax.experiments.ssl_train import check_ssl_config, train_ssl, unlabeled_method

    for row in args.rows:
        try:
            unlabeled_method(row)
        except ValueError as error:
            raise ValueError(f"--rows {row}: {error}") from None
    configs = {(row, seed): config_for(args, row, seed) for row in args.rows for seed in args.seeds}
    for config in configs.values():
        check_ssl_config(config)
    check_runs(args, [(config, _complete(config)) for config in configs.values()])
    results = []
    for (row, seed), config in configs.items():
        final = read_or_train(args, config, train_ssl, _complete(config))
        record = {"row": row, "seed": seed, "folder": config.out, "dataset": config.dataset, "steps": config.steps,
                  "eval_samples": config.eval_samples, "estimator": row}
        record |= {k: v for k, v in final.items() if k not in ("estimator", "test_confusion")}
        if "test_accuracy" in record:
            record["test_accuracy_percent"] = 100.0 * record["test_accuracy"]
        results.append(record)
    return results


def _comparable(runs: list[dict[str, Any]]) -> bool:
    """Whether the finished runs follow the paper's data and (our reading of) its length."""
    finished = [r for r in runs if "test_elbo" in r]
    return bool(finished) and all(r["dataset"] == "mnist" and r["steps"] >= FULL_LENGTH for r in finished)


def format_results(results: list[dict[str, Any]]) -> str:
    """A Markdown table: per row, accuracy and test ELBO (mean ± sd over seeds) beside Jang et al.'s Table 2."""
    rows = []
    for row in dict.fromkeys(r["row"] for r in results):
        runs = [r for r in results if r["row"] == row]
        name, elbo, accuracy = PAPER.get(row, (None, None, None))
        label = f"{name} ({row})" if name else row
        rows.append([label, mean_sd(runs, "test_accuracy_percent"), "-" if accuracy is None else f"{accuracy:.1f}",
                     mean_sd(runs, "test_elbo"), "-" if elbo is None else f"{elbo:.1f}"])
    headers = ["unlabeled term", "ours: accuracy (%)", "paper", "ours: test ELBO", "paper"]
    first = results[0]
    seeds = len(results) // len(rows)
    heading = f"M2 on {first['dataset']}, {first['steps']} steps, {seeds} seed(s) per row"
    if not any("test_elbo" in r for r in results):
        heading += " (no finished run yet)"
    elif _comparable(results):
        heading += (f"; paper: Jang et al. 2017, Table 2 (MNIST, 100 labels; its length is not stated, ours is "
                    f"past {FULL_LENGTH} steps, where its temperature reaches 0.5)")
    else:
        heading += (f"; paper: Jang et al. 2017, Table 2 on MNIST; not comparable with this run's data/length "
                    f"(MNIST and at least {FULL_LENGTH} steps are)")
    return heading + "\n" + format_table(headers, rows)


def run(args: argparse.Namespace) -> int:
    """Train (or read back) the table's runs, print it, and save `table.md` and `results.json` in `--out`."""
    return table_command("reproduce ssl", args, run_table, format_results)
