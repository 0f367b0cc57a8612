"""Atomic checkpoints: write to a temporary file in the same folder, then ``os.replace`` it into place.

``os.replace`` is atomic on POSIX and Windows when source and target are on the
same file system, so a reader (or a run resumed after ``SIGKILL``) sees either
the previous complete checkpoint or the new complete one, never a torn file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

__all__ = ["save_atomic", "load", "rng_state", "set_rng_state", "CHECKPOINT"]

CHECKPOINT = "checkpoint.pt"


def save_atomic(state: Any, path: Path) -> Path:
    """``torch.save(state)`` to ``path`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_atomic` (our own files: full unpickling)."""
    return torch.load(Path(path), map_location=device, weights_only=False)


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """The training generator's state and torch's global CPU (and CUDA) states."""
    state = {"generator": generator.get_state(), "device": generator.device.type, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(generator: torch.Generator, state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved; refuse a generator of another device type (its state differs)."""
    saved = state.get("device", generator.device.type)
    if saved != generator.device.type:
        raise ValueError(f"this checkpoint was trained on {saved!r} and its random state cannot be restored on "
                         f"{generator.device.type!r}; resume with --device {saved}, or start a fresh run")
    generator.set_state(state["generator"].cpu())
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
