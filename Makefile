# Build, test and demo the Microsoft Defender for Endpoint Alerts add-on.
# Everything runs from a fresh clone on Debian with Python >= 3.9: see README.md.

APP      := TA-defender-endpoint-alerts
PYTHON   ?= python3
VENV     := .venv
BIN      := $(VENV)/bin
VERSION  := $(shell sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' globalConfig.json | head -n 1)
BUILT    := output/$(APP)
PACKAGE  := dist/$(APP)-$(VERSION).tar.gz
SOURCES  := $(shell find package -type f -not -path '*/__pycache__/*') globalConfig.json additional_packaging.py
FILES    ?=
DEV_LOCK := requirements-dev.txt
LIB_LOCK := package/lib/requirements.txt
UPGRADE  ?=
LOCK_FLAGS = --generate-hashes --custom-compile-command "make lock" $(foreach p,$(UPGRADE),--upgrade-package $(p))
# ucc-gen installs lib/ from the lock only: hashes checked, no dependency resolved.
LIB_PIP_FLAGS := --no-compile --prefer-binary --ignore-installed --no-deps --require-hashes

.PHONY: build venv lock package appinspect appinspect-all test unit e2e ui knowledge portability lint demo demo-ui screenshots bench cim-preview clean

venv: $(VENV)/.installed
# A clean venv holding exactly the lock: every file checked against its hash, nothing
# resolved at install time (--no-deps), nothing left over from an older lock (--clear).
$(VENV)/.installed: $(DEV_LOCK)
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	touch $@

# Regenerate both locks from requirements-*.in. Versions already locked are kept unless
# named: `make lock UPGRADE="requests certifi"` moves just those (and what they need).
# The lib lock is resolved for Splunk's oldest Python, 3.9: one lib/ serves 3.9 and 3.13.
lock: $(VENV)/.installed
	$(BIN)/uv pip compile --quiet requirements-lib.in -o $(LIB_LOCK) $(LOCK_FLAGS) \
		--python-version 3.9 --python-platform linux
	$(BIN)/uv pip compile --quiet requirements-dev.in -o $(DEV_LOCK) $(LOCK_FLAGS) \
		--universal --python-version 3.9 -c $(LIB_LOCK)

build: $(PACKAGE) appinspect

$(PACKAGE): $(VENV)/.installed $(SOURCES)
	rm -rf output dist
	$(BIN)/ucc-gen build --source package --config globalConfig.json --ta-version $(VERSION) \
		--pip-version 25.3 --pip-custom-flag="$(LIB_PIP_FLAGS)" --python-binary-name $(CURDIR)/$(BIN)/python -o output
	mkdir -p dist
	$(BIN)/ucc-gen package --path $(BUILT) -o dist
	@test -f $(PACKAGE) || (echo "expected $(PACKAGE), found: $$(ls dist)"; exit 1)
	@echo "packaged $(PACKAGE)"

package: $(PACKAGE)

appinspect: $(PACKAGE)
	$(BIN)/python tools/appinspect.py $(PACKAGE) --tags cloud

appinspect-all: $(PACKAGE)
	$(BIN)/python tools/appinspect.py $(PACKAGE) --report-only

lint: $(VENV)/.installed
	$(BIN)/ruff check package/bin additional_packaging.py tools tests
	$(BIN)/ruff format --check package/bin/mde_alerts additional_packaging.py tools
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/python -m pytest -q tests/unit

portability: $(PACKAGE)
	$(BIN)/python -m pytest -q tests/portability --package $(PACKAGE)

e2e: $(PACKAGE)
	$(BIN)/python -m pytest -q tests/e2e --package $(PACKAGE)

# The setup pages in headless Chromium (Debian's /usr/bin/chromium) against the stand-ins.
ui: $(PACKAGE)
	$(BIN)/python -m pytest -q tests/ui --package $(PACKAGE)

knowledge: $(VENV)/.installed
	$(BIN)/python -m pytest -q tests/knowledge

test: build lint
	$(BIN)/python -m pytest -q tests --package $(PACKAGE)

demo: $(PACKAGE)
	$(BIN)/python tools/demo.py --package $(PACKAGE)

# The built add-on's real pages on http://127.0.0.1:8000 (PORT=0: any free port), with a demo tenant.
PORT ?= 8000
demo-ui: $(PACKAGE)
	$(BIN)/python tools/demo_ui.py --app $(BUILT) --port $(PORT)

# docs/images/*.png, written by the browser tests as they pass (CI runs them without writing).
screenshots: $(PACKAGE)
	$(BIN)/python -m pytest -q tests/ui/test_accounts.py tests/ui/test_inputs.py --package $(PACKAGE) --screenshots docs/images

bench: $(PACKAGE)
	$(BIN)/python tools/bench.py --package $(PACKAGE)

cim-preview: $(VENV)/.installed
	@$(BIN)/python tests/knowledge/cim_preview.py $(FILES)

clean:
	rm -rf output dist .work
