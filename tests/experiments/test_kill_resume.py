"""Kill anywhere, resume, and end bit-identical: runs killed with SIGKILL at random moments (many inside a
checkpoint or metrics write, which a test-only hook slows down) and resumed end with the same metrics, record
for record, as an uninterrupted run, and leave no temporary file behind.

The default suite kills a few times; `pytest -m slow` kills 50 times (docs/results/kill-resume/index.md).
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gumbel_softmax.experiments.metrics import SLOW_WRITE

from .helpers import SMALL, cli, env

STEPS = 40
ARGS = ["train", "vae", *SMALL, "--steps", str(STEPS), "--checkpoint-every", "4", "--log-every", "3",
        "--eval-every", "10", "--eval-samples-during", "3", "--seed", "11"]
WRITE_SECONDS = 0.05  # the hook's sleep between writing a temporary file and renaming it into place


def _slow() -> dict[str, str]:
    """The subprocess environment with the test-only hook on: every atomic write takes `WRITE_SECONDS` longer."""
    return env() | {SLOW_WRITE: str(WRITE_SECONDS)}


def _outcome(out: Path) -> tuple[list[dict], dict]:
    """What must match: every metrics record, and the final metrics but the wall-clock time."""
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    final = json.loads((out / "final.json").read_text())
    final.pop("train_seconds_this_process")
    return records, final


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[tuple[list[dict], dict], float]:
    """The uninterrupted run's outcome, and how long a run takes from start to end (for choosing kill times)."""
    out = tmp_path_factory.mktemp("whole") / "run"
    start = time.monotonic()
    done = subprocess.run(cli(*ARGS, "--out", str(out)), env=_slow(), capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr
    return _outcome(out), time.monotonic() - start


def _start(out: Path, resume: bool) -> subprocess.Popen:
    args = [*ARGS, "--out", str(out)] + (["--resume"] if resume else [])
    return subprocess.Popen(cli(*args), env=_slow(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_at_random(process: subprocess.Popen, out: Path, inside_a_write: bool, duration: float,
                    rng: random.Random) -> bool:
    """SIGKILL `process` at a random moment; with `inside_a_write`, at a random moment of the first write
    (checkpoint, metrics or final.json) it is in after a random delay. Returns whether it was killed
    (it may have ended first)."""
    deadline = time.monotonic() + rng.uniform(0.0, duration)
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    if inside_a_write:
        mine = f".*.{process.pid}.tmp"
        while process.poll() is None and not any(out.glob(mine)):
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.8 * WRITE_SECONDS))
    if process.poll() is not None:
        return False
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    return True


def kill_and_resume(out: Path, kills: int, duration: float, rng: random.Random) -> tuple[int, int]:
    """Start the run in `out`, then SIGKILL and resume it until it has been killed `kills` times (half of
    the kills, at random, inside a write), then let it finish.

    Returns:
        How many kills, and how many of them left a temporary file (were inside a write).
    """
    killed = inside_writes = attempts = 0
    while killed < kills:
        attempts += 1
        assert attempts <= 4 * kills, "the runs keep ending before they are killed"
        process = _start(out, resume=attempts > 1)
        if _kill_at_random(process, out, rng.random() < 0.5, duration, rng):
            killed += 1
            inside_writes += any(out.glob(".*.tmp"))
        else:  # it ended first: the next attempt resumes a finished run, which must change nothing either
            assert process.returncode == 0, process.stderr.read().decode() if process.stderr else ""
        if process.stderr:
            process.stderr.close()
    process = _start(out, resume=True)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    return killed, inside_writes


def _check(tmp_path: Path, reference, rounds: int, kills_per_round: int, seed: int) -> tuple[int, int, int]:
    (expected, duration) = reference
    rng = random.Random(seed)
    killed = inside = identical = 0
    for round_ in range(rounds):
        out = tmp_path / f"run{round_}"
        k, w = kill_and_resume(out, kills_per_round, duration, rng)
        killed, inside = killed + k, inside + w
        assert not list(out.glob(".*.tmp")), "a resumed run removes the temporary files of killed writes"
        records, final = _outcome(out)
        assert final == expected[1], f"round {round_}: the final metrics differ"
        assert records == expected[0], f"round {round_}: the metrics log differs"
        identical += 1
    return killed, inside, identical


def test_a_few_kills_resume_bit_identical(tmp_path, reference):
    killed, _, identical = _check(tmp_path, reference, rounds=1, kills_per_round=4, seed=0)
    assert identical == 1 and killed == 4


@pytest.mark.slow
def test_fifty_kills_resume_bit_identical(tmp_path, reference):
    killed, inside, identical = _check(tmp_path, reference, rounds=10, kills_per_round=5, seed=1)
    print(f"\nkills: {killed}, inside a write: {inside}, rounds identical: {identical} of 10")
    assert identical == 10 and killed == 50
