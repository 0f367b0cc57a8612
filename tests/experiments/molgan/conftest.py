"""MolGAN tests need RDKit (the `molecules` extra); those marked `qm9` also need the qm9pack wheel."""

from __future__ import annotations

import importlib.util

import pytest

HAVE_QM9 = importlib.util.find_spec("qm9pack") is not None
needs_qm9 = pytest.mark.skipif(not HAVE_QM9, reason="QM9 needs: pip install --no-deps qm9pack")
