"""The configuration of `gumbel-softmax train ssl` (Jang et al. 2017, Section 4.3; see `experiments.ssl`).

Importing this module loads no model, data or training code, so the command line reads its defaults
when it builds the parser.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSLConfig", "NETS", "MARGINALIZE"]

NETS = ("mlp", "cnn")
MARGINALIZE = "marginalize"


@dataclass
class SSLConfig:
    """Everything a `train ssl` run depends on (its options)."""

    unlabeled: str = MARGINALIZE
    labels: int = 100
    alpha: float = 1.0
    classes: int = 10
    net: str = "auto"
    width: int = 256
    z_size: int = 32
    dataset: str = "digits"
    data_dir: str | None = None
    data_seed: int = 0
    tau: float = 1.0
    anneal: str = "exponential:every=2000"
    steps: int = 10_000
    batch_size: int = 100
    lr: float = 1e-3
    seed: int = 0
    device: str = "cpu"
    out: str = "runs/ssl"
    checkpoint_every: int = 1000
    log_every: int = 100
    eval_every: int = 1000
    eval_samples: int = 1
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    figures: bool = True

    def network(self) -> str:
        """`net`, with `"auto"` resolved: `"cnn"` on MNIST (the paper's networks), `"mlp"` on digits."""
        return ("cnn" if self.dataset == "mnist" else "mlp") if self.net == "auto" else self.net
