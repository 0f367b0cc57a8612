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
from pathlib import Path
from typing import Any

__all__ = ["MetricsLog", "write_atomic"]


class MetricsLog:
    """Append-only metrics of one run in `folder`; a no-op when `enabled` is false (DDP ranks > 0)."""

    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.jsonl, self.csv, self.enabled = Path(folder) / "metrics.jsonl", Path(folder) / "metrics.csv", enabled

    def records(self) -> list[dict[str, Any]]:
        """The logged records; a torn last line (the run was killed mid-append) is dropped."""
        if not self.jsonl.exists():
            return []
        lines = [line for line in self.jsonl.read_text().splitlines(keepends=True) if line.strip()]
        records = [json.loads(line) for line in lines[:-1]]
        if lines:
            try:
                records.append(json.loads(lines[-1]))
            except json.JSONDecodeError:
                if lines[-1].endswith("\n"):  # a complete line that does not parse is corruption, not a tear
                    raise
        return records

    def append(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.jsonl.parent.mkdir(parents=True, exist_ok=True)
        with open(self.jsonl, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def truncate_after(self, step: int) -> None:
        """Keep only records with `step <= step` (called when resuming from a checkpoint at `step`)."""
        if not self.enabled:
            return
        kept = [r for r in self.records() if r["step"] <= step]
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


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
