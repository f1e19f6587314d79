# quire: `make test` and `make demo` set everything up themselves.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Optional parts installed with the package: EXTRAS=dev,loghi adds TensorFlow for
# `quire recognize import-loghi` and its tests (CI does).
EXTRAS ?= dev
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
TORCH := torch==2.13.0
# Images: the engine (docker, or podman with its global flags) and a CA bundle passed
# to builds as a secret (for TLS-inspecting proxies; empty: none).
export QUIRE_CONTAINER_ENGINE ?= docker
CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
TEST_BASE := localhost/quire-testbase:bookworm
BUILD_IMAGES := scripts/build-images.sh $(if $(CA_BUNDLE),--ca-bundle $(CA_BUNDLE))

.PHONY: help venv test demo lint bench models images test-images clean

help:
	@echo "make demo   set up .venv (first run), read sample pages with the shipped models"
	@echo "make test   set up .venv (first run) and run the test suite"
	@echo "            (EXTRAS=dev,loghi adds TensorFlow and the Loghi model tests)"
	@echo "make lint   ruff and shellcheck"
	@echo "make bench  run the benchmarks in bench/, figures to bench/results/*.json"
	@echo "make images build the container images quire-<family>:<version> (docker/README.md)"
	@echo "make test-images  build them on a debootstrap base and run the scripts in them"
	@echo "make models retrain the shipped models in models/ from scratch (see docs/layout.md)"
	@echo "make clean  remove .venv and caches"

$(STAMP): pyproject.toml constraints.txt
	@scripts/lib/check-system.sh $(PYTHON)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(TORCH)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[$(EXTRAS)]'
	@touch $@

venv: $(STAMP)

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/demo.sh demo --runner local

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/shellcheck -x $$(find scripts docker -name "*.sh" -o -name "*.sbatch") .ci/run .ci/slurm .ci/images
	$(BIN)/hadolint docker/Dockerfile

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench

models: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/make-models.sh models --runner local

images:
	$(BUILD_IMAGES) $(IMAGES_ARGS)

# The images on a base made here (no registry needed), torch from the wheel pip finds
# for this machine, then tests/test_images.py runs the scripts in them (the loghi
# image is left out: it would fetch TensorFlow on every run).
test-images: $(STAMP)
	docker/test-base.sh $(TEST_BASE)
	$(BIN)/pip download --quiet --no-deps --dest docker/wheels $(TORCH)
	$(BUILD_IMAGES) --tag test --gpu-base $(TEST_BASE) --cpu-base $(TEST_BASE) --torch-index-url '' \
		layout recognition tooling synth
	QUIRE_TEST_IMAGES=1 QUIRE_IMAGE_TAG=test PATH="$(CURDIR)/$(BIN):$$PATH" \
		$(BIN)/python -m pytest -n 2 tests/test_images.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache src/*.egg-info
