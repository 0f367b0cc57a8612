"""The demo section of the distributions: its table shows our log_prob finite everywhere, and it saves the figure."""

from __future__ import annotations

import torch

from gumbel_softmax.studies.demo import SECTIONS, DemoContext
from gumbel_softmax.studies.densities import density_section


def test_density_section_prints_the_table_and_saves_the_figure(tmp_path, capsys):
    assert density_section in SECTIONS
    density_section(DemoContext(out=tmp_path, samples=2000, generator=torch.Generator().manual_seed(0)))
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split("|")[1:-1] for line in lines if line.startswith("|") and "tau" not in line and ":" not in line]
    assert len(rows) == 12
    assert all(float(row[4]) == 1.0 and float(row[6]) == 1.0 for row in rows)  # ours: always finite
    assert any(float(row[3]) < 0.5 for row in rows)  # torch: not at low temperature
    assert (tmp_path / "concrete_density.png").stat().st_size > 10_000
