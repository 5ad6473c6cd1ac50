"""Finding the board to talk to: the pyserial URL given, else the first known USB serial board that
answers HELLO, else the emulated board (host.emulator).

    from host.connect import open_board
    with open_board(None) as (port, description, emulator):   # a USB board that answers, else QEMU
        board = BoardClient(port)
"""
from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import Callable

import serial
from serial.tools import list_ports

from host.board import BoardClient
from host.emulator import Emulator, EmulatorError
from model.errors import BitearError

KNOWN_USB_VIDS = {0x2341: "Arduino", 0x2E8A: "Raspberry Pi", 0x0483: "STMicroelectronics", 0x239A: "Adafruit",
                  0x1366: "SEGGER", 0x0D28: "Arm DAPLink"}


def candidate_ports() -> list[tuple[str, str]]:
    """(device, description) of USB serial ports from known board vendors (pyserial list_ports)."""
    out = []
    for p in list_ports.comports():
        if p.vid in KNOWN_USB_VIDS:
            out.append((p.device, f"{KNOWN_USB_VIDS[p.vid]} {p.description or ''}".strip()))
    return out


def probe(url: str, baud: int, timeout: float = 2.5) -> bool:
    """True when a bitear board answers HELLO with READY on url."""
    try:
        with serial.serial_for_url(url, baudrate=baud, timeout=0.05) as port:
            BoardClient(port, timeout=timeout, ready_timeout=timeout).hello()
            return True
    except (BitearError, serial.SerialException, OSError, ValueError):
        return False


@contextlib.contextmanager
def open_board(url: str | None, baud: int = 115200, emulator: bool = False, elf: Path | None = None,
               on_info: Callable[[str, str], None] = lambda kind, message: None, emulated: str | None = None):
    """The board to talk to: the pyserial URL `url`; else (unless `emulator`) the first known USB
    board that answers HELLO; else the emulated board `emulated` (a key of host.emulator.BOARDS;
    None: its DEFAULT_BOARD), running `elf` (None: that board's build).
    Yields (port, description, Emulator or None); closes the port / stops QEMU afterwards.
    on_info(kind, message) hears what was found. BitearError when the port cannot be opened or
    QEMU cannot start."""
    if url is None and not emulator:
        for device, desc in candidate_ports():
            if probe(device, baud):
                url = device
                on_info("board", f"found {desc} on {device}")
                break
    if url is not None:
        try:
            port = serial.serial_for_url(url, baudrate=baud, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as e:
            raise BitearError(f"cannot open the board's port {url}: {e}") from None
        sock = getattr(port, "_socket", None)         # socket://: small frames must not wait for Nagle
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with port:
            yield port, url, None
        return
    try:
        emu = Emulator(elf, board=emulated)
        if not emulator:
            on_info("board", f"no board found: starting the emulated board {emu.board.env} (QEMU {emu.board.machine})")
        emu.__enter__()
    except EmulatorError as e:
        raise BitearError(f"cannot start the emulated board: {e}") from None
    try:
        yield emu.port, f"emulated board {emu.board.env} (QEMU {emu.board.machine})", emu
    finally:
        emu.close()
