"""Each training option is defined once: `train vae`, `train sbn` and `reproduce jang2017` read it the same way."""

from __future__ import annotations

import argparse
from dataclasses import replace

from gumbel_softmax.experiments import options
from gumbel_softmax.experiments.cli_train import config_from_args
from gumbel_softmax.experiments.config import TrainConfig
from gumbel_softmax.experiments.data import DATASETS


def _parser(add) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add(parser)
    return parser


def _actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.option_strings[0]: a for a in parser._actions if a.option_strings and a.dest != "help"}


def test_defaults_are_the_configuration_defaults():
    vae = config_from_args(_parser(options.add_train_vae).parse_args([]), "vae")
    assert vae == replace(TrainConfig(), out="runs/vae")
    sbn = config_from_args(_parser(options.add_train_sbn).parse_args([]), "sbn")
    assert sbn == replace(TrainConfig(), model="sbn", out="runs/sbn", latent="bernoulli", anneal="constant")


def test_shared_options_are_the_same_definition():
    train, reproduce = _actions(_parser(options.add_train_vae)), _actions(_parser(options.add_reproduce))
    shared = train.keys() & reproduce.keys()
    assert {"--hidden", "--steps", "--kl-warmup", "--dataset", "--backend", "--eval-samples"} <= shared
    changed = {"--anneal", "--out", "--resume", "--overwrite", "--checkpoint-every"}  # wording or default, on purpose
    for flag in shared - changed:
        a, b = train[flag], reproduce[flag]
        assert (a.help, a.type, a.default, a.choices) == (b.help, b.type, b.default, b.choices), flag
    for flag in shared:
        assert train[flag].type is reproduce[flag].type, flag
    assert set(train) <= set(options.OPTIONS) and options.OPTIONS["--dataset"]["choices"] == list(DATASETS)


def test_every_option_is_a_configuration_field():
    fields = set(TrainConfig.__dataclass_fields__)
    for flag, settings in options.OPTIONS.items():
        assert settings.get("dest", flag[2:].replace("-", "_")) in fields, flag
