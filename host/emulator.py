"""Run the bitear firmware on an emulated board (QEMU; Cortex-M4F) and talk to it.

    from host.emulator import Emulator
    with Emulator() as emu:                    # builds the qemu_m4 firmware, boots it, waits for READY
    with Emulator(board="feather_f405") as emu:  # the STM32F405 firmware in QEMU netduinoplus2
        print(emu.banner)                      # one line made from the READY frame
        print(emu.ready.labels)                # the READY message itself (host.protocol.Ready)
        board = emu.client()                   # a host.board.BoardClient on emu.port, after HELLO
        board.send_audio(samples)              # int16 at 16 kHz; waits for the board's credit
        for msg in board.messages(timeout=1.0):
            ...                                # Result / Detection messages
        print(board.get_stats().as_dict())

API (kept stable for host/listen.py, host/evaluate.py and the tests):
  Emulator(elf_path=None, *, board=None, boot_timeout=20.0, icount=True, read_timeout=1.0)
      context manager; elf_path None builds `pio run -e <board>` first (build_firmware()).
  BOARDS    the emulated boards by PlatformIO env (EmulatedBoard: machine, serial line, eval env)
  .port     an open pyserial port (the board's serial line); raw bytes of the protocol, docs/protocol.md
  .ready    the READY message the board sent at boot (host.protocol.Ready)
  .banner   a readable one-line summary of .ready (str)
  .client(**kw) -> BoardClient on .port that has said HELLO (kw: timeout, ready_timeout, poll_s)
  .pid, .process, .elf_path, qemu_stderr(), close()

Boards: qemu_m4 (QEMU mps2-an386, UART0) and feather_f405 (the Adafruit Feather STM32F405
Express firmware in QEMU netduinoplus2, the same chip; its USART3 is QEMU's third -serial). What
QEMU needs to know of a board (machine, which -serial is its line) is read from its board JSON
in boards/ (build.qemu_machine, build.qemu_serial_index), where the bitear-arm platform reads it too.

The board's serial line is a loopback TCP socket (QEMU -serial tcp:127.0.0.1:0,server=on,wait=on):
QEMU picks a free port, prints it, and does not start the guest before we are connected, so
no byte of the boot banner can be lost (with -serial pty, output sent before the pty is opened
is dropped). QEMU runs with -icount shift=0 (SysTick counts exactly 1 tick per 40 instructions,
so RESULT.cost is in instructions, as READY.cost_unit says) and semihosting on (the firmware can
end QEMU with an exit code). The boot wait reads up to the end of the CREDIT that follows READY
(if none came within 3 s it sends a HELLO and reads READY, CREDIT and its ACK), so the port is
handed over on a frame boundary with nothing pending. TCP_NODELAY is set on both ends: without
it, small frames (CREDIT, commands) waited for delayed ACKs and streaming ran 2.5x slower.

Concurrent runs in one checkout: build_firmware() holds an flock on the build directory while
PlatformIO builds (a second run says it waits) and returns a per-process copy of the ELF; an ELF
given from the build directory is copied under the same lock before QEMU boots it.

QEMU is always stopped when the `with` block ends, errors included, and also dies with this
Python process (Linux PR_SET_PDEATHSIG). Errors are EmulatorError with a message that says
what to do: QEMU missing, ELF missing or failing to build, no READY in time (with QEMU's
stderr and whatever the board did send).

`python -m host.emulator` builds the firmware, boots it, prints the READY banner and the board's
statistics after a HELLO, and exits.
"""

import argparse
import atexit
import contextlib
import json
import ctypes
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import serial

from model.errors import BitearError
from host.board import BoardClient
from host.protocol import COST_UNITS, VERSION, Ack, Credit, FrameDecoder, Hello, Ready, encode

ROOT = Path(__file__).resolve().parent.parent
QEMU = "qemu-system-arm"
HELLO_AFTER_S = 3.0          # no READY after boot within this long: ask with HELLO
HELLO_SEQ = 0xFFFF           # seq of that HELLO (a BoardClient starts at 0)
DEFAULT_BOARD = "qemu_m4"


class EmulatorError(RuntimeError):
    """The emulated board could not be started or did not answer."""


@dataclass(frozen=True)
class EmulatedBoard:
    """A firmware that runs in QEMU: its PlatformIO env, the evaluation build's env, and (from the
    board JSON, boards/<board_json>.json) the QEMU machine and the index of the -serial that is
    the board's serial line."""
    env: str
    eval_env: str
    board_json: str

    def _build(self) -> dict:
        return json.loads((ROOT / "boards" / f"{self.board_json}.json").read_text())["build"]

    @property
    def machine(self) -> str:
        return self._build()["qemu_machine"]

    def serial_args(self, line: str) -> list[str]:
        """-serial options: null for the UARTs before the board's line, then `line`."""
        return ["-serial", "null"] * int(self._build().get("qemu_serial_index", 0)) + ["-serial", line]

    def qemu_args(self) -> list[str]:
        """Machine, no display, no monitor, semihosting: what every QEMU run of it starts with."""
        return ["-M", self.machine, "-nographic", "-monitor", "none", "-semihosting-config", "enable=on,target=native"]


BOARDS = {
    "qemu_m4": EmulatedBoard("qemu_m4", "qemu_m4_eval", "mps2_an386"),
    "feather_f405": EmulatedBoard("feather_f405", "feather_f405_eval", "feather_f405"),
}


def emulated_board(name: str | None = None) -> EmulatedBoard:
    """BOARDS[name] (None: DEFAULT_BOARD), or a BitearError naming the boards there are."""
    try:
        return BOARDS[name or DEFAULT_BOARD]
    except KeyError:
        raise BitearError(f"unknown emulated board {name!r}: choose one of {', '.join(BOARDS)}") from None


EM_ARM = 40                  # ELF e_machine of Arm (AArch32)
_ELF_MACHINES = {3: "x86", 40: "Arm", 62: "x86-64", 183: "AArch64", 243: "RISC-V"}


def check_elf(path: Path) -> None:
    """BitearError (a user error, one line) unless path is a 32-bit Arm ELF file: missing, empty,
    not an ELF, or an ELF for another machine. Read before QEMU starts: QEMU would load any file
    as a raw image and lock up on it."""
    try:
        head = Path(path).read_bytes()[:20]
    except FileNotFoundError:
        raise BitearError(f"firmware ELF not found: {path} (build it with `make build`)") from None
    except OSError as err:
        raise BitearError(f"{path}: cannot read the firmware ELF ({err.strerror})") from None
    if not head:
        raise BitearError(f"{path}: the firmware ELF is empty (0 bytes)")
    if head[:4] != b"\x7fELF":
        raise BitearError(f"{path}: not an ELF file (starts with {head[:4]!r}, expected b'\\x7fELF')")
    if len(head) < 20:
        raise BitearError(f"{path}: ELF header cut short ({len(head)} bytes)")
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    if machine != EM_ARM or head[4] != 1:
        name = _ELF_MACHINES.get(machine, f"machine {machine}")
        raise BitearError(f"{path}: an ELF for {name}{'' if head[4] == 1 else ' (64-bit)'}, not for 32-bit Arm "
                          f"(e_machine {machine}, expected {EM_ARM}): pass the qemu_m4 firmware.elf")


def platformio_environment():
    """Environment for PlatformIO as the Makefile sets it (core dir in the project, quiet)."""
    env = dict(os.environ)
    env.setdefault("PLATFORMIO_CORE_DIR", str(ROOT / ".pio-core"))
    env.setdefault("PLATFORMIO_SETTING_ENABLE_TELEMETRY", "No")
    env.setdefault("PLATFORMIO_DISABLE_UPGRADE_CHECK", "true")
    return env


def build_dir():
    """PlatformIO's build directory: $PLATFORMIO_BUILD_DIR, else .pio/build in the repository."""
    return Path(os.environ.get("PLATFORMIO_BUILD_DIR") or ROOT / ".pio" / "build")


BUILD_LOCK = ".bitear-build.lock"     # in build_dir(); the Makefile's `pio test` takes it too (flock)


@contextlib.contextmanager
def build_lock(shared=False, out=sys.stderr):
    """Holds flock(2) on build_dir()/.bitear-build.lock: exclusive while PlatformIO builds, shared
    while an ELF is copied out of the build directory, so two runs in one checkout (make demo,
    make test, listen.py --emulator, host.evaluate) never build at once nor boot a half-written
    ELF. Says once on `out` when it has to wait for another build."""
    path = build_dir() / BUILD_LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as lock:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(lock, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another build of this checkout to finish (lock {path}) ...", file=out, flush=True)
            fcntl.flock(lock, mode)
        yield


_run_dir = None


def run_copy(elf):
    """A copy of elf in this process's own temporary folder (removed at exit), made under the
    shared build lock: what QEMU boots, so a build or `pio test` that rewrites the ELF meanwhile
    cannot change it."""
    global _run_dir
    if _run_dir is None:
        _run_dir = Path(tempfile.mkdtemp(prefix="bitear-run-"))
        atexit.register(shutil.rmtree, _run_dir, True)
    elf = Path(elf)
    target = _run_dir / f"{len(list(_run_dir.iterdir()))}-{elf.name}"
    shutil.copyfile(elf, target)
    return target


def build_firmware(env_name="qemu_m4"):
    """`pio run -e qemu_m4` (incremental; about a second when up to date) under the build lock.
    Returns a copy of the ELF made before the lock is released (run_copy)."""
    cmd = [sys.executable, "-m", "platformio", "run", "--silent", "-e", env_name, "-d", str(ROOT)]
    with build_lock():
        result = subprocess.run(cmd, cwd=ROOT, env=platformio_environment(), capture_output=True, text=True)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
            raise EmulatorError(f"building the firmware failed: {' '.join(cmd)}\n{tail}\n(run `make setup` first?)")
        return run_copy(build_dir() / env_name / "firmware.elf")


def _die_with_parent():
    """Runs in the QEMU child before exec: on Linux, get SIGKILL when the parent dies."""
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Emulator:
    """Context manager: QEMU running a bitear ELF, the board's serial line as `.port` (pyserial).

    elf_path: the ELF to run; None builds and runs the board's firmware.
    board: a key of BOARDS (the PlatformIO env): qemu_m4 (mps2-an386; None: DEFAULT_BOARD) or
    feather_f405 (netduinoplus2).
    boot_timeout: seconds to wait for QEMU's port and then for the READY frame.
    icount: deterministic instruction-counted time (-icount shift=0,align=off,sleep=off).
    """

    def __init__(self, elf_path=None, *, board=None, boot_timeout=20.0, icount=True, read_timeout=1.0):
        self.board = emulated_board(board)
        self.elf_path = Path(elf_path) if elf_path is not None else None
        self.boot_timeout = boot_timeout
        self.icount = icount
        self.read_timeout = read_timeout
        self.process = None
        self.port = None
        self.ready = None
        self.banner = None
        self.boot_hellos = 0             # HELLOs sent because READY did not come within HELLO_AFTER_S
        self._stderr = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False

    def start(self):
        qemu = shutil.which(QEMU)
        if qemu is None:
            raise EmulatorError(f"{QEMU} not found: install the Debian package qemu-system-arm (`make setup` does)")
        elf = self.elf_path if self.elf_path is not None else build_firmware(self.board.env)
        try:
            check_elf(elf)
        except BitearError as err:
            raise EmulatorError(str(err)) from None
        self.elf_path = elf
        if elf.resolve().is_relative_to(build_dir().resolve()):
            with build_lock(shared=True):       # an ELF a build may be rewriting: boot a copy of it
                elf = run_copy(elf)

        cmd = [qemu, *self.board.qemu_args(), *self.board.serial_args("tcp:127.0.0.1:0,server=on,wait=on,nodelay=on")]
        if self.icount:
            cmd += ["-icount", "shift=0,align=off,sleep=off"]
        cmd += ["-kernel", str(elf)]           # a per-run copy when it came from the build directory
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=self._stderr, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.boot_timeout
        tcp_port = self._wait_for_tcp_port(deadline)
        try:
            self.port = serial.serial_for_url(f"socket://127.0.0.1:{tcp_port}", timeout=self.read_timeout)
            # Small frames (CREDIT, commands) must not wait for Nagle's algorithm: it holds a
            # write back until the previous one is acknowledged, and loopback ACKs are delayed.
            self.port._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except serial.SerialException as exc:
            self._fail(f"could not connect to QEMU's serial port 127.0.0.1:{tcp_port}: {exc}")
        self.ready = self._wait_for_ready(deadline)
        self.banner = banner_line(self.ready)
        return self

    def client(self, **kw):
        """A BoardClient on this board's port, after HELLO -> READY, CREDIT, ACK (kw go to
        BoardClient: timeout, ready_timeout, poll_s). BitearError if the board does not answer."""
        board = BoardClient(self.port, **kw)
        board.hello(board.ready_timeout)
        return board

    def close(self):
        """Close the port and stop QEMU (terminate, then kill). Safe to call twice."""
        if self.port is not None:
            try:
                self.port.close()
            except Exception:  # noqa: BLE001 - closing a dead socket must not hide the real error
                pass
            self.port = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    # -- helpers -------------------------------------------------------------------------------

    def qemu_stderr(self):
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def _fail(self, what, received=b""):
        """EmulatorError in one line: what, QEMU's exit code and its own first words on stderr
        (e.g. "qemu: fatal: Lockup: ..."; the register dump after them is left out)."""
        if self.process.poll() is None:
            time.sleep(0.2)               # a QEMU that is dying: let its reason reach stderr
        exit_note = "" if self.process.poll() is None else f", QEMU exited with code {self.process.returncode}"
        lines = [line.strip() for line in self.qemu_stderr().splitlines()
                 if line.strip() and "waiting for connection" not in line]
        raise EmulatorError(f"{what}{exit_note} (ELF {self.elf_path}; received {len(received)} bytes "
                            f"{received[-40:]!r}; QEMU stderr: {lines[0] if lines else '(empty)'})")

    def _wait_for_tcp_port(self, deadline):
        # "... info: QEMU waiting for connection on: disconnected:tcp:127.0.0.1:41235,server=on"
        pattern = re.compile(r"waiting for connection on: \S*tcp:127\.0\.0\.1:(\d+)")
        while time.monotonic() < deadline:
            match = pattern.search(self.qemu_stderr())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                self._fail("QEMU stopped before opening its serial port")
            time.sleep(0.02)
        self._fail(f"QEMU did not open its serial port within {self.boot_timeout:.0f} s")

    def _wait_for_ready(self, deadline):
        """Decode the boot output up to READY and the CREDIT after it; returns the READY. The board
        sends them at boot; should they not come within HELLO_AFTER_S (seen once, on a heavily
        loaded machine), a HELLO asks again (docs/protocol.md: READY, CREDIT, ACK), and its ACK is
        read too, so the port is handed over with nothing pending."""
        decoder = FrameDecoder()
        received = b""
        ready = None
        hello_seq = None
        ask_at = time.monotonic() + HELLO_AFTER_S
        while time.monotonic() < deadline:
            try:
                data = self.port.read(self.port.in_waiting or 1)
            except serial.SerialException:        # QEMU closed the socket: it stopped
                try:
                    self.process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
                self._fail("the firmware stopped before its READY frame", received[-200:])
            received += data
            for msg in decoder.feed(data):
                if isinstance(msg, Ready):
                    ready = msg
                elif isinstance(msg, Credit) and ready is not None and hello_seq is None:
                    return ready
                elif isinstance(msg, Ack) and msg.ack_seq == hello_seq and ready is not None:
                    return ready
            if self.process.poll() is not None:
                self._fail("the firmware stopped before its READY frame", received[-200:])
            if ready is None and time.monotonic() > ask_at:
                hello_seq = HELLO_SEQ
                self.port.write(encode(Hello(seq=hello_seq)))
                self.boot_hellos += 1
                ask_at = time.monotonic() + HELLO_AFTER_S
        what = "no CREDIT after READY" if ready is not None else f"no READY frame (protocol v{VERSION})"
        self._fail(f"{what} within {self.boot_timeout:.0f} s", received[-200:])


def banner_line(ready):
    """One readable line from a READY message."""
    unit = COST_UNITS.get(ready.cost_unit, f"unit {ready.cost_unit}")
    return (f"bitear ready protocol={VERSION} board={ready.board} model={ready.model} "
            f"rate={ready.sample_rate_hz} hop={ready.hop_samples} infer_every={ready.infer_every_hops} "
            f"exits={ready.exits} cost={unit} labels={','.join(ready.labels)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--board", default=DEFAULT_BOARD, choices=sorted(BOARDS), help="the emulated board (PlatformIO env)")
    parser.add_argument("--elf", help="run this ELF instead of building the board's firmware")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for READY")
    args = parser.parse_args(argv)
    try:
        with Emulator(args.elf, board=args.board, boot_timeout=args.timeout) as emu:
            where = emu.elf_path.relative_to(ROOT) if emu.elf_path.is_relative_to(ROOT) else emu.elf_path
            print(f"emulated board ({emu.board.machine}, {where}) says:")
            print(f"  {emu.banner}")
            board = emu.client()
            stats = board.get_stats()
            print("  stats after HELLO: " + " ".join(f"{k}={v}" for k, v in stats.as_dict().items()))
    except (EmulatorError, BitearError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
