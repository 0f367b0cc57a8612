"""The options of a MolGAN run and their checks; importing this module loads no torch, model or data code.

Defaults are the paper's settings as summarized in the project's notes (z 32, generator 128-256-512,
R-GCN 64-32, aggregation 128, MLP 128, WGAN-GP penalty 10, 5 critic steps per generator step, Adam 1e-3,
batch 32). The authors' `example.py` says that it is not the paper's experiment, and uses z 8, batch 128
and larger critic layers; we follow the paper's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MolGANConfig", "REWARDS", "RESUMABLE_CHANGES", "check_molgan_config"]

# Reward choices: one normalized property, or the product of all three (MolGAN's `all` minus uniqueness).
REWARDS = {"qed": ("qed",), "logp": ("logp",), "sa": ("sa",), "all": ("qed", "logp", "sa"),
           "validity": ("validity",)}

# Options that may change when a run is resumed; any other difference is refused.
RESUMABLE_CHANGES = frozenset({"steps", "resume", "overwrite", "progress", "figures", "eval_every", "eval_samples",
                     "log_every", "checkpoint_every", "device", "out", "data_dir", "cache_dir"})


@dataclass
class MolGANConfig:
    """Everything a MolGAN run depends on (the options of `gumbel-softmax train molgan`)."""

    estimator: str = "st_gumbel_softmax"
    tau: float = 1.0
    anneal: str = "constant"
    z_dim: int = 32
    generator_hidden: tuple[int, ...] = (128, 256, 512)
    convolutions: tuple[int, ...] = (64, 32)
    aggregate: int = 128
    critic_hidden: tuple[int, ...] = (128,)
    steps: int = 5000
    batch_size: int = 32
    lr: float = 1e-3
    critic_steps: int = 5
    penalty: float = 10.0
    wgan_weight: float = 1.0
    reward: str = "all"
    rl_start: float = 0.5
    data_dir: str | None = None
    cache_dir: str | None = None
    limit: int | None = None
    kekulize: bool = True
    data_seed: int = 0
    seed: int = 0
    device: str = "cpu"
    out: str = "runs/molgan"
    checkpoint_every: int = 500
    log_every: int = 50
    eval_every: int = 1000
    eval_samples: int = 5000
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    figures: bool = True


def check_molgan_config(config: MolGANConfig) -> None:
    """Refuse (`ValueError`, naming the option) a configuration no run can have."""
    if config.steps < 1 or config.batch_size < 1 or config.critic_steps < 1 or config.eval_samples < 1:
        raise ValueError("--steps, --batch-size, --critic-steps and --eval-samples must be >= 1")
    if not config.lr > 0 or config.penalty < 0 or config.z_dim < 1:
        raise ValueError("--lr must be > 0, --penalty >= 0 and --z-dim >= 1")
    if not 0 <= config.wgan_weight <= 1 or not 0 <= config.rl_start <= 1:
        raise ValueError("--wgan-weight (lambda) and --rl-start must be in [0, 1]")
    if config.reward not in REWARDS:
        raise ValueError(f"--reward must be one of {', '.join(REWARDS)}, got {config.reward!r}")
    if min(config.log_every, config.checkpoint_every, config.eval_every) < 0 or config.log_every == 0:
        raise ValueError("--log-every must be >= 1; --checkpoint-every and --eval-every >= 0 (0: none)")
    if config.resume and config.overwrite:
        raise ValueError("--resume continues the run in --out and --overwrite replaces it: give one of them")
