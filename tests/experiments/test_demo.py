"""The demo's VAE section trains, prints the test bounds and saves its figures."""

from __future__ import annotations

import torch

from gumbel_softmax.experiments.demo import vae_digits_section
from gumbel_softmax.studies.demo import SECTIONS, DemoContext


def test_vae_digits_section(tmp_path, capsys):
    assert vae_digits_section in SECTIONS
    vae_digits_section(DemoContext(out=tmp_path, samples=5000, generator=torch.Generator().manual_seed(0)))
    printed = capsys.readouterr().out
    assert "100 steps" in printed and "negative ELBO" in printed
    for name in ("reconstructions.png", "curves.png", "metrics.csv", "final.json"):
        assert (tmp_path / "vae_digits" / name).stat().st_size > 0
