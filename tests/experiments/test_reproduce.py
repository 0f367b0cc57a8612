"""`reproduce jang2017`: the reproduction table, its runs reused only when they are the same run, clear errors."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from gumbel_softmax.cli import main
from gumbel_softmax.experiments import options, reproduce, train
from gumbel_softmax.experiments.reproduce import PAPER


def test_reproduce_prints_ours_beside_the_paper(tmp_path, capsys):
    args = ["reproduce", "jang2017", "--models", "vae-cat,sbn-bern", "--rows", "Gumbel-S.,RELAX", "--seeds", "0,1",
            "--steps", "3", "--hidden", "8", "--eval-samples", "4", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for model in ("vae-cat", "sbn-bern"):
        assert f" {PAPER[model]['Gumbel-S.']:.1f} |" in printed
    assert "not comparable" in printed and "±" in printed
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == 2 * 2 * 2 and {r["estimator"] for r in results} == {"gumbel_softmax", "relax"}
    assert (tmp_path / "vae-cat" / "RELAX" / "seed1" / "final.json").exists()
    for model in ("vae-cat", "sbn-bern"):
        assert (tmp_path / f"curves_{model}.png").read_bytes().startswith(b"\x89PNG"), "one figure per model"

    # --report trains nothing: finished runs are read back, a row never run reads "not run".
    report = args[:5] + ["Gumbel-S.,RELAX,SF"] + args[6:] + ["--report"]
    assert main(report) == 0
    table = _table_rows(capsys.readouterr().out)
    assert _table_rows(printed) == [row for row in table if "(reinforce_ema)" not in row[1]], "read back"
    sf = [row for row in table if "(reinforce_ema)" in row[1]]
    assert [row.count("not run") for row in sf] == [2, 1], "vae-cat: -ELBO and bound; sbn-bern: bound"
    assert not (tmp_path / "vae-cat" / "SF").exists(), "--report must not train"

    # --export keeps what a report needs (no checkpoints); the table reads the same from the copy.
    kept = tmp_path.parent / f"{tmp_path.name}_kept"
    assert main(args + ["--report", "--export", str(kept)]) == 0
    assert "exported 8 finished run(s)" in capsys.readouterr().err
    run = kept / "sbn-bern" / "RELAX" / "seed1"
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "final.json", "metrics.csv"]
    assert main(args[:-3] + ["--out", str(kept), "--report"]) == 0
    assert _table_rows(capsys.readouterr().out) == _table_rows(printed)


def _table_rows(text: str) -> list[list[str]]:
    """The body rows of printed Markdown tables, as stripped cells."""
    return [[c.strip() for c in line.split("|")] for line in text.splitlines() if line.startswith("|") and "(" in line]


def test_reproduce_anneals_only_the_vae():
    # Jang et al. (2017) anneal tau in the VAE's annealed columns but fix tau = 1 for the SBN (Section 4.1).
    parser = argparse.ArgumentParser()
    options.add_reproduce(parser)
    args = parser.parse_args([])
    assert reproduce._config(args, "vae-cat", "Gumbel-S.", 0).anneal == args.anneal != "constant"
    assert reproduce._config(args, "vae-cat", "ST", 0).anneal == "constant"
    for row in ("Annealed ST", "Gumbel-S.", "ST Gumbel-S.", "Gumbel-Rao"):
        assert reproduce._config(args, "sbn-bern", row, 0).anneal == "constant"


def test_kl_warmup_rises_linearly_and_only_the_vae_takes_it(tmp_path, capsys):
    config = train.TrainConfig(kl_warmup=4)
    assert [train.kl_weight(config, step) for step in range(6)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert train.kl_weight(train.TrainConfig(), 0) == 1.0, "off by default"
    with pytest.raises(SystemExit) as exit_:  # the option is read once, for every command that takes it
        main(["train", "vae", "--kl-warmup", "-1", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "takes a number of steps >= 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="--kl-warmup takes a number of steps >= 0"):
        train.train(train.TrainConfig(kl_warmup=-1, out=str(tmp_path)))
    with pytest.raises(ValueError, match="only for the VAE"):
        train.train(train.TrainConfig(model="sbn", kl_warmup=10, out=str(tmp_path)))
    for bad in (["--kl-warmup", "-3"], ["--kl-warmup", "many"]):
        with pytest.raises(SystemExit):
            main(["reproduce", "jang2017", "--models", "vae-bern", *bad, "--out", str(tmp_path)])
        assert "takes a number of steps >= 0" in capsys.readouterr().err
    assert main(["reproduce", "jang2017", "--models", "sbn-bern", "--kl-warmup", "5", "--out", str(tmp_path)]) == 2
    assert "--kl-warmup applies to the VAE models only" in capsys.readouterr().err
    # A run saved before the option existed ran without warm-up: it is that run, and no other.
    saved = json.loads(json.dumps(dataclasses.asdict(train.TrainConfig())))
    del saved["kl_warmup"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    train.check_same_run(tmp_path, train.TrainConfig())
    with pytest.raises(ValueError, match="kl_warmup: 0 -> 10"):
        train.check_same_run(tmp_path, train.TrainConfig(kl_warmup=10))


def test_reproduce_reuses_only_runs_of_the_same_configuration(tmp_path, capsys):
    args = ["reproduce", "jang2017", "--models", "sbn-bern", "--rows", "Annealed ST", "--seeds", "0", "--steps", "2",
            "--eval-samples", "2", "--out", str(tmp_path), "--no-progress"]
    assert main(args) == 0
    assert "the ST run" in capsys.readouterr().out, "tau is fixed at 1 for the SBN: annealed ST is the ST run"
    assert sorted(p.name for p in (tmp_path / "sbn-bern").iterdir()) == ["ST"], "kept in the ST row's folder"
    both = args[:5] + ["ST,Annealed ST"] + args[6:]
    assert main(both + ["--report"]) == 0
    capsys.readouterr()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results[1]["same_run_as"] == "ST" and results[1]["test_nll_k2"] == results[0]["test_nll_k2"]

    # A folder holding a digits run is never reported, nor resumed, as an MNIST one.
    assert main(both + ["--dataset", "mnist", "--resume"]) == 2
    assert "was made with other options (dataset: 'digits' -> 'mnist')" in capsys.readouterr().err
    assert main(both + ["--dataset", "mnist", "--report"]) == 0
    assert capsys.readouterr().out.count("other run") == 2
    # The same run read back at another test bound counts as not finished; a missing seed shows as such.
    assert main(both + ["--eval-samples", "3", "--report"]) == 0
    assert capsys.readouterr().out.count("not run") == 2
    assert main(both + ["--seeds", "0,1", "--report"]) == 0
    assert capsys.readouterr().out.count("(1/2 seeds)") == 2


def test_reproduce_heading_says_whether_the_runs_follow_the_paper():
    paper = {"model": "vae-cat", "row": "ST", "seed": 0, "estimator": "straight_through", "dataset": "mnist",
             "steps": 50_000, "hidden": [512, 256], "eval_samples": 1000, "test_neg_elbo": 1.0, "test_nll_k1000": 1.0}
    assert "paper's data and length" in reproduce.format_results([paper])
    for change in ({"dataset": "digits"}, {"steps": 3000}, {"hidden": [256, 128]}, {"eval_samples": 10}):
        assert "not comparable" in reproduce.format_results([paper | change]), change
    assert "KL warm-up over 100 steps" in reproduce.format_results([paper | {"kl_warmup": 100}])
    assert "warm-up" not in reproduce.format_results([paper | {"kl_warmup": 0}])
    unfinished = {k: v for k, v in paper.items() if not k.startswith("test_")}
    assert "no finished run yet" in reproduce.format_results([unfinished])
