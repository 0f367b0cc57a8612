"""Random states in checkpoints: restored exactly, and refused on another device type."""

from __future__ import annotations

import pytest
import torch

from gumbel_softmax.experiments import checkpoint as ckpt


def test_rng_state_round_trip():
    generator = torch.Generator().manual_seed(3)
    state = ckpt.rng_state(generator)
    first = torch.rand(5, generator=generator)
    ckpt.set_rng_state(generator, state)
    assert torch.equal(torch.rand(5, generator=generator), first)


def test_rng_state_of_another_device_is_refused():
    state = ckpt.rng_state(torch.Generator().manual_seed(3)) | {"device": "cuda"}
    with pytest.raises(ValueError, match="resume with --device cuda"):
        ckpt.set_rng_state(torch.Generator(), state)


def test_start_fresh_removes_the_runs_own_files_and_figures_only(tmp_path):
    from gumbel_softmax.experiments.metrics import MetricsLog
    from gumbel_softmax.experiments.molgan.figures import MOLGAN_FIGURES

    (tmp_path / "molecules").mkdir()
    own = ["metrics.jsonl", "metrics.csv", "checkpoint.pt", "final.json", "curves.png",
           "molecules/step0000100.png", "molecules/step0000200.png"]
    kept = ["notes.txt", "molecules/favourite.png", "curves_old.png"]
    for name in own + kept:
        (tmp_path / name).write_text("x")
    ckpt.start_fresh(tmp_path, MetricsLog(tmp_path), {"seed": 1}, "test", resume=False, figures=MOLGAN_FIGURES)
    assert [name for name in own if (tmp_path / name).exists()] == []
    assert all((tmp_path / name).exists() for name in kept)
    assert (tmp_path / "config.json").read_text().strip().startswith("{")
