"""The instruction-count bench (hf_variants/bench/instructions.py) on one tiny decoder, where valgrind is installed.

The count takes 60-80 s (torch imported under valgrind), the slowest test by far: it runs with `HFV_CALLGRIND_TEST=1`
(`HFV_CALLGRIND_TEST=1 .venv/bin/python -m pytest tests/bench/test_instructions_bench.py`), not in `make test`.
"""

import os

import pytest

from hf_variants.bench import SUITES
from hf_variants.bench.instructions import BATCH_SIZES, available, measure


@pytest.mark.skipif(os.environ.get("HFV_CALLGRIND_TEST") != "1", reason="60-80 s: set HFV_CALLGRIND_TEST=1")
@pytest.mark.skipif(available() is not None, reason=f"callgrind cannot count here: {available()}")
def test_tiny_decoder_counts_per_step_and_token():
    rows = measure("tiny", ["llama"])
    assert [row["case"].split(" (")[0] for row in rows] == ["train step instructions"] + [
        f"generate instructions per token batch {batch_size}" for batch_size in BATCH_SIZES]
    train, one, eight = rows
    for side in ("ours", "native"):
        # a decode step of a 2-layer model runs millions of instructions (Python and the torch dispatcher), eight
        # rows of it more than one, and a training step (forward and backward over 4 x 32 tokens, AdamW) more than
        # either: the counts are of the steps, not of zeros or set-up
        assert 1e6 < one[side] < eight[side] < train[side] < 1e9, (side, one[side], eight[side], train[side])
    assert all(row["benchmark"] == "instructions" and row["unit"] == "instructions" for row in rows)


def test_suite_is_registered():
    assert "instructions" in SUITES
