"""Checkpoints: a run killed with SIGKILL and resumed ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import replace

import pytest
import torch

from gumbel_softmax.experiments import checkpoint
from gumbel_softmax.experiments.checkpoint import CHECKPOINT
from gumbel_softmax.experiments.metrics import write_atomic
from gumbel_softmax.experiments.train import TrainConfig, train

from .helpers import SMALL, cli, env, final, run_cli

STEPS, EVERY = 400, 20


def _checkpoint_step(path) -> int:
    try:
        return int(checkpoint.load(path)["step"])
    except (FileNotFoundError, ValueError):  # not written yet, or (never: writes are atomic) torn
        return -1


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    args = ["train", "vae", *SMALL, "--steps", str(STEPS), "--checkpoint-every", str(EVERY), "--seed", "3"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    done = run_cli(*args, "--out", str(whole))
    assert done.returncode == 0, done.stderr

    process = subprocess.Popen(cli(*args, "--out", str(killed)), env=env(), stderr=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while _checkpoint_step(killed / CHECKPOINT) < EVERY and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    at = _checkpoint_step(killed / CHECKPOINT)
    assert EVERY <= at < STEPS, "the run must have been killed after a checkpoint and before the end"
    assert not (killed / "final.json").exists()

    resumed = run_cli(*args, "--out", str(killed), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = final(whole), final(killed)
    for key in ("test_neg_elbo", "test_nll_k20"):
        assert a[key] == b[key], (key, a[key], b[key])
    # The log reads as one run: the same training records, each step once.
    records = lambda out: [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert records(whole) == records(killed)
    state = checkpoint.load(killed / CHECKPOINT)
    assert state["step"] == STEPS
    assert {"model", "optimizer", "schedule", "per_rank", "data_order", "step"} <= set(state)
    assert {"rng", "estimators"} <= set(state["per_rank"][0])


def test_resume_refuses_changed_options(tmp_path):
    config = TrainConfig(hidden=(16,), variables=4, classes=3, steps=4, checkpoint_every=2, eval_every=0,
                         eval_samples=2, progress=False, figures=False, out=str(tmp_path))
    train(config)
    with pytest.raises(ValueError, match=r"lr: 0\.001 -> 0\.01"):
        train(replace(config, resume=True, lr=0.01))
    with pytest.raises(ValueError, match="at step 4, past --steps 3; resume with --steps 4 or more"):
        train(replace(config, resume=True, steps=3))


def test_resume_without_a_checkpoint_says_it_starts_afresh(tmp_path, capsys):
    config = TrainConfig(hidden=(16,), variables=4, classes=3, steps=2, checkpoint_every=0, eval_every=0,
                         eval_samples=2, progress=False, figures=False, out=str(tmp_path), resume=True)
    train(config)
    assert f"--resume found no checkpoint in {tmp_path}; starting a fresh run" in capsys.readouterr().err


def test_unusable_devices_are_refused_with_what_to_pass(tmp_path):
    config = TrainConfig(hidden=(16,), variables=4, classes=3, steps=1, eval_samples=2, progress=False,
                         figures=False, out=str(tmp_path))
    with pytest.raises(ValueError, match=r"--device 'auto' is not a device .* use cpu, cuda or cuda:N"):
        train(replace(config, device="auto"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="sees no CUDA device; use --device cpu"):
            train(replace(config, device="cuda"))


def test_save_atomic_keeps_previous_checkpoint_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / CHECKPOINT
    checkpoint.save_atomic({"step": 1}, path)

    def torn_save(obj, handle):
        handle.write(b"partial bytes of a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_save)
    try:
        checkpoint.save_atomic({"step": 2}, path)
    except OSError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the failing save must raise")
    monkeypatch.undo()
    assert checkpoint.load(path) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]


def test_resume_in_process_with_state_dynamic_data_and_a_split_log_window(tmp_path):
    # RELAX's network and Adam state, dynamic binarization's noise, the decayed learning rate, a KL warm-up
    # and a log window (7) that straddle the stop at step 10 must all be restored for the resumed run to
    # equal the uninterrupted one.
    config = TrainConfig(estimator="relax", binarization="dynamic", hidden=(16,), variables=4, classes=3,
                         batch_size=20, steps=30, log_every=7, checkpoint_every=5, eval_every=0, eval_samples=4,
                         progress=False, figures=False, seed=5, lr_decay=0.5, lr_decay_every=4, kl_warmup=16)
    whole = train(replace(config, out=str(tmp_path / "whole")))
    without = train(replace(config, kl_warmup=0, out=str(tmp_path / "without")))
    assert without["test_neg_elbo"] != whole["test_neg_elbo"], "the training loop applies the warm-up"
    train(replace(config, steps=10, out=str(tmp_path / "split")))
    resumed = train(replace(config, resume=True, out=str(tmp_path / "split")))
    for key in ("test_neg_elbo", "test_nll_k4"):
        assert whole[key] == resumed[key], (key, whole[key], resumed[key])
    records = lambda out: [json.loads(line) for line in (tmp_path / out / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    # The 10-step run logged its end (step 10) and kept that partial window, so the window ending at 14
    # still covers steps 8-14; otherwise the logs agree.
    split = [r for r in records("split") if r["kind"] == "train"]
    assert [r["step"] for r in split] == [7, 10, 14, 21, 28, 30]
    assert [r for r in records("whole") if r["kind"] == "train"] == [r for r in split if r["step"] != 10]


def test_a_run_killed_after_its_test_record_logs_it_once_when_resumed(tmp_path):
    # Killed after the last checkpoint and the final test record (writing final.json or the figures), the
    # run resumes at its last step and evaluates again: the log must still read as one run.
    config = TrainConfig(hidden=(16,), variables=4, classes=3, steps=4, checkpoint_every=2, eval_every=0,
                         eval_samples=2, progress=False, figures=False, out=str(tmp_path / "killed"))
    whole = train(replace(config, out=str(tmp_path / "whole")))
    train(config)
    (tmp_path / "killed" / "final.json").unlink()
    resumed = train(replace(config, resume=True))
    assert resumed["test_neg_elbo"] == whole["test_neg_elbo"]
    records = lambda out: (tmp_path / out / "metrics.jsonl").read_text().splitlines()  # noqa: E731
    assert records("killed") == records("whole")
    assert sum('"test"' in line for line in records("killed")) == 1


def test_stale_temporary_files_are_removed_and_nothing_else(tmp_path):
    config = TrainConfig(hidden=(16,), variables=4, classes=3, steps=4, checkpoint_every=2, eval_every=0,
                         eval_samples=2, progress=False, figures=False, out=str(tmp_path))
    train(replace(config, steps=2))
    stale = [tmp_path / ".checkpoint.pt.123.tmp", tmp_path / ".metrics.csv.45.tmp", tmp_path / ".final.json.6.tmp"]
    kept = [tmp_path / ".checkpoint.pt.tmp", tmp_path / ".checkpoint.pt.12a.tmp", tmp_path / "notes.txt",
            tmp_path / ".other.pt.123.tmp", tmp_path / "checkpoint.pt.123.tmp"]
    for path in stale + kept:
        path.write_bytes(b"x" * 100)
    train(replace(config, resume=True))
    assert not any(path.exists() for path in stale)
    assert all(path.read_bytes() == b"x" * 100 for path in kept)
    for path in stale:
        path.write_bytes(b"x")
    train(replace(config, overwrite=True))  # a fresh run over the folder removes them too
    assert not any(path.exists() for path in stale) and all(path.exists() for path in kept)


def test_a_failing_write_leaves_no_temporary_file(tmp_path):
    def failing(handle):
        handle.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(tmp_path / "final.json", failing)
    assert list(tmp_path.iterdir()) == []


def test_resume_of_a_run_stopped_before_its_first_checkpoint_starts_it_again(tmp_path, capsys):
    config = TrainConfig(hidden=(16,), variables=4, classes=3, steps=4, checkpoint_every=2, eval_every=0,
                         eval_samples=2, progress=False, figures=False, out=str(tmp_path / "run"))
    whole = train(replace(config, out=str(tmp_path / "whole")))
    train(config)
    for name in ("checkpoint.pt", "final.json", "metrics.csv"):  # what a kill before the first checkpoint leaves
        (tmp_path / "run" / name).unlink()
    assert train(replace(config, resume=True))["test_neg_elbo"] == whole["test_neg_elbo"]
    assert "starting a fresh run" in capsys.readouterr().err
    (tmp_path / "run" / "checkpoint.pt").unlink()
    (tmp_path / "run" / "final.json").unlink()
    with pytest.raises(ValueError, match=r"other options \(seed: 0 -> 1\)"):  # another run's folder: refused
        train(replace(config, resume=True, seed=1))
