"""A run's metrics: one JSON object per line in `metrics.jsonl`, mirrored as `metrics.csv`.

Every record has `kind` (`"train"` or `"eval"`) and `step`. After a resume
from a checkpoint at step `s`, records the killed run logged after `s` are
dropped (they are recomputed identically), so the log reads as one run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["MetricsLog", "write_atomic", "temporary_name", "remove_stale_temporaries", "SLOW_WRITE"]

# Test-only hook: seconds to sleep between writing a temporary file and renaming it into place, so that a
# test can kill a run inside a write (tests/experiments/test_kill_resume.py). Unset in normal use.
SLOW_WRITE = "GUMBEL_SOFTMAX_TEST_SLOW_WRITE"

# A temporary file of `write_atomic`: `.<name>.<pid>.tmp` beside the file it replaces.
_TEMPORARY = re.compile(r"\.(?P<name>[^/]+)\.(?P<pid>[0-9]+)\.tmp")


class MetricsLog:
    """Append-only metrics of one run in `folder`; a no-op when `enabled` is false (DDP ranks > 0)."""

    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.jsonl, self.csv, self.enabled = Path(folder) / "metrics.jsonl", Path(folder) / "metrics.csv", enabled

    def records(self) -> list[dict[str, Any]]:
        """The logged records; a torn last line (the run was killed mid-append) is dropped."""
        if not self.jsonl.exists():
            return []
        lines = [line for line in self.jsonl.read_text(errors="replace").splitlines(keepends=True) if line.strip()]
        records = []
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                records.append(record)
            elif number < len(lines) or line.endswith("\n"):  # a complete line: corruption, not a tear
                raise ValueError(f"{self.jsonl} line {number} is not a metrics record (the file is corrupt): "
                                 "repair or remove that line, or start again with --overwrite")
        return records

    def append(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        with open(self.jsonl, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def truncate_after(self, step: int) -> None:
        """Keep only the records logged before the checkpoint at `step` (called when resuming from it).

        Those are the records with `step <= step` but the final test record, which a run logs after its
        last checkpoint (a run killed after logging it, or extended with more `--steps`, logs it again).
        """
        if not self.enabled:
            return
        kept = [r for r in self.records() if r["step"] <= step and r.get("split") != "test"]
        write_atomic(self.jsonl, "".join(json.dumps(r) + "\n" for r in kept))

    def write_csv(self) -> None:
        """Rewrite `metrics.csv` from the JSON lines (columns: the union of keys, first-seen order)."""
        if not self.enabled:
            return
        records = self.records()
        columns: dict[str, None] = {}
        for record in records:
            columns.update(dict.fromkeys(record))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        write_atomic(self.csv, buffer.getvalue())


def temporary_name(path: Path) -> Path:
    """The temporary file `write_atomic` writes before renaming it to `path`: `.<name>.<pid>.tmp` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_atomic(path: Path, content: str | Callable[[IO[bytes]], None]) -> Path:
    """Write `content` (text, or a function writing to a binary file) to `path` through a temporary file,
    `fsync` and a rename: readers, and a run resumed after `SIGKILL`, see the old or the new file, never a
    torn one. The temporary file is removed when writing fails.

    Returns:
        `path`.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        with open(tmp, "wb") as handle:
            if callable(content):
                content(handle)
            else:
                handle.write(content.encode())
            handle.flush()
            os.fsync(handle.fileno())
        if os.environ.get(SLOW_WRITE):
            time.sleep(float(os.environ[SLOW_WRITE]))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def remove_stale_temporaries(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Remove the temporary files a killed writer left in `folder` for the files `names`; return them.

    Only files named exactly as `write_atomic` names them (`.<name>.<pid>.tmp`, `name` in `names`) are
    removed; nothing else in the folder is touched. Call it only when no other process writes there.
    """
    removed = []
    if Path(folder).is_dir():
        for path in Path(folder).iterdir():
            match = _TEMPORARY.fullmatch(path.name)
            if match and match["name"] in names and path.is_file() and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed
