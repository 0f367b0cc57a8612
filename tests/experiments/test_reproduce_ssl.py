"""`reproduce ssl`: Jang et al.'s Table 2 from plain `train ssl` runs, read back only when they are the same run."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from gumbel_softmax.cli import build_parser, main
from gumbel_softmax.experiments import reproduce_ssl
from gumbel_softmax.experiments.ssl_train import config_from_args

pytest.importorskip("sklearn")

QUICK = ["--steps", "3", "--no-progress", "--no-figures"]


def _reproduce(out, *extra: str) -> list[str]:
    return ["reproduce", "ssl", "--out", str(out), *QUICK, *extra]


def _rows(text: str) -> dict[str, list[str]]:
    """The printed table's body rows by their first cell."""
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines() if line.startswith("|")]
    return {row[0]: row[1:] for row in rows[2:]}


def test_table_beside_the_paper_then_report_of_missing_and_partial_runs(tmp_path, capsys):
    assert main(_reproduce(tmp_path, "--rows", "marginalize,gumbel_softmax", "--seeds", "0,1")) == 0
    printed = capsys.readouterr().out
    assert "not comparable" in printed, "digits, 3 steps"
    rows = _rows(printed)
    # Jang et al. 2017, Table 2: accuracy and ELBO of marginalization and Gumbel.
    assert rows["marginalization (marginalize)"][1:4:2] == ["92.6", "-106.8"]
    assert rows["Gumbel (gumbel_softmax)"][1:4:2] == ["92.4", "-109.6"]
    assert all("±" in cell for row in rows.values() for cell in row[0:4:2])
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(r["row"], r["seed"]) for r in results] == [("marginalize", 0), ("marginalize", 1),
                                                        ("gumbel_softmax", 0), ("gumbel_softmax", 1)]
    for record in results:
        final = json.loads((tmp_path / record["row"] / f"seed{record['seed']}" / "final.json").read_text())
        assert record["test_elbo"] == final["test_elbo"] < 0
        assert record["test_accuracy_percent"] == pytest.approx(100 * final["test_accuracy"])
    assert (tmp_path / "table.md").read_text().strip() == printed.strip()

    # --report trains nothing: a row never run reads "not run", a seed never run "(2/3 seeds)".
    assert main(_reproduce(tmp_path, "--rows", "marginalize,st_gumbel_softmax", "--seeds", "0,1,2",
                           "--report")) == 0
    rows = _rows(capsys.readouterr().out)
    assert rows["ST Gumbel-Softmax (st_gumbel_softmax)"][0:4:2] == ["not run", "not run"]
    assert all("(2/3 seeds)" in cell for cell in rows["marginalization (marginalize)"][0:4:2])
    assert not (tmp_path / "st_gumbel_softmax").exists() and not (tmp_path / "marginalize" / "seed2").exists()

    # An unfinished run (no final.json) is not reported; another length is not this run's end.
    (tmp_path / "gumbel_softmax" / "seed1" / "final.json").unlink()
    assert main(_reproduce(tmp_path, "--rows", "gumbel_softmax", "--seeds", "0,1", "--report")) == 0
    assert all("(1/2 seeds)" in cell for cell in _rows(capsys.readouterr().out)["Gumbel (gumbel_softmax)"][0:4:2])
    assert main(_reproduce(tmp_path, "--rows", "marginalize", "--seeds", "0", "--report", "--steps", "4")) == 0
    assert _rows(capsys.readouterr().out)["marginalization (marginalize)"][0] == "not run"


def _hand_config(argv: list[str]):
    return config_from_args(build_parser().parse_args(argv))


def _reproduce_args(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def test_a_run_started_by_hand_is_the_same_configuration(tmp_path):
    # The command the docs give for starting one cell by hand, on MNIST at full length.
    out = tmp_path / "table"
    hand = _hand_config(["train", "ssl", "--dataset", "mnist", "--unlabeled", "st_gumbel_softmax", "--seed", "2",
                         "--steps", "30000", "--no-progress", "--out", str(out / "st_gumbel_softmax" / "seed2")])
    args = _reproduce_args(["reproduce", "ssl", "--dataset", "mnist", "--steps", "30000", "--out", str(out)])
    ours = reproduce_ssl.config_for(args, "st_gumbel_softmax", 2)
    # Identical but for the progress bar and the figures, which a run may change on resume.
    assert dataclasses.replace(hand, progress=True, figures=True) == ours


def test_a_run_started_by_hand_is_read_back_and_another_one_refused(tmp_path, capsys):
    folder = tmp_path / "gumbel_softmax" / "seed3"
    assert main(["train", "ssl", "--unlabeled", "gumbel_softmax", "--seed", "3", "--steps", "3", "--no-progress",
                 "--no-figures", "--out", str(folder)]) == 0
    capsys.readouterr()
    written = (folder / "final.json").stat().st_mtime_ns
    final = json.loads((folder / "final.json").read_text())
    for mode in ("--report", "--resume"):
        assert main(_reproduce(tmp_path, "--rows", "gumbel_softmax", "--seeds", "3", mode)) == 0
        cell = _rows(capsys.readouterr().out)["Gumbel (gumbel_softmax)"][2]
        assert cell == f"{final['test_elbo']:.2f}", mode
    assert (folder / "final.json").stat().st_mtime_ns == written, "read back, not trained again"
    # Without --resume a folder that holds a run is refused, one line, nothing touched.
    assert main(_reproduce(tmp_path, "--rows", "gumbel_softmax", "--seeds", "3")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds a run" in err[0]

    # A run of another configuration in a table's folder: "other run" in the report, refused by --resume.
    other = tmp_path / "reinmax" / "seed0"
    assert main(["train", "ssl", "--unlabeled", "reinmax", "--alpha", "0.5", "--steps", "3", "--no-progress",
                 "--no-figures", "--out", str(other)]) == 0
    capsys.readouterr()
    assert main(_reproduce(tmp_path, "--rows", "reinmax", "--seeds", "0", "--report")) == 0
    assert _rows(capsys.readouterr().out)["reinmax"][0:4:2] == ["other run", "other run"]
    assert main(_reproduce(tmp_path, "--rows", "reinmax", "--seeds", "0", "--resume")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "alpha: 0.5 -> 1.0" in err[0]


def test_the_paper_column_is_comparable_only_on_mnist_at_full_length():
    assert reproduce_ssl.FULL_LENGTH == 24_000  # exp(-3e-5 t) <= 0.5 from t = 23,105; recomputed every 2,000 steps
    record = {"row": "marginalize", "seed": 0, "dataset": "mnist", "steps": 24_000, "eval_samples": 1,
              "test_elbo": -100.0, "test_accuracy_percent": 90.0}
    assert "its length is not stated" in reproduce_ssl.format_results([record])
    for change in ({"dataset": "digits"}, {"steps": 23_999}):
        assert "not comparable" in reproduce_ssl.format_results([record | change])
    assert "no finished run yet" in reproduce_ssl.format_results([{k: v for k, v in record.items()
                                                                   if not k.startswith("test_")}])


def test_resume_restarts_a_run_killed_before_its_first_checkpoint(tmp_path, capsys):
    """As `train ssl --resume` does: a run of this configuration that left no checkpoint and no final.json
    (killed early) starts again under --resume, with the numbers of an uninterrupted run, and is not refused
    as "another run" (which would leave only --overwrite, retraining every finished run too)."""
    options = _reproduce(tmp_path, "--rows", "gumbel_softmax", "--seeds", "0", "--checkpoint-every", "0")
    assert main(options) == 0
    run = tmp_path / "gumbel_softmax" / "seed0"
    whole = json.loads((run / "final.json").read_text())
    (run / "final.json").unlink()  # what a kill before the first checkpoint leaves: config.json and the logs
    capsys.readouterr()
    assert main([*options, "--resume"]) == 0, capsys.readouterr().err
    again = json.loads((run / "final.json").read_text())
    assert {k: v for k, v in again.items() if "seconds" not in k} == {k: v for k, v in whole.items()
                                                                      if "seconds" not in k}


@pytest.mark.parametrize("resume", [[], ["--resume"]])
def test_a_later_folder_of_another_run_is_refused_before_anything_trains(tmp_path, capsys, resume):
    """Seed 1's folder holds a run with another alpha: the table stops with one line before seed 0 trains
    (not after hours of earlier runs), with or without --resume."""
    hand = ["train", "ssl", "--unlabeled", "gumbel_softmax", "--alpha", "0.5", "--seed", "1",
            "--out", str(tmp_path / "gumbel_softmax" / "seed1"), *QUICK]
    assert main(hand) == 0
    capsys.readouterr()
    assert main(_reproduce(tmp_path, "--rows", "gumbel_softmax", "--seeds", "0,1", *resume)) == 2
    err = capsys.readouterr().err.strip()
    assert "seed1" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "gumbel_softmax" / "seed0").exists()
