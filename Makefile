# bitear's entry points. `make test` and `make demo` do all set-up first (idempotent; a second
# run only checks and takes seconds):
#   Debian packages   scripts/setup_apt.sh           (apt-get, via sudo when not root)
#   .venv             python3 -m venv + pip install -r requirements.txt (pinned)
#   .pio-core         scripts/setup_platformio.py    (PlatformIO core prepared for offline builds)
# Targets: setup, build, test, demo, listen, bench, fuzz, clean. MODEL_DIR=DIR: a model of your own (below).
# BOARD=ENV: which emulated board demo and listen start (qemu_m4, the default, or feather_f405:
# the STM32F405 firmware in QEMU netduinoplus2; docs/boards.md).

PYTHON ?= python3
VENV := $(CURDIR)/.venv
VENV_PY := $(VENV)/bin/python
PIO := $(VENV)/bin/pio
VENV_STAMP := $(VENV)/.bitear-requirements.stamp
CORE_STAMP := $(CURDIR)/.pio-core/.bitear-offline.stamp

# PlatformIO: core inside the project, no telemetry, no upgrade check (a 60 s wait offline).
export PLATFORMIO_CORE_DIR := $(CURDIR)/.pio-core
export PLATFORMIO_SETTING_ENABLE_TELEMETRY := No
export PLATFORMIO_DISABLE_UPGRADE_CHECK := true

# MODEL_DIR=DIR (written by `python -m codegen CKPT -o DIR`): build, demo and listen use DIR's model
# tables instead of the committed ones (scripts/pio_model_dir.py); the firmware goes to DIR/build.
# A MODEL_DIR that is not a folder stops here, before PlatformIO would create DIR/build.
ifneq ($(MODEL_DIR),)
ifeq ($(wildcard $(MODEL_DIR)/.),)
$(error MODEL_DIR=$(MODEL_DIR) is not a folder (write one with: .venv/bin/python -m codegen CHECKPOINT -o $(MODEL_DIR)))
endif
export BITEAR_MODEL_DIR := $(abspath $(MODEL_DIR))
export PLATFORMIO_BUILD_DIR := $(abspath $(MODEL_DIR))/build
endif

BOARD ?= qemu_m4

.PHONY: setup apt build test demo listen bench fuzz clean

setup: apt $(VENV_STAMP) $(CORE_STAMP)

apt:
	@scripts/setup_apt.sh

$(VENV_STAMP): requirements.txt | apt
	@test -x $(VENV_PY) || $(PYTHON) -m venv $(VENV)
	$(VENV_PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(CORE_STAMP): $(VENV_STAMP) scripts/setup_platformio.py
	$(VENV_PY) scripts/setup_platformio.py
	@touch $@

# PlatformIO builds of qemu_m4 hold the build directory's lock (host/emulator.py: build_lock), so
# concurrent runs in one checkout wait for each other instead of breaking each other's build.
BUILD_LOCK = .pio/build/.bitear-build.lock
LOCKED = mkdir -p .pio/build && { flock -n $(BUILD_LOCK) true || echo "waiting for another build of this checkout to finish (lock $(BUILD_LOCK)) ..." >&2; } && flock $(BUILD_LOCK)

build: setup
	$(LOCKED) $(PIO) run -e qemu_m4

test: setup
	$(VENV_PY) -m pytest -q tests
	$(LOCKED) $(PIO) test -e qemu_m4
	$(LOCKED) $(PIO) test -e feather_f405
	$(PIO) test -e host

# The ten keywords (synthesized once, cached) streamed to the emulated board; ends with a summary.
demo: setup
	$(VENV_PY) -m host.demo --board $(BOARD)

# The live microphone -> a connected board, else the emulated one (Ctrl-C ends).
listen: setup
	$(VENV_PY) host/listen.py --board $(BOARD)

# Figures of DESIGN.md section 4 counted on the emulated Cortex-M4; last stdout line is JSON.
# Builds the application first so flash/RAM are those of the qemu_m4 firmware (pio test leaves its test image there).
bench: build
	$(VENV_PY) -m host.bench

# libFuzzer + ASan/UBSan on the protocol decoder and the front end (firmware/fuzz/), FUZZ_SECONDS
# each; the corpus stays in .pio/fuzz/ between runs. CI runs them for a few seconds (tests/test_fuzz.py).
FUZZ_SECONDS ?= 120
fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) PYTHON=$(VENV_PY) scripts/fuzz.sh

clean:
	rm -rf .pio
