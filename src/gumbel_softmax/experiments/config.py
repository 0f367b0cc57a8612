"""A training run's configuration and its checks: the options, the folder's run, what may change on resume.

Importing this module loads no model or data code, so the command line reads its defaults when it
builds the parser.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gumbel_softmax import anneal
from gumbel_softmax.backend import BACKENDS

if TYPE_CHECKING:
    from gumbel_softmax.experiments.models import Latent

__all__ = ["TrainConfig", "RUN_FILES", "RESUMABLE_CHANGES", "MAX_SIZE", "check_config", "check_out", "check_writable",
           "check_same_run", "learning_rate", "kl_weight"]

# The largest layer size, number of latent variables, classes or evaluation samples a configuration takes.
MAX_SIZE = 100_000

# What a run writes in its folder: a fresh run over any of them must be asked for (--overwrite).
RUN_FILES = ("config.json", "metrics.jsonl", "metrics.csv", "checkpoint.pt", "final.json")


@dataclass
class TrainConfig:
    """Everything a run depends on (the options of `gumbel-softmax train`)."""

    model: str = "vae"
    estimator: str = "gumbel_softmax"
    latent: str = "categorical"
    variables: int | None = None
    classes: int = 10
    hidden: tuple[int, ...] = (512, 256)
    layers: int = 2
    dataset: str = "digits"
    data_dir: str | None = None
    binarization: str = "fixed"
    data_seed: int = 0
    tau: float = 1.0
    anneal: str = "exponential"
    steps: int = 50_000
    batch_size: int = 100
    lr: float = 1e-3
    lr_decay: float = 1.0
    lr_decay_every: int = 1000
    kl_warmup: int = 0
    seed: int = 0
    device: str = "cpu"
    backend: str = "auto"
    out: str = "runs/train"
    checkpoint_every: int = 1000
    log_every: int = 100
    eval_every: int = 5000
    eval_samples: int = 1000
    eval_samples_during: int = 10
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    figures: bool = True
    estimator_options: dict[str, Any] = field(default_factory=dict)

    def latent_layer(self) -> Latent:
        """The latent layer: 20 categorical variables or 200 Bernoulli units unless `variables` says otherwise."""
        from gumbel_softmax.experiments.models import Latent

        default = 200 if self.latent == "bernoulli" else 20
        return Latent(self.latent, self.variables or default, self.classes)


def learning_rate(config: TrainConfig, step: int) -> float:
    """`lr * lr_decay ** (step // lr_decay_every)`: the authors' notebook multiplies it by 0.9 every 1000 steps."""
    return config.lr * config.lr_decay ** (step // config.lr_decay_every)


def kl_weight(config: TrainConfig, step: int) -> float:
    """The KL term's weight at `step`: `min(1, step / kl_warmup)`, a linear warm-up (1 throughout without)."""
    return min(1.0, step / config.kl_warmup) if config.kl_warmup else 1.0


# Whole-number options: (least, largest, what to pass); the command line's argparse types say the same.
_STEPS_OR_NONE = (0, None, "a number of steps >= 0 (0: none)")
_SEED = (0, 2**32 - 1, "a seed from 0 to 4294967295")
_WHOLE: dict[str, tuple[int, int | None, str]] = {
    **dict.fromkeys(("steps", "batch_size", "log_every", "lr_decay_every", "layers"), (1, None, "a whole number >= 1")),
    **dict.fromkeys(("eval_samples", "eval_samples_during"), (1, MAX_SIZE, f"a whole number from 1 to {MAX_SIZE}")),
    "classes": (2, MAX_SIZE, f"a whole number from 2 to {MAX_SIZE}"),
    **dict.fromkeys(("checkpoint_every", "eval_every", "kl_warmup"), _STEPS_OR_NONE),
    **dict.fromkeys(("seed", "data_seed"), _SEED),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _whole(name: str, value: Any, least: int, largest: int | None, wanted: str) -> None:
    if (isinstance(value, bool) or not isinstance(value, int) or value < least
            or (largest is not None and value > largest)):
        raise ValueError(f"{_flag(name)} takes {wanted}, got {value!r}")


def _finite_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{_flag(name)} takes a finite number > 0, got {value!r}")


def check_config(config: TrainConfig) -> anneal.Schedule:
    """Refuse (`ValueError`, naming the option) a configuration no run can have; return its schedule."""
    if config.backend not in BACKENDS:
        raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}, got {config.backend!r}")
    for name, choices in (("model", ("vae", "sbn")), ("latent", ("categorical", "bernoulli")),
                          ("binarization", ("fixed", "dynamic"))):
        if getattr(config, name) not in choices:
            raise ValueError(f"{_flag(name)} must be one of {', '.join(choices)}, got {getattr(config, name)!r}")
    if config.kl_warmup and config.model != "vae":
        raise ValueError("--kl-warmup takes a number of steps >= 0 (0: none), and only for the VAE (the SBN has no KL)")
    for name, (least, largest, wanted) in _WHOLE.items():
        _whole(name, getattr(config, name), least, largest, wanted)
    if config.variables is not None:
        _whole("variables", config.variables, 1, MAX_SIZE, f"a whole number from 1 to {MAX_SIZE} (or None)")
    if not isinstance(config.hidden, tuple):
        raise ValueError(f"hidden takes a tuple of layer sizes, got {config.hidden!r}")
    for size in config.hidden:
        _whole("hidden", size, 1, MAX_SIZE, f"layer sizes from 1 to {MAX_SIZE}")
    for name in ("lr", "tau", "lr_decay"):
        _finite_positive(name, getattr(config, name))
    if config.lr_decay > 1:
        raise ValueError(f"--lr-decay must be in (0, 1] (1: none), got {config.lr_decay!r}")
    if not str(config.out).strip():
        raise ValueError(f"--out takes a folder name, got {config.out!r}")
    if config.data_dir is not None and config.dataset != "mnist":
        raise ValueError(f"--data-dir is read for --dataset mnist only, not {config.dataset!r}: drop it, or add "
                         "--dataset mnist")
    if config.resume and config.overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: give one of them")
    try:
        return anneal.parse(config.anneal, config.tau, config.steps)
    except ValueError as error:
        raise ValueError(f"--anneal: {error}") from None


def check_out(config: Any, resumable_changes: frozenset[str] | None = None) -> None:
    """Refuse (`ValueError`) to start a fresh run over the files of another one in `config.out`.

    A fresh run starts when `resume` is off, or on with no checkpoint to continue from. It would replace
    the folder's run files, so it must be asked for with `overwrite`; nothing is touched otherwise. The one
    exception is `resume` on an unfinished run of this same configuration that was stopped before its first
    checkpoint: starting it again rewrites what it had written with the same values.

    `config` is any run configuration with `out`, `resume` and `overwrite` fields (`TrainConfig`, or the
    configurations of `train ssl` and `train molgan`); `resumable_changes` as in `check_same_run`.
    """
    out = Path(config.out)
    check_writable(out)
    resumable = (out / "checkpoint.pt").exists()
    if config.overwrite or (config.resume and resumable):
        return
    if config.resume and (out / "config.json").exists() and not (out / "final.json").exists():
        check_same_run(out, config, resumable_changes)  # killed before its first checkpoint: starts again
        return
    found = [name for name in RUN_FILES if (out / name).exists()]
    if found:
        ways = "continue it with --resume, write to a new --out," if resumable else "write to a new --out"
        raise ValueError(f"{out} already holds a run ({', '.join(found)}); {ways} or replace it with --overwrite")


def check_writable(out: Path, option: str = "--out") -> None:
    """Refuse (`ValueError`, naming `option`) an output folder that is a file, lies under one, or cannot be
    written; a folder not made yet is checked at its nearest existing parent."""
    out = Path(out)
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"{option} {out}: {existing} is a file, not a folder; name a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {out}: {existing} cannot be written (read-only); name a folder you can write in")


# Options that may change between a run and its resumption; any other difference is refused. ``device`` may
# be spelled differently ("cuda" -> "cuda:0"), but a different device type is refused when the RNG is restored.
RESUMABLE_CHANGES = frozenset({"steps", "resume", "overwrite", "progress", "figures", "eval_samples", "eval_every",
                      "eval_samples_during", "log_every", "checkpoint_every", "device", "out", "data_dir"})

# Options added after runs were saved, with the value those runs ran at: a config.json without one is that run.
_ADDED_LATER = {"kl_warmup": 0}


def check_same_run(out: Path, config: Any, resumable_changes: frozenset[str] | None = None) -> None:
    """Refuse (`ValueError`) when the run saved in `out` differs from `config` in more than length,
    evaluation, logging or device options.

    `config` is a run configuration (a dataclass); `resumable_changes` names the fields a resumed run may
    change (default: those of `TrainConfig`)."""
    allowed = RESUMABLE_CHANGES if resumable_changes is None else resumable_changes
    path = Path(out) / "config.json"
    try:
        saved = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        saved = None
    if not isinstance(saved, dict):
        raise ValueError(f"{path} is not a run's configuration (the file is corrupt): restore it, or start again "
                         "with --overwrite")
    saved = _ADDED_LATER | saved
    now = json.loads(json.dumps(asdict(config)))
    changed = sorted(k for k in saved.keys() & now.keys() if k not in allowed and saved[k] != now[k])
    if changed:
        details = ", ".join(f"{k}: {saved[k]!r} -> {now[k]!r}" for k in changed)
        raise ValueError(f"the run saved in {out} was made with other options ({details}); resume it with its "
                         "own options, or start a fresh run in another --out folder")
