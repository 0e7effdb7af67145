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

.PHONY: build venv package appinspect appinspect-all test unit e2e knowledge portability lint demo bench cim-preview clean

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt package/lib/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

build: $(PACKAGE) appinspect

$(PACKAGE): $(VENV)/.installed $(SOURCES)
	rm -rf output dist
	$(BIN)/ucc-gen build --source package --config globalConfig.json --ta-version $(VERSION) \
		--pip-version 25.3 --python-binary-name $(CURDIR)/$(BIN)/python -o output
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

knowledge: $(VENV)/.installed
	$(BIN)/python -m pytest -q tests/knowledge

test: build lint
	$(BIN)/python -m pytest -q tests --package $(PACKAGE)

demo: $(PACKAGE)
	$(BIN)/python tools/demo.py --package $(PACKAGE)

bench: $(PACKAGE)
	$(BIN)/python tools/bench.py --package $(PACKAGE)

cim-preview: $(VENV)/.installed
	@$(BIN)/python tests/knowledge/cim_preview.py $(FILES)

clean:
	rm -rf output dist .work
