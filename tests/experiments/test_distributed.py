"""Data parallelism: torchrun with 2 CPU processes on gloo (the loss goes down, ranks agree, rank 0 alone writes)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from gumbel_softmax.experiments.distributed import World

from .helpers import SMALL, env


def test_torchrun_two_processes_gloo(tmp_path):
    out = tmp_path / "ddp"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "gumbel_softmax", "train", "vae", *SMALL, "--steps", "150", "--checkpoint-every", "50",
               "--lr", "3e-3", "--out", str(out)]
    done = subprocess.run(command, env=env(), capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    final = json.loads((out / "final.json").read_text())
    assert final["rank_disagreement"] == 0.0
    config = json.loads((out / "config.json").read_text())
    assert config["world_size"] == 2
    train = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in train if r["kind"] == "train"]
    # One record per logged step: a second writer would duplicate them.
    assert [r["step"] for r in train] == list(range(10, 151, 10))
    # A 5-nat drop is far beyond the minibatch noise of these 100-image means (their spread is under 1 nat here).
    assert train[-1]["loss"] < train[0]["loss"] - 5
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.pt", "config.json", "final.json", "metrics.csv", "metrics.jsonl"]
    assert done.stdout.count('"test_neg_elbo"') == 1, "only rank 0 prints the final metrics"


def test_ranks_shards_are_disjoint_and_cover_the_batch():
    batch = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    shards = [World(rank, 3).shard(batch) for rank in range(3)]
    indices = torch.cat(shards)
    assert len(set(indices.tolist())) == len(indices) == len(batch), "disjoint"
    assert sorted(indices.tolist()) == sorted(batch.tolist()), "together the global batch"
    assert {len(s) for s in shards} == {4}
    with pytest.raises(ValueError, match="not divisible by the 5 processes"):
        World(0, 5).shard(batch)
