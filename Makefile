# The targets CI runs are exactly these; `make test` is the README's test command.
# Everything the project needs is installed by these targets into .venv/.

PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: install system-deps image-deps image demo test check lint typecheck layers pytest bench clean manifests

# Debian packages the test suite uses (sshd for ssh:// fetches, PostgreSQL for
# the store, gpg for signed commits). Installed when missing and running as
# root (CI, fresh machines); services are not started by the install.
# What `make image` (and its test) builds the container image with; defined
# first, as `:=` expands it where SYSTEM_PACKAGES is defined.
IMAGE_PACKAGES := mmdebstrap buildah umoci skopeo
SYSTEM_PACKAGES := git gnupg openssh-client openssh-server postgresql chromium docker-registry apache2-utils $(IMAGE_PACKAGES)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==26.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

system-deps: PACKAGES = $(SYSTEM_PACKAGES)
image-deps: PACKAGES = $(IMAGE_PACKAGES)
system-deps image-deps:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	    status=$$?; rm -f /usr/sbin/policy-rc.d; exit $$status; \
	  else echo "missing Debian packages:$$missing (tests that need them are skipped)"; fi; \
	fi

# The OCI image from Debian packages and PyPI wheels (deploy/image/build.sh):
#   make image IMAGE=registry.example.com/gitward:0.1.0 PUSH=1 [TLS_VERIFY=false]
IMAGE ?= localhost/gitward:dev
PUSH ?= 0
image: install image-deps
	IMAGE=$(IMAGE) PUSH=$(PUSH) PY=$(BIN)/python deploy/image/build.sh

demo: install
	$(BIN)/gitward demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

layers: install
	$(BIN)/lint-imports

pytest: install system-deps
	$(BIN)/pytest -n 2 --dist loadgroup

check: lint typecheck layers

test: check pytest

# The chart's CRDs (from the config models) and deploy/manifests (the chart
# rendered); tests/install fails when they are stale.
manifests: install
	$(BIN)/python -m gitward.install.generating

bench: install
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
