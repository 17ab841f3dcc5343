# camgate: `make demo` to try it, `make test` to check it. The virtual environment is .venv/.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data
STAMP := $(VENV)/.installed

.PHONY: demo test install lint typecheck unit bench clean system-deps

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "camgate needs Python 3.11 or newer with venv (Debian: apt-get install python3 python3-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/camgate --data-dir $(DATA) demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy
	$(BIN)/python -m tools.settings_ref --check

# The whole suite: lint, types, then every test. Tests that need Debian's GStreamer RTSP server or
# Chromium skip when those are missing locally; CI (.ci/run) installs them and forbids skips.
test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP)
	$(BIN)/python -m bench.live_fanout
	$(BIN)/python -m bench.first_frame
	$(BIN)/python -m bench.capacity
	$(BIN)/python -m bench.recording
	$(BIN)/python -m bench.seek

# What the integration and browser tests need on Debian (run as root).
system-deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv chromium python3-gi \
		gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
		gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-tools slapd ldap-utils

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
