"""firmware/lib/board_arduino/board_arduino.cpp, built without an Arduino core: against stand-in
Arduino headers (Serial, PDM, delay, micros) with the host compilers, linked with the weak
defaults of firmware/lib/board/board_defaults.c. A board without microphone (any core but the
Nano 33 BLE Sense) takes mic_* from the defaults; the Nano's PDM code replaces them. What this does
not show: that the real cores compile it (that needs the PlatformIO registry, see README.md)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from model.paths import PLUGIN_DIR

ROOT = Path(__file__).resolve().parent.parent
BOARD = ROOT / "firmware" / "lib" / "board"
ARDUINO = ROOT / "firmware" / "lib" / "board_arduino" / "board_arduino.cpp"
PLUGIN = PLUGIN_DIR

ARDUINO_H = r"""
#pragma once
#include <stddef.h>
#include <stdint.h>
struct StandInSerial {
    void begin(long) {}
    explicit operator bool() const { return true; }
    size_t write(uint8_t) { return 1; }
    size_t write(const uint8_t *, size_t n) { return n; }
    size_t print(const char *) { return 0; }
    size_t print(int) { return 0; }
    size_t println(int) { return 0; }
    int available() { return 0; }
    int read() { return -1; }
    void flush() {}
};
extern StandInSerial Serial;
inline void delay(unsigned long) {}
inline unsigned long micros() { return 1234u; }
"""
PDM_H = r"""
#pragma once
struct StandInPDM {
    void onReceive(void (*)(void)) {}
    int begin(int, int) { return 1; }
    int available() { return 0; }
    int read(void *, int) { return 0; }
};
extern StandInPDM PDM;
"""
OBJECTS_CPP = r"""
#include <Arduino.h>
#include <PDM.h>
StandInSerial Serial;
StandInPDM PDM;
"""
MAIN_C = r"""
#include <stdio.h>
#include "bitear_board.h"
void bitear_app_setup(void) {}
void bitear_app_loop(void) {}
int main(void)
{
    bitear_board_init();
    int16_t s[2];
    printf("%s %d %u %u %u %u %u %u %u\n", bitear_board_name(), bitear_board_mic_start(16000u),
           (unsigned)bitear_board_mic_read(s, 2u), (unsigned)bitear_board_mic_dropped(),
           (unsigned)bitear_board_stack_size(), (unsigned)bitear_board_rx_dropped(),
           (unsigned)bitear_board_rx_capacity(), (unsigned)bitear_board_cost_unit(),
           (unsigned)bitear_board_cost(77u));
    return 0;
}
"""


def build_and_run(tmp: Path, defines: list[str]) -> list[str]:
    cxx, cc = shutil.which("clang++") or shutil.which("g++"), shutil.which("gcc")
    if cxx is None or cc is None:
        pytest.skip("needs gcc and clang++ (or g++): run `make setup`")
    (tmp / "inc").mkdir(exist_ok=True)
    (tmp / "inc" / "Arduino.h").write_text(ARDUINO_H)
    (tmp / "inc" / "PDM.h").write_text(PDM_H)
    (tmp / "objects.cpp").write_text(OBJECTS_CPP)
    (tmp / "main.c").write_text(MAIN_C)
    inc = ["-I", str(tmp / "inc"), "-I", str(BOARD), "-I", str(PLUGIN)]
    cxxflags = ["-std=c++11", "-Wall", "-Wextra", "-Werror", "-fno-exceptions", "-fno-rtti", "-DARDUINO=10819", *defines]
    cflags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-DARDUINO=10819"]
    objs = []
    for compiler, flags, src in [(cxx, cxxflags, ARDUINO), (cxx, cxxflags, tmp / "objects.cpp"),
                                 (cc, cflags, BOARD / "board_defaults.c"), (cc, cflags, tmp / "main.c")]:
        obj = tmp / (src.stem + ".o")
        result = subprocess.run([compiler, *flags, *inc, "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        objs.append(str(obj))
    exe = tmp / "board"
    result = subprocess.run([cc, *objs, "-o", str(exe)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()


def test_board_without_microphone_takes_the_weak_defaults(tmp_path):
    name, mic, read, dropped, stack, rx_dropped, rx_capacity, unit, cost = build_and_run(tmp_path, [])
    assert name == "arduino" and mic == "-1" and (read, dropped, stack, rx_dropped, rx_capacity) == ("0",) * 5
    assert (unit, cost) == ("2", "77")          # no DWT on this CPU: microseconds, one per tick


def test_the_nano_pdm_microphone_replaces_the_defaults(tmp_path):
    name, mic, read, dropped, stack, *_ = build_and_run(tmp_path, ["-DARDUINO_ARDUINO_NANO33BLE"])
    assert name == "nano33ble" and mic == "0" and (read, dropped, stack) == ("0", "0", "0")
