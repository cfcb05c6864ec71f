# blur2vid: `make reproduce` regenerates the figures, `make test` runs every test.
# Both create .venv/ on first use and install the pinned environment (requirements.lock) into it.
PROFILE ?= cpu
DEVICE ?= auto
SEEDS ?=
PRECISION ?= auto
JOBS ?= auto
EXECUTOR ?= local
DEVICES ?=
RESOURCES ?=
DATA_ROOT ?=
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
# keep Jupyter's kernels and settings inside the environment, so a python3 kernel the user
# registered elsewhere never runs our notebooks with another interpreter
export JUPYTER_DATA_DIR := $(CURDIR)/$(VENV)/share/jupyter
export MPLBACKEND := Agg

.PHONY: install git-filters test reproduce book lab lock bench gpu-check clean help

help:
	@echo "make reproduce [PROFILE=smoke|cpu|gpu] [DEVICE=auto|cpu|cuda] [SEEDS='0 1 2'] [PRECISION=auto|fp32|bf16] [JOBS=auto|N] [DATA_ROOT=dir]"
	@echo "                 [EXECUTOR=local|processes|slurm] [DEVICES=cuda:0,cuda:1] [RESOURCES=cluster.toml]"
	@echo "                 the reference run (cpu or gpu, training seeds 0 1 2, no DATA_ROOT) regenerates figures/;"
	@echo "                 any other run writes under results/<profile>/outputs/"
	@echo "make test                                                      unit tests + notebooks (smoke)"
	@echo "make book [PROFILE=cpu]                                        docs/book/: the executed reference run as a static site"
	@echo "make lab                                                       JupyterLab on notebooks/"
	@echo "make bench                                                     speed benchmarks"
	@echo "make gpu-check                                                 the prepared 5-minute GPU check (figures/gpu-check/)"

install: $(STAMP) git-filters

# nbstripout as this clone's clean filter for *.ipynb (.gitattributes routes them through it): what
# git stores and compares is the notebook without outputs, execution counts or kernel details, its
# cell ids kept, so JupyterLab's autosave leaves `git diff` empty and adds nothing to a commit (`git
# status` lists a resized file until `git add` refreshes the index). Run on every `make install`
# (cheap, idempotent), so a clone that already has .venv/ gets it too. The path is absolute, so the
# filter works without the venv on PATH; `required` stays unset: a clone before `make install` (no
# filter configured) and one whose .venv/ is gone still work, the notebook test refuses any output
# that reaches the index. Skipped outside a git checkout of this directory (an unpacked archive).
NB_EXTRA_KEYS := $(addprefix metadata.language_info.,codemirror_mode file_extension mimetype nbconvert_exporter pygments_lexer version)
git-filters:
	@if command -v git >/dev/null 2>&1 && [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$$(pwd -P)" ]; then \
		case "$(BIN)" in /*) bin="$(BIN)" ;; *) bin="$$(pwd -P)/$(BIN)" ;; esac; \
		git config filter.nbstripout.clean "'$$bin/nbstripout' --keep-id" && \
		git config filter.nbstripout.smudge cat && \
		git config filter.nbstripout.extrakeys "$(NB_EXTRA_KEYS)"; \
	fi

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "blur2vid needs Python >= 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e . || $(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest tests notebooks --nbmake --nbmake-timeout=900

reproduce: $(STAMP)
	$(BIN)/python -m blur2vid.cli reproduce --profile $(PROFILE) --device $(DEVICE) \
		--precision $(PRECISION) --jobs $(JOBS) $(if $(SEEDS),--seeds $(SEEDS)) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) \
		--executor $(EXECUTOR) $(if $(DEVICES),--devices $(DEVICES)) $(if $(RESOURCES),--resources $(RESOURCES))

book: $(STAMP)
	$(BIN)/python -m blur2vid.cli book --profile $(PROFILE)

lab: install
	$(BIN)/python -m pip install --quiet jupyterlab==4.6.6 nbdime==4.0.4
	$(BIN)/nbdime config-git --enable
	MPLBACKEND= $(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_scenes.py
	$(BIN)/python benchmarks/bench_table3.py --repeats 1
	$(BIN)/python benchmarks/bench_loaders.py
	$(BIN)/python benchmarks/bench_predict.py
	$(BIN)/python benchmarks/bench_training.py

lock: $(STAMP)
	@echo "# Whole environment for 'make test' and 'make reproduce', pinned. Regenerate with 'make lock'." > requirements.lock.new
	@echo "torch==2.13.0" >> requirements.lock.new
	$(BIN)/python -m pip freeze --all --exclude-editable | grep -v -e '^torch==' -e '^pip==' >> requirements.lock.new
	mv requirements.lock.new requirements.lock

clean:
	rm -rf results/ .pytest_cache .ruff_cache

gpu-check: $(STAMP)
	$(BIN)/python benchmarks/gpu_check.py --out figures/gpu-check --archive results/gpu-check.tar.gz
