"""A training run's checkpoint: what it holds (`RunState`) and how it is written, atomically.

Files are written to a temporary file in the same folder, then `os.replace`d into place.

`os.replace` is atomic on POSIX and Windows when source and target are on the
same file system, so a reader (or a run resumed after `SIGKILL`) sees either
the previous complete checkpoint or the new complete one, never a torn file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gumbel_softmax.experiments.data import BatchOrder
from gumbel_softmax.experiments.distributed import World, gather_objects
from gumbel_softmax.experiments.metrics import MetricsLog, write_atomic

__all__ = ["RunState", "save_atomic", "load", "rng_state", "set_rng_state", "CHECKPOINT"]

CHECKPOINT = "checkpoint.pt"


def save_atomic(state: Any, path: Path) -> Path:
    """`torch.save(state)` to `path` atomically (`write_atomic`: temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, lambda handle: torch.save(state, handle))


def load(path: Path, device: torch.device | str = "cpu", keys: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Read a checkpoint written by `save_atomic` (our own files: full unpickling) that holds `keys`.

    Raises:
        FileNotFoundError: there is no such file.
        ValueError: the file cannot be read or is not such a checkpoint; the message names it and what to do.
    """
    try:
        state = torch.load(Path(path), map_location=device, weights_only=False)
    except FileNotFoundError:
        raise
    except Exception:  # torch.load raises many kinds (EOFError, RuntimeError, UnpicklingError, ...)
        state = None
    if not isinstance(state, dict) or not keys <= state.keys():
        raise ValueError(f"{path} cannot be read (truncated or not a checkpoint of this program): "
                         "start again with --overwrite, or restore it")
    return state


def rng_state(generator: torch.Generator) -> dict[str, Any]:
    """The training generator's state and torch's global CPU (and CUDA) states."""
    state = {"generator": generator.get_state(), "device": generator.device.type, "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(generator: torch.Generator, state: dict[str, Any]) -> None:
    """Restore what `rng_state` saved; refuse a generator of another device type (its state differs)."""
    saved = state.get("device", generator.device.type)
    if saved != generator.device.type:
        raise ValueError(f"this checkpoint was trained on {saved!r} and its random state cannot be restored on "
                         f"{generator.device.type!r}; resume with --device {saved}, or start a fresh run")
    generator.set_state(state["generator"].cpu())
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


@dataclass
class RunState:
    """What a checkpoint holds, and how to write and restore it.

    `experiment` is the run's `Experiment`: its model, baselines
    and estimators.
    """

    experiment: Any
    optimizer: torch.optim.Optimizer
    schedule: Any
    order: BatchOrder
    generator: torch.Generator
    world: World

    def save(self, out: Path, step: int, running: list[float]) -> None:
        """Checkpoint after `step` steps (a collective call: each rank's RNG and estimator state are kept)."""
        mine = {"rng": rng_state(self.generator), "estimators": self.experiment.estimator_state()}
        per_rank = gather_objects(mine, self.world)
        if not self.world.is_main:
            return
        state = {
            "step": step,
            "running_losses": list(running),
            "model": self.experiment.model.state_dict(),
            "baselines": self.experiment.baselines.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "per_rank": per_rank,
            "data_order": self.order.state_dict(),
        }
        save_atomic(state, out / CHECKPOINT)

    def restore(self, out: Path, device: torch.device) -> tuple[int, list[float]]:
        """Load `out/checkpoint.pt`; return the step and the losses logged since the last log line.

        Raises:
            ValueError: the file cannot be read, is not a checkpoint of this program, or is one of another
                configuration; the message names the file and what to do.
        """
        path = Path(out) / CHECKPOINT
        state = load(path, device, _KEYS)
        if not isinstance(state["per_rank"], list):
            raise ValueError(f"{path} cannot be read (truncated or not a checkpoint of this program): "
                             "start again with --overwrite, or restore it")
        if len(state["per_rank"]) != self.world.size:
            raise ValueError(f"the checkpoint in {out} was written by {len(state['per_rank'])} process(es); "
                             f"resume it with the same number, not {self.world.size}")
        try:
            self.order.check_state_dict(state["data_order"])
            self.experiment.model.load_state_dict(state["model"])
            self.experiment.baselines.load_state_dict(state["baselines"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.schedule.load_state_dict(state["schedule"])
            mine = state["per_rank"][self.world.rank]
            self.experiment.load_estimator_state(mine["estimators"])
        except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ValueError(f"{path} holds a run of another configuration ({reason[:200]}): resume it with the "
                             "options it was made with, start again with --overwrite, or restore it") from None
        set_rng_state(self.generator, mine["rng"])
        return int(state["step"]), list(state["running_losses"])


# What every checkpoint of `RunState.save` holds.
_KEYS = frozenset({"step", "running_losses", "model", "baselines", "optimizer", "schedule", "per_rank", "data_order"})


def check_resume_step(out: Path, start: int, steps: int) -> None:
    """Refuse to resume a checkpoint at `start` into a run of only `steps` steps."""
    if start > steps:
        raise ValueError(f"the checkpoint in {out} is at step {start}, past --steps {steps}; "
                         f"resume with --steps {start} or more")


def start_fresh(out: Path, log: MetricsLog, record: dict[str, Any], command: str, resume: bool,
                figures: Sequence[str] = ()) -> None:
    """Begin a run in `out` from step 0 and write its `config.json` (`record`) atomically.

    The caller has refused a folder that holds another run unless `--overwrite` asked to replace it
    (`config.check_out`). What is removed here is the run's own output: its log, checkpoint and final
    scores, and the figures it writes (`figures`: names or glob patterns relative to `out`, such as
    `"molecules/step*.png"`), so that an old run's figure never sits beside a new run's records. Nothing
    else in `out` is touched.
    """
    if resume:
        print(f"{command}: --resume found no checkpoint in {out}; starting a fresh run", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    for stale in (log.jsonl, log.csv, out / CHECKPOINT, out / "final.json"):
        stale.unlink(missing_ok=True)
    for pattern in figures:
        for stale in out.glob(pattern):
            if stale.is_file():
                stale.unlink()
    write_atomic(out / "config.json", json.dumps(record, indent=2) + "\n")
