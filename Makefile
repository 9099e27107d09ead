# sae-kit: every target creates the environment it needs (.venv) first.
#   make replicate              every notebook executed headless into reports/ (full profile), a summary table and
#                               reports/index.html (every notebook as an offline HTML page; one row per claim)
#   make replicate PROFILE=quick  the same, faster and smaller
#   make test                   lint, unit tests, every notebook in its CI profile (papermill) checked by nbval
#   make lab                    JupyterLab on the notebooks
#   make bench                  training benchmarks (figures as ratios against reference runs)
#   make interop-test           the tests against the real SAELens and Hugging Face datasets (installs .[interop])
#   make browser-test           every notebook explorer in JupyterLab, and every page of the report (built from reports/ci)
#                               offline, in headless Chromium (installs Chromium and Playwright)
#   make png                    the headline figure of each executed notebook in reports/ as PNG (needs kaleido + Chromium)
#   make docs-executed          docs/executed/NN_name.ipynb: the CI-profile notebooks with their outputs and a PNG beside
#                               every figure, readable on GitHub without a kernel (needs kaleido + Chromium)
# Torch: TORCH picks the build pip installs first. The default pin installs the CPU wheel on machines that carry it
# locally; elsewhere pass e.g. TORCH="torch" (your platform's default build) or a CUDA/CPU index of your choice.

PYTHON ?= python3
TORCH ?= torch==2.13.0
PROFILE ?= full
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sae-kit-installed
NB_TIMEOUT ?= 1800

CHROMIUM ?= /usr/bin/chromium
BROWSER_TESTS ?= tests/browser
BROWSER_PROFILE ?= lab

.PHONY: all setup test unit notebooks-ci lint replicate lab bench interop-setup interop-test browser-test png docs-executed clean

all: test

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check sae_kit tests benchmarks

# JOBS notebooks (papermill, then nbval) run at once, each kernel on one torch thread: both passes use the same thread
# count, so the seeded numbers nbval compares come out the same. On 2 cores this halves the notebooks' wall time.
JOBS ?= 2
NB_ENV := SAE_KIT_HEADLESS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

unit: $(STAMP)
	$(NB_ENV) SAE_KIT_NOTEBOOK_JOBS=$(JOBS) $(BIN)/python -m pytest -q tests

# papermill runs each notebook in its CI profile into reports/ci (tests/test_notebooks.py checks the key figures),
# then nbval executes those notebooks again from scratch (the run's cache is removed first, so everything retrains)
# and compares the outputs of the cells marked NBVAL_CHECK_OUTPUT: seeded numbers must come out the same. Each
# notebook stays on one pytest-xdist worker (--dist loadfile), so its cells share one kernel.
notebooks-ci: $(STAMP)
	rm -rf reports/ci/cache
	$(NB_ENV) $(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile --nbval-lax --nbval-cell-timeout=$(NB_TIMEOUT) \
	  -p no:cacheprovider reports/ci/*.ipynb

test: lint unit notebooks-ci

replicate: $(STAMP)
	$(BIN)/python -m sae_kit --profile $(PROFILE) --out reports --timeout $(NB_TIMEOUT)

# The libraries the kit interoperates with, for real: SAELens loads and writes the kit's SAE folders
# (tests/test_saelens.py) and Hugging Face datasets reads a local file through load_hf_dataset (tests/test_corpus.py).
# The extra goes into .venv with the torch already there pinned by a constraints file, so pip keeps that build (SAELens
# would otherwise be free to pull another, e.g. a CUDA one). SAE_KIT_REQUIRE_INTEROP=1 makes those tests fail, not skip,
# when a library is missing.
$(VENV)/.sae-kit-interop: $(STAMP)
	$(BIN)/python -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/torch-constraint.txt
	$(BIN)/python -m pip install -q --disable-pip-version-check -c $(VENV)/torch-constraint.txt -e ".[interop]"
	touch $@

interop-setup: $(VENV)/.sae-kit-interop

interop-test: $(VENV)/.sae-kit-interop
	SAE_KIT_HEADLESS=1 SAE_KIT_REQUIRE_INTEROP=1 $(BIN)/python -m pytest -q -rs tests/test_saelens.py tests/test_corpus.py

# A real browser (tests/browser/): JupyterLab on a free localhost port, every notebook's explorer moved in headless
# Chromium (driven by Playwright) and its figure checked to change the way the science says (notebooks in
# profile BROWSER_PROFILE, default lab; CI uses ci); then the report built from the CI notebooks `make test` left in reports/ci,
# every page opened with the network blocked (formulas typeset, figures within 1280 px, pages within 8 MB; screenshots
# in reports/browser/). Chromium is Debian's package (installed here when missing and we are root); Playwright never
# downloads a browser of its own.
$(VENV)/.sae-kit-browser: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[browser]"
	touch $@

browser-test: $(VENV)/.sae-kit-browser
	@test -x $(CHROMIUM) || { \
	  if [ "$(CHROMIUM)" = /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "browser-test: installing Debian's chromium"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "browser-test: no Chromium at $(CHROMIUM): install it (Debian: apt-get install chromium) or pass CHROMIUM=/path/to/chrome" >&2; \
	    exit 1; \
	  fi; }
	SAE_KIT_CHROMIUM=$(CHROMIUM) SAE_KIT_BROWSER_PROFILE=$(BROWSER_PROFILE) $(BIN)/python -m pytest -q -m browser $(BROWSER_TESTS)

# The headline figure of each notebook executed into PNG_FROM as PNG (PNG_FROM/png/NN_name.png; docs/img/ holds the
# CI-profile ones the README shows). kaleido ≥ 1 draws them in an installed Chromium or Chrome ($$BROWSER_PATH or PATH).
PNG_FROM ?= reports
$(VENV)/.sae-kit-png: $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e ".[png]"
	touch $@

png: $(VENV)/.sae-kit-png
	$(BIN)/python -m sae_kit --out $(PNG_FROM) --summary-only --no-html --png

# Executed copies for readers without a kernel (sae_kit/report/executed.py): reuses reports/ci, executing in the CI profile
# the notebooks missing there or older than their source; plotly.js, widget views and widget state are left out, and
# the plotly JSON too when a copy would pass 2 MB.
docs-executed: $(VENV)/.sae-kit-png
	$(BIN)/python -m sae_kit.report.executed --reports reports/ci --out docs/executed

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache *.egg-info
