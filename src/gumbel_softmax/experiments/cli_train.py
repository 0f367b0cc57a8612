"""`gumbel-softmax train vae` and `train sbn`: a configuration from the parsed options, one run, its metrics."""

from __future__ import annotations

import argparse
import json
import os
import sys

from gumbel_softmax.experiments.config import TrainConfig
from gumbel_softmax.experiments.distributed import teardown
from gumbel_softmax.experiments.options import config_values
from gumbel_softmax.experiments.train import train

__all__ = ["config_from_args", "run_vae", "run_sbn"]


def config_from_args(args: argparse.Namespace, model: str) -> TrainConfig:
    """A `TrainConfig` from parsed options (named as its fields); `hidden` as a tuple."""
    values = config_values(TrainConfig, args, tuples=("hidden",))
    values.pop("model", None)
    return TrainConfig(model=model, **values)


def _run(args: argparse.Namespace, model: str) -> int:
    try:
        final = train(config_from_args(args, model))
        teardown(finished=True)
    except (ValueError, FileNotFoundError) as error:  # bad options, missing data, a folder of another run
        print(f"gumbel-softmax train {model}: error: {error}", file=sys.stderr)
        return 2
    finally:
        teardown()
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(final, indent=2))
    return 0


def run_vae(args: argparse.Namespace) -> int:
    """Train the VAE from parsed options and print the final metrics; 2 on bad options, with one line."""
    return _run(args, "vae")


def run_sbn(args: argparse.Namespace) -> int:
    """Train the SBN from parsed options and print the final metrics; 2 on bad options, with one line."""
    return _run(args, "sbn")
