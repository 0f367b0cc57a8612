"""`reproduce molgan`: every estimator's MolGAN runs in one table beside the paper's QM9 rows."""

from __future__ import annotations

import dataclasses
import json

import pytest

pytest.importorskip("rdkit")

from gumbel_softmax.cli import build_parser, main
from gumbel_softmax.experiments.molgan import reproduce
from gumbel_softmax.experiments.molgan.config import MolGANConfig
from gumbel_softmax.experiments.options import config_values

SMILES = ["CCO", "C=O", "CC#N", "OCC(F)F", "CCN", "C1CC1", "CC(=O)O", "COC", "CCC", "NCCO"] * 5  # 40 to train on


@pytest.fixture
def smiles(tmp_path):
    path = tmp_path / "set.smi"
    path.write_text("\n".join(SMILES) + "\n")
    return path


def _reproduce(tmp_path, smiles, *extra: str) -> list[str]:
    return ["reproduce", "molgan", "--data-dir", str(smiles), "--cache-dir", str(tmp_path / "cache"), "--steps", "2",
            "--eval-samples", "10", "--checkpoint-every", "0", "--no-progress", "--no-figures",
            "--out", str(tmp_path / "table"), *extra]


def _rows(text: str) -> dict[str, list[str]]:
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines() if line.startswith("|")]
    return {row[0]: row[1:] for row in rows[2:]}


def test_every_estimator_row_in_one_table_beside_the_paper(tmp_path, smiles, capsys):
    assert main(_reproduce(tmp_path, smiles, "--rows", "st_gumbel_softmax,reinforce_ema", "--seeds", "0,1")) == 0
    printed = capsys.readouterr().out
    rows = _rows(printed)
    assert rows["paper: MolGAN"][:3] == ["98.1", "10.4", "94.2"]
    assert rows["paper: GraphVAE"][:3] == ["55.7", "76.0", "61.6"]
    for row in ("ours: st_gumbel_softmax", "ours: reinforce_ema"):
        assert len(rows[row]) == len(reproduce.METRICS) and all("±" in cell for cell in rows[row]), rows[row]
    results = json.loads((tmp_path / "table" / "results.json").read_text())
    assert len(results) == 4
    for record in results:
        final = json.loads((tmp_path / "table" / record["row"] / f"seed{record['seed']}" / "final.json").read_text())
        assert record["valid"] == final["valid"] and record["seconds_per_step"] == final["seconds_per_step"] > 0
        assert record["train_minutes"] == pytest.approx(final["train_seconds"] / 60)

    # --report: a row never run, a missing seed; nothing trained.
    assert main(_reproduce(tmp_path, smiles, "--rows", "st_gumbel_softmax,gumbel_rao", "--seeds", "0,1,2",
                           "--report")) == 0
    rows = _rows(capsys.readouterr().out)
    assert set(rows["ours: gumbel_rao"]) == {"not run"}
    assert all("(2/3 seeds)" in cell for cell in rows["ours: st_gumbel_softmax"])
    assert not (tmp_path / "table" / "gumbel_rao").exists()


def test_a_run_started_by_hand_is_the_same_run(tmp_path, smiles, capsys):
    folder = tmp_path / "table" / "gumbel_softmax" / "seed4"
    hand = ["train", "molgan", "--estimator", "gumbel_softmax", "--seed", "4", "--steps", "2", "--no-progress",
            "--out", str(folder)]
    args = build_parser().parse_args(_reproduce(tmp_path, smiles))
    ours = reproduce.config_for(args, "gumbel_softmax", 4)
    parsed = MolGANConfig(**config_values(MolGANConfig, build_parser().parse_args(hand),
                                          tuples=("generator_hidden", "convolutions", "critic_hidden")))
    # The documented hand command, on QM9: the same run but for what a resumed run may change.
    changed = {f.name for f in dataclasses.fields(MolGANConfig) if getattr(parsed, f.name) != getattr(ours, f.name)}
    assert changed <= {"data_dir", "cache_dir", "eval_samples", "checkpoint_every", "figures", "out", "progress"}
    assert changed <= reproduce.RESUMABLE_CHANGES | {"progress", "figures"}

    extra = ["--data-dir", str(smiles), "--cache-dir", str(tmp_path / "cache"), "--eval-samples", "10",
             "--no-figures"]
    assert main(hand + extra) == 0
    capsys.readouterr()
    final = json.loads((folder / "final.json").read_text())
    written = (folder / "final.json").stat().st_mtime_ns
    for mode in ("--report", "--resume"):
        assert main(_reproduce(tmp_path, smiles, "--rows", "gumbel_softmax", "--seeds", "4", mode)) == 0
        assert _rows(capsys.readouterr().out)["ours: gumbel_softmax"][0] == f"{final['valid']:.1f}", mode
    assert (folder / "final.json").stat().st_mtime_ns == written, "read back, not trained again"
    # Another configuration in the row's folder: "other run" in the report, refused by --resume.
    assert main(hand[:-2] + extra + ["--tau", "0.5", "--out", str(folder.parent / "seed5")]) == 0
    capsys.readouterr()
    assert main(_reproduce(tmp_path, smiles, "--rows", "gumbel_softmax", "--seeds", "5", "--report")) == 0
    assert set(_rows(capsys.readouterr().out)["ours: gumbel_softmax"]) == {"other run"}
    assert main(_reproduce(tmp_path, smiles, "--rows", "gumbel_softmax", "--seeds", "5", "--resume")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tau: 0.5 -> 1.0" in err[0]


def test_default_rows_are_the_estimators_that_can_draw_the_graph(tmp_path, capsys):
    from gumbel_softmax import estimators

    usable = {n for n in estimators.names()
              if estimators.get(n).supports_categorical and not estimators.get(n).needs_baseline}
    rows_ = reproduce.default_rows()
    assert set(rows_) <= usable and rows_[-1] == "reinforce_ema"
    # every categorical pathwise estimator, also those registered after this command was written
    assert {n for n in usable if estimators.get(n).family == "pathwise"} <= set(rows_)
    for rows, says in (("nvil", "cannot draw MolGAN's graph"), ("arms", "cannot draw"),
                       ("unordered_set", "fewer joint configurations"), ("magic", "magic")):
        assert main(["reproduce", "molgan", "--rows", rows, "--out", str(tmp_path / "t")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and says in err[0], err
    assert not (tmp_path / "t").exists()
