"""`reproduce sorting`: a tiny run learns to sort far better than chance; bad options are one line, exit 2."""

from __future__ import annotations

import json

import pytest
import torch

from gumbel_softmax.cli import main
from gumbel_softmax.experiments import sorting


def test_a_tiny_run_sorts_better_than_chance():
    """n = 5 after 60 steps, on 400 test sequences. A random permutation misplaces 80% of the numbers
    and gets 99.2% of the sequences wrong; the trained network must misplace under 20% and get under half wrong."""
    torch.set_num_threads(1)
    row = sorting.train_and_test(5, steps=60, test_size=400, seed=0)
    assert row.chance_wrong == pytest.approx(0.8)
    assert row.prop_wrong < 0.2 and row.prop_any_wrong < 0.5


def test_the_command_prints_and_writes_the_table(tmp_path, capsys):
    assert main(["reproduce", "sorting", "--ns", "4", "--steps", "5", "--test-size", "20", "--out", str(tmp_path)]) == 0
    printed, err = capsys.readouterr()
    assert "sorting n=4" in err and "5/5" in err  # the progress bar, on stderr
    assert "| 4 |" in printed and "not confirmed" in printed
    record = json.loads((tmp_path / "results.json").read_text())
    assert [row["n"] for row in record["rows"]] == [4]
    assert (tmp_path / "table.md").read_text().strip() == sorting.table([sorting.SortingRow(**record["rows"][0])])


@pytest.mark.parametrize(("bad", "says"), [
    (["--ns", "1"], "sequence lengths from 2 to 1000"),
    (["--ns", "5,,10"], "sequence lengths from 2 to 1000"),
    (["--steps", "0"], "a whole number >= 1"),
    (["--tau", "-1"], "a finite number > 0"),
    (["--noise-factor", "nan"], "a finite number >= 0"),
])
def test_bad_options_are_one_line_and_exit_2(bad, says, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["reproduce", "sorting", *bad, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and says in err and len(err.strip().splitlines()) == 1


def test_a_bad_device_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["reproduce", "sorting", "--device", "tpu9", "--out", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", [
    ["--ns", "100000000"],
    ["--batch-size", "100000000"],
    ["--samples", "100000000"],
    ["--hidden", "100000000"],
    ["--test-size", "1000000000"],
    ["--ns", "120", "--batch-size", "5000", "--samples", "100"],  # each within bounds, together far too large
])
def test_sizes_that_cannot_fit_are_refused_before_any_training(bad, tmp_path, capsys):
    """A huge size is one line and exit 2, never an allocation failure's traceback (or the machine's OOM killer)."""
    try:
        code = main(["reproduce", "sorting", *bad, "--steps", "1", "--out", str(tmp_path)])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results.json").exists()


def test_an_out_holding_results_is_refused_unless_overwrite(tmp_path, capsys):
    """The results of an earlier run are the user's: replaced only with --overwrite."""
    (tmp_path / "results.json").write_text('{"mine": 1}\n')
    options = ["reproduce", "sorting", "--ns", "4", "--steps", "2", "--test-size", "5", "--out", str(tmp_path)]
    assert main(options) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and len(err.strip().splitlines()) == 1
    assert (tmp_path / "results.json").read_text() == '{"mine": 1}\n'
    assert main([*options, "--overwrite"]) == 0
    assert json.loads((tmp_path / "results.json").read_text())["rows"][0]["n"] == 4
