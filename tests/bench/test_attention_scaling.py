"""Smoke run of the attention-scaling benchmark at tiny lengths, in-process (the real run is `make bench`)."""

import json

import pytest

from hf_variants.bench import SUITES
from hf_variants.bench.attention_scaling import KINDS, measure_point, run, skip_reason


def test_tiny_run_writes_json_plot_and_rows(tmp_path, capsys):
    output = tmp_path / "attention_scaling.json"
    rows = run(lengths=(64, 128), repeats=1, output=output, fresh_process=False)
    record = json.loads(output.read_text())
    assert output.with_suffix(".png").stat().st_size > 1000
    assert record["lengths"] == [64, 128] and record["rows"] == rows
    assert set(record["kinds"]) == set(KINDS)
    full = record["kinds"]["full"]
    assert full["skipped"] is None and [p["seq_len"] for p in full["points"]] == [64, 128]
    for point in full["points"]:
        assert point["forward_s"] > 0 and point["train_s"] > 0
        assert point["train_peak_mib"] >= 0 and point["forward_peak_mib"] >= 0
    for kind, entry in record["kinds"].items():  # every kind ran at both lengths, or says why not
        assert entry["skipped"] or len(entry["points"]) == 2, kind
    printed = capsys.readouterr().out
    assert "| full | sdpa | 128 |" in printed
    assert [row["case"] for row in rows if row["case"].startswith("full ")] == [
        "full 64 tokens fwd+bwd (sdpa)", "full 128 tokens fwd+bwd (sdpa)"]


def test_refused_kinds_are_skipped_with_the_reason(monkeypatch):
    monkeypatch.setitem(KINDS, "bogus", ("sdpa", {"no_such_field": 1}))
    monkeypatch.setitem(KINDS, "refused", ("sdpa", {"sliding_window": 4}))  # encoders attend both ways
    assert "no_such_field do not exist" in skip_reason("bogus", 64)
    assert "needs causal attention" in skip_reason("refused", 64)
    assert skip_reason("full", 64) is None


def test_point_runs_in_a_fresh_process():
    from hf_variants.bench.attention_scaling import point_in_subprocess

    point = point_in_subprocess("full", 32, 1, 32)  # one process for the memory, one for the time
    assert point["seq_len"] == 32 and point["train_s"] > 0 and point["train_peak_mib"] >= 0


def test_suite_is_registered_and_unknown_kinds_refused():
    assert "attention_scaling" in SUITES
    with pytest.raises(ValueError, match="unknown attention kinds"):
        run(kinds=["quadratic"], lengths=(8,))
    assert measure_point("full", 16, 1)["train_s"] > 0
