"""Score finished `train ssl` runs' last checkpoints on the validation and the test split.

The runs record the validation accuracy during training and the test accuracy at the end, so a drop between
the two mixes two things: the split and the extra steps. This script scores the same (final) model on both
splits, which separates them. It reads `config.json` and `checkpoint.pt` of each run folder given and prints
one markdown row per run; it trains nothing and writes nothing.

With `--skew` it reads only each run's `final.json` and prints how far its predicted class proportions on the
test split are from the true ones: the total variation `0.5 * sum_c |n_true(c) - n_predicted(c)| / n`, the
share of test images that would have to change predicted class for the proportions to match.

With `--compare` it takes the folders in pairs, a run's record and the same command run again (on another
machine, say), and prints both runs' test accuracy and test ELBO from their `final.json` and the differences.

    python docs/results/ssl/splits.py RUN_FOLDER [RUN_FOLDER ...]
    python docs/results/ssl/splits.py --skew RUN_FOLDER [RUN_FOLDER ...]
    python docs/results/ssl/splits.py --compare RECORD RERUN [RECORD RERUN ...]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import torch

from gumbel_softmax.experiments.checkpoint import load
from gumbel_softmax.experiments.ssl import M2
from gumbel_softmax.experiments.ssl_config import SSLConfig
from gumbel_softmax.experiments.ssl_train import SSLData, classification_scores, prepare_data

# The data set of each (dataset, data_dir, data_seed, classes, labels) met so far: runs of one study share it.
_DATA: dict[tuple[object, ...], SSLData] = {}


def data_of(config: SSLConfig) -> SSLData:
    """`prepare_data(config)`, loaded once for all the runs that read the same data."""
    key = (config.dataset, config.data_dir, config.data_seed, config.classes, config.labels)
    if key not in _DATA:
        _DATA[key] = prepare_data(config)
    return _DATA[key]


def missing(folder: Path, files: tuple[str, ...]) -> str | None:
    """What `folder` lacks of `files` (a run not yet finished, or not a run), in words; None if nothing."""
    absent = [name for name in files if not (folder / name).is_file()]
    return f"{folder}: no {' or '.join(absent)}; give the folder of a finished `train ssl` run" if absent else None


def read_json(path: Path) -> dict[str, Any]:
    """The object in `path`; `ValueError` naming the file if it is not one (a damaged or foreign file)."""
    try:
        value = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not a `train ssl` record ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a `train ssl` record (not a JSON object)")
    return value


def score(folder: Path) -> str:
    """One markdown row: the run, its last step, validation and test accuracy of its final model."""
    names = {f.name for f in fields(SSLConfig)}
    saved = read_json(folder / "config.json")
    config = SSLConfig(**{k: v for k, v in saved.get("config", saved).items() if k in names})
    data = data_of(config)
    model = M2(data.images.shape, config.classes, config.z_size, config.network(), config.width)
    state = load(folder / "checkpoint.pt")
    model.load_state_dict(state["model"])
    model.eval()
    valid, _ = classification_scores(model, data.images.valid, data.valid_labels)
    test, _ = classification_scores(model, data.images.test, data.test_labels)
    return (f"| {folder} | {config.unlabeled} | {config.alpha:g} | {state['step']} | {100 * valid:.2f} | "
            f"{100 * test:.2f} |")


def skew(folder: Path) -> str:
    """One markdown row: the run, its test accuracy and the total variation of its predicted class proportions."""
    final = read_json(folder / "final.json")
    confusion = torch.tensor(final["test_confusion"], dtype=torch.float64)  # rows: true class, columns: predicted
    distance = 0.5 * (confusion.sum(1) - confusion.sum(0)).abs().sum() / confusion.sum()
    return f"| {folder} | {final['unlabeled']} | {100 * final['test_accuracy']:.2f} | {float(distance):.3f} |"


def compare(record: Path, rerun: Path) -> str:
    """One markdown row: the rerun, and its test accuracy and ELBO beside the record's, with the differences."""
    first, second = (read_json(folder / "final.json") for folder in (record, rerun))
    accuracy_a, accuracy_b = 100 * first["test_accuracy"], 100 * second["test_accuracy"]
    elbo_a, elbo_b = first["test_elbo"], second["test_elbo"]
    return (f"| {rerun} | {accuracy_a:.2f} | {accuracy_b:.2f} | {accuracy_b - accuracy_a:+.2f} | {elbo_a:.2f} | "
            f"{elbo_b:.2f} | {elbo_b - elbo_a:+.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders holding config.json and checkpoint.pt")
    parser.add_argument("--skew", action="store_true",
                        help="read final.json only and print the test class proportions' total variation")
    parser.add_argument("--compare", action="store_true",
                        help="take the folders in pairs (record, rerun) and print their final.json's test results")
    args = parser.parse_args()
    if args.skew and args.compare:
        parser.error("--skew and --compare print different tables; give one of them")
    if args.compare and len(args.runs) % 2:
        parser.error(f"--compare takes folders in pairs (record, rerun); {len(args.runs)} given")
    needed = ("final.json",) if args.skew or args.compare else ("config.json", "checkpoint.pt")
    for folder in args.runs:
        problem = missing(folder, needed)
        if problem:
            parser.error(problem)
    if args.compare:
        header = ("| rerun | record: test accuracy (%) | rerun | difference | record: test ELBO | rerun | "
                  "difference |\n|---|---:|---:|---:|---:|---:|---:|")
        rows = (compare(record, rerun) for record, rerun in zip(args.runs[::2], args.runs[1::2]))
    elif args.skew:
        header = "| run | unlabeled | test accuracy (%) | class proportions: total variation |\n|---|---|---:|---:|"
        rows = (skew(folder) for folder in args.runs)
    else:
        header = ("| run | unlabeled | alpha | step | valid accuracy (%) | test accuracy (%) |\n"
                  "|---|---|---:|---:|---:|---:|")
        rows = (score(folder) for folder in args.runs)
    try:
        table = [header, *rows]  # every row before any is printed: a bad record leaves no half table
    except KeyError as error:
        parser.error(f"a record lacks {error}: give folders of `train ssl` runs")
    except (ValueError, FileNotFoundError) as error:  # a damaged record, or the data set not found (says how)
        parser.error(str(error))
    print("\n".join(table))


if __name__ == "__main__":
    main()
