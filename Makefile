# make test: set up .venv if missing, install the package with [test], fetch what the
# tests need from Debian, run the whole suite.  make test-fast: the suite without the
# tests marked slow (worker processes, whole jobs).  make notebooks: run colab/*.ipynb headless.
# make demo: the main job on digits-LT.  make dist: the wheel and sdist in dist/, checked.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FASHION_MNIST_DIR ?= /usr/share/datasets/fashion-mnist

.PHONY: test test-fast demo lint notebooks fashion-mnist dist

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

fashion-mnist:
	@if [ -f $(FASHION_MNIST_DIR)/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST found in $(FASHION_MNIST_DIR)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q >/dev/null && apt-get install -y -q dataset-fashion-mnist >/dev/null; \
	else \
	  echo "apt-get unavailable (or not root): the tests that read the real Fashion-MNIST files skip"; \
	fi

test: $(VENV)/.installed fashion-mnist
	$(PY) -m pytest -q tests

test-fast: $(VENV)/.installed
	$(PY) -m pytest -q -m "not slow" tests

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check tf_robust_distill experiments configs tests

# Every colab/*.ipynb, top to bottom in a headless kernel, with small settings.
notebooks: $(VENV)/.installed
	$(PY) colab/run_notebooks.py --small

demo: $(VENV)/.installed
	$(PY) -m experiments.distill --config=configs/distill.py:demo --workdir=runs/demo

# The wheel and the source distribution a Colab user installs without a repository
# (`pip install tf_robust_distill-<version>-py3-none-any.whl`), checked by twine and for
# the package's modules and the absence of tests.
dist: $(VENV)/.installed
	rm -rf dist
	$(PY) -m build --no-isolation --sdist --wheel --outdir dist . >/dev/null
	$(VENV)/bin/twine check --strict dist/*
	$(PY) .ci/check_dist.py dist
