"""Running the CLI in a subprocess, as a user would, with a small digits configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Small and fast: the digits default with narrow layers; one thread keeps timings sane on a shared 2-core CPU.
SMALL = ["--hidden", "64,32", "--variables", "8", "--classes", "4", "--batch-size", "50", "--eval-samples", "20",
         "--eval-every", "0", "--log-every", "10", "--no-progress", "--no-figures"]


def env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "gumbel_softmax", *args]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), env=env(), capture_output=True, text=True, timeout=120, check=False)


def final(out: Path) -> dict:
    return json.loads((out / "final.json").read_text())
