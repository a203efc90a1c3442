# kdfair: two commands on a fresh machine.
#   make study   - install (first time), run the quick embedded study, render the report site
#                  (STUDY=full|fashion|tiny: another preset; ARGS='...': more `kdfair study` options)
#   make test    - install (first time), run every notebook's tests and the pytest suite
# Everything lives in .venv, created on first use.

PY       ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.kdfair-installed
STUDY    ?= quick
ARGS     ?=
export PYTHONUNBUFFERED := 1

.PHONY: install study test docs readme export clean-nbs bench chromium fashion-data

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (kdfair)" >/dev/null
	touch $(STAMP)

## The main job: the quick embedded study, ending with the report site in _site/
study: $(STAMP)
	@[ "$(STUDY)" != fashion ] || $(MAKE) -s fashion-data
	$(BIN)/kdfair study --preset $(STUDY) $(ARGS)
	$(MAKE) docs
	$(MAKE) readme

## The tests: every library notebook (nbdev-test) and the pytest suite (papermill, sweeps, site)
test: $(STAMP) chromium
	$(BIN)/python scripts/check_export.py
	$(BIN)/python scripts/split_imports.py --check
	$(BIN)/python scripts/check_cells.py  # one unit per export cell (<= 60 lines, median <= 25), public names documented
	OMP_NUM_THREADS=1 $(BIN)/nbdev-test --n-workers 2 --timing
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=12 tests  # 2 workers, a test file each: kernels wait on I/O

## Debian's Chromium for the site screenshot test (installed when missing and we are root with apt-get)
chromium:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "chromium not installed: the site screenshot test will be skipped"

## Debian's Fashion-MNIST, the default copy of the `fashion` data set (installed when missing and we are root with apt-get)
FASHION_DIR   := /usr/share/datasets/fashion-mnist
FASHION_FILES := train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz
fashion-data:
	@have() { for f in $(FASHION_FILES); do test -f $(FASHION_DIR)/$$f || return 1; done; }; \
	  have || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) ; } ; \
	  if have; then echo "Fashion-MNIST: $(FASHION_DIR)"; else \
	    echo "Fashion-MNIST not installed: run 'apt-get install dataset-fashion-mnist' as root (Debian, Ubuntu), or give"; \
	    echo "--data-root PATH (data_root), a folder holding $(FASHION_FILES)"; fi

## Offline site: nbdev-proc-nbs + smalldocs (nbdev-docs where Quarto is installed)
docs: $(STAMP)
	$(BIN)/python scripts/build_site.py

## README.md from nbs/index.ipynb (nbdev-readme where Quarto exists, nbconvert otherwise)
readme: $(STAMP)
	$(BIN)/python scripts/make_readme.py

export: $(STAMP)
	$(BIN)/nbdev-export
	$(BIN)/nbdev-clean

## Benchmarks (not tests): each prints its ratios last. torchdistill goes into .bench/site, not the project.
bench: $(STAMP)
	bash bench/setup_torchdistill.sh
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done
