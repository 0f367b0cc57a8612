"""The training loops' progress bar: tqdm's from a resumed step, or a silent one that needs no tqdm."""

from __future__ import annotations

import sys

import pytest

from gumbel_softmax.experiments.progress import SilentBar, progress_bar


def test_a_disabled_bar_needs_no_tqdm(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # importing tqdm would fail
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    bar = progress_bar(False, 10, 3, "x")
    assert isinstance(bar, SilentBar)
    bar.set_postfix(loss="1.0")
    bar.update(1)
    bar.close()


def test_an_enabled_bar_counts_from_the_resumed_step():
    pytest.importorskip("tqdm")
    bar = progress_bar(True, 10, 3, "vae gumbel_softmax")
    try:
        assert (bar.total, bar.n, bar.desc) == (10, 3, "vae gumbel_softmax")
        bar.update(1)
        assert bar.n == 4
    finally:
        bar.close()
