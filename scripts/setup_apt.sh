#!/usr/bin/env bash
# Install the Debian/Ubuntu packages bitear needs, only those missing.
#
# When everything is installed this only asks dpkg and takes a fraction of a second; otherwise
# it runs `apt-get update` once and installs the missing packages, as root directly or through
# sudo. Without root and without usable sudo it stops with the command to run by hand.
#   gcc-arm-none-eabi libnewlib-arm-none-eabi  Cortex-M4 firmware (env qemu_m4)
#   qemu-system-arm                            the emulated boards (mps2-an386, netduinoplus2)
#   dfu-util stlink-tools                      flashing the STM32F405 board: USB DFU, or an ST-LINK probe
#   gcc libc6-dev                              host builds (env host, front end for Python)
#   clang                                      tinygrad's CPU backend; with libclang-rt-dev: libFuzzer and
#   libclang-rt-dev                            the sanitizers of clang (make fuzz, tests/test_fuzz.py)
#   python3 python3-venv                       the project's .venv
#   espeak-ng flite sox                        synthetic speech and audio conversion
#   festival festvox-kallpc16k                 synthetic speech, a third engine, with its English voices
#   festvox-kdlpc16k festvox-us-slt-hts        (model/synth.py FESTIVAL_VOICES)
#   libportaudio2                              microphone access for host/listen.py (sounddevice)
set -euo pipefail

PACKAGES=(
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm dfu-util stlink-tools
  gcc libc6-dev clang libclang-rt-dev python3 python3-venv
  espeak-ng flite sox libportaudio2
  festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup_apt: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi

echo "setup_apt: missing Debian packages: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup_apt: error: apt-get not found. bitear's set-up expects Debian or Ubuntu;" >&2
  echo "           install the equivalents of: ${missing[*]}" >&2
  exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
    SUDO=(sudo)  # asks for a password only when run from a terminal
  else
    echo "setup_apt: error: not root and sudo is not available without a password here." >&2
    echo "           Run once as root, then repeat the make command:" >&2
    echo "           apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup_apt: installed ${missing[*]}"
