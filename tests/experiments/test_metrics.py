"""The metrics log survives a run killed in the middle of an append."""

from __future__ import annotations

import json

import pytest

from gumbel_softmax.experiments.metrics import MetricsLog


def test_torn_last_line_is_dropped_on_resume(tmp_path):
    log = MetricsLog(tmp_path)
    for step in (10, 20, 30):
        log.append({"step": step, "loss": 1.0 / step})
    with open(log.jsonl, "a") as handle:  # what SIGKILL in the middle of append leaves
        handle.write(json.dumps({"step": 40, "loss": 0.025})[:9])
    assert [r["step"] for r in log.records()] == [10, 20, 30]
    log.truncate_after(20)
    assert [r["step"] for r in log.records()] == [10, 20]
    log.append({"step": 30, "loss": 0.5})
    assert [r["step"] for r in log.records()] == [10, 20, 30]


@pytest.mark.parametrize("text", ['{"step": 1}\n{"step": \n{"step": 3}\n', '{"step": 1}\n[1, 2]\n',
                                  '{"step": 1}\n{"loss": 2}\n', '\x00\xff garbage\n'])
def test_a_corrupt_complete_line_is_an_error_naming_the_file_and_line(tmp_path, text):
    log = MetricsLog(tmp_path)
    log.jsonl.write_bytes(text.encode("latin-1"))
    line = 1 if text.startswith("\x00") else 2
    with pytest.raises(ValueError, match=rf"{log.jsonl} line {line} is not a metrics record .* --overwrite"):
        log.records()
