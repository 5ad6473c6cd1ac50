"""The board as seen from the host: BoardClient, a bitear board on a pyserial port, and finding
one (known USB serial boards, else the emulated board).

    from host.board import BoardClient, open_board
    with open_board(None) as (port, description, emulator):   # a USB board that answers, else QEMU
        board = BoardClient(port)
        ready = board.hello()                                   # READY: board, model, labels, ...
        board.set_detector(window_ms=750, threshold_q15=26214, suppression_ms=1500, min_count=3)
        board.set_period(2)                                     # an inference every 2 hops; .ready says so
        board.send_audio(samples)                               # int16, any length; waits for credit
        for msg in board.messages(timeout=1.0):                 # Result / Detection / ... as they arrive
            ...
        print(board.wait_processed().frames_dropped)            # STATS once every hop sent is processed

The credit rule (AUDIO hop < CREDIT.limit) lives here only: BoardClient.free_hops() says how
many hops may go now, send_audio() waits for credit before each hop. The board's notices about
AUDIO (docs/protocol.md §4: an ACK of an AUDIO frame) are counted, not handed to the caller:
status 0 = the board resynchronised to a new numbering (`.resyncs`), a NACK = an AUDIO hop it
refused as far off (`.refused_audio`). The wire format is
host/protocol.py; the conversation is docs/protocol.md.
"""
from __future__ import annotations

import collections
import contextlib
import socket
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from host import protocol as P
from model.errors import BitearError

KNOWN_USB_VIDS = {0x2341: "Arduino", 0x2E8A: "Raspberry Pi", 0x0483: "STMicroelectronics", 0x239A: "Adafruit",
                  0x1366: "SEGGER", 0x0D28: "Arm DAPLink"}


class BoardClient:
    """A bitear board on a pyserial port (a real serial port, or the emulator's socket).

    Entering sends HELLO and waits up to `ready_timeout` s for READY and the ACK (`.ready`).
    Commands wait up to `timeout` s for their ACK; a NACK raises BitearError naming the status.
    send_audio() sends AUDIO frames only while the board has granted credit (CREDIT: hop <
    limit), so a host faster than the board waits instead of overrunning it. READY, CREDIT and
    STATS update `.ready`, `.credit`, `.stats`; an ACK of an AUDIO frame is a notice, counted in
    `.resyncs` (status 0) or `.refused_audio` (a NACK; `.last_audio_refusal` names its status,
    BITEAR_ERR_ARG for a far-off hop);
    every other message (RESULT, DETECTION, command ACKs, ...) is kept in order for
    read()/messages(). The port stays open when the block ends (it belongs to
    the caller); its read timeout is set to `poll_s`.
    Errors: BitearError when the board does not answer in time or the port fails.
    """

    def __init__(self, port, timeout: float = 5.0, ready_timeout: float = 10.0, poll_s: float = 0.05):
        self.port = port
        self.timeout = timeout
        self.ready_timeout = ready_timeout
        self.decoder = P.FrameDecoder()
        self.ready: P.Ready | None = None
        self.credit: P.Credit | None = None
        self.stats: P.Stats | None = None       # the last STATS received
        self.next_hop = 0                       # hop index of the next AUDIO frame
        self.resyncs = 0                        # the board took a new AUDIO numbering (ACK of AUDIO, status 0)
        self.refused_audio = 0                  # AUDIO frames it refused (NACK of AUDIO: far off, BITEAR_ERR_ARG)
        self.last_audio_refusal: str | None = None   # status name of the last of them
        self._seq = 0
        self._inbox: collections.deque[P.Message] = collections.deque()
        self._pending = np.zeros(0, np.int16)   # samples short of a whole hop
        port.timeout = poll_s

    # -- context manager --
    def __enter__(self) -> "BoardClient":
        self.hello(self.ready_timeout)
        return self

    def __exit__(self, *exc) -> None:
        return None

    # -- I/O --
    def _write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except (OSError, ValueError) as err:  # serial.SerialException is an OSError
            raise BitearError(f"writing to the board failed ({err}): is it still connected?") from err

    def _pump(self) -> bool:
        """Read what the port has (waiting at most its timeout); True if a message arrived."""
        try:
            waiting = getattr(self.port, "in_waiting", 0)
            data = self.port.read(max(1, waiting))
        except (OSError, ValueError) as err:
            raise BitearError(f"the board went away: reading its port failed ({err})") from err
        got = False
        for msg in self.decoder.feed(data):
            if isinstance(msg, P.Credit):    # flow-control state, not for the caller's inbox
                self.credit = msg
            elif isinstance(msg, P.Ready):
                self.ready = msg
            elif isinstance(msg, P.Stats):
                self.stats = msg
            elif isinstance(msg, P.Ack) and msg.ack_type == P.MsgType.AUDIO:
                self._audio_notice(msg)
            else:
                self._inbox.append(msg)
                got = True
        return got

    def _audio_notice(self, ack: P.Ack) -> None:
        """AUDIO is not acknowledged; an ACK of it is the board's notice (docs/protocol.md §4)."""
        if ack.ok:
            self.resyncs += 1
        else:
            self.refused_audio += 1
            self.last_audio_refusal = P.status_name(ack.status)   # BITEAR_ERR_ARG: far off; else malformed

    @property
    def next_seq(self) -> int:
        """Sequence number of the next frame this client sends."""
        return self._seq

    def send(self, msg_type: type[P.Message], *args, **kw) -> int:
        """Send a message with the next sequence number; returns that number."""
        seq = self._seq
        self._seq = (self._seq + 1) & 0xFFFF
        self._write(P.encode(msg_type(*args, seq=seq, **kw)))
        return seq

    def _wait(self, done, timeout: float, what: str) -> None:
        """Read from the port until done() is true; BitearError after timeout s."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                c = self.decoder.counters
                raise BitearError(f"no {what} from the board within {timeout:g} s (frames decoded {c['frames']}, "
                                  f"damaged {sum(c.values()) - c['frames']}): is the firmware running and speaking "
                                  f"protocol v{P.VERSION}?")
            self._pump()

    def wait_for(self, predicate, timeout: float, what: str) -> P.Message:
        """The first message in the inbox (already received or arriving within timeout) that
        matches predicate; it is taken out, the others stay. BitearError on timeout."""
        found: list[P.Message] = []

        def done() -> bool:
            for i, msg in enumerate(self._inbox):
                if predicate(msg):
                    found.append(msg)
                    del self._inbox[i]
                    return True
            return False

        self._wait(done, timeout, what)
        return found[0]

    def read(self, timeout: float = 0.0) -> P.Message | None:
        """The next message not yet taken (waiting up to timeout s), or None."""
        deadline = time.monotonic() + timeout
        while not self._inbox:
            if self._pump() or time.monotonic() >= deadline:
                break
        return self._inbox.popleft() if self._inbox else None

    def messages(self, timeout: float = 0.0) -> Iterator[P.Message]:
        """Messages as they come, until none arrives for `timeout` s."""
        while (msg := self.read(timeout)) is not None:
            yield msg

    # -- commands --
    def command(self, msg_type: type[P.Message], *args, timeout: float | None = None, **kw) -> P.Ack:
        seq = self.send(msg_type, *args, **kw)
        ack = self.wait_for(lambda m: isinstance(m, P.Ack) and m.ack_seq == seq, timeout or self.timeout,
                            f"ACK for {msg_type.TYPE.name} (seq {seq})")
        if not ack.ok:
            raise BitearError(f"the board refused {msg_type.TYPE.name}: {P.status_name(ack.status)}")
        return ack

    def hello(self, timeout: float | None = None) -> P.Ready:
        """HELLO -> READY, CREDIT, ACK; returns the READY (also kept as .ready)."""
        timeout = timeout or self.timeout
        self.ready = None
        seq = self.send(P.Hello)
        self._wait(lambda: self.ready is not None, timeout, "READY banner")
        self.wait_for(lambda m: isinstance(m, P.Ack) and m.ack_seq == seq, timeout, f"ACK for HELLO (seq {seq})")
        return self.ready

    def get_stats(self) -> P.Stats:
        """GET_STATS -> STATS (kept as .stats), ACK."""
        self.stats = None
        self.command(P.GetStats)
        if self.stats is None:
            raise BitearError("the board acknowledged GET_STATS but sent no STATS before the ACK")
        return self.stats

    def set_threshold(self, threshold_q16: int, exit_index: int = P.EXIT_ALL) -> None:
        self.command(P.SetThreshold, exit_index, threshold_q16)

    def set_full_depth(self) -> None:
        self.command(P.SetThreshold, P.EXIT_ALL, P.THRESHOLD_NEVER)

    def set_detector(self, window_ms: int, threshold_q15: int, suppression_ms: int, min_count: int) -> None:
        self.command(P.SetDetector, window_ms, threshold_q15, suppression_ms, min_count)

    def set_period(self, infer_every: int) -> P.Ready:
        """SET_PERIOD: an inference every `infer_every` hops (1 .. 255), then HELLO, so that .ready
        holds the period the board reports now; returns that READY. BitearError for a NACK
        (BITEAR_ERR_ARG for 0; BITEAR_ERR_UNSUPPORTED from a board older than SET_PERIOD) or a READY
        that reports another period."""
        self.command(P.SetPeriod, infer_every)
        ready = self.hello()
        if ready.infer_every_hops != infer_every:
            raise BitearError(f"the board acknowledged SET_PERIOD {infer_every} but its READY says an inference "
                              f"every {ready.infer_every_hops} hops")
        return ready

    def reset(self, stats: bool = True, stream: bool = True) -> None:
        """RESET; after a stream reset the next AUDIO is hop 0 again (the board sends a new CREDIT)."""
        self.command(P.Reset, (P.RESET_STATS if stats else 0) | (P.RESET_STREAM if stream else 0))
        if stream:
            self.next_hop = 0
            self._pending = np.zeros(0, np.int16)

    # -- audio --
    def send_audio(self, samples: np.ndarray, timeout: float | None = None) -> int:
        """Send int16 samples as AUDIO hops, waiting for credit before each; samples short of a
        whole hop (and, after an error, the hops not sent) wait for the next call. Returns the
        number of hops sent. BitearError past hop HOP_MAX (0xFFFFFFFE, 2.7 years of audio): the
        stream must be RESET (reset(stream=True)) to go on."""
        buf = np.concatenate([self._pending, np.asarray(samples, np.int16).ravel()])
        sent = 0
        try:
            while len(buf) - sent * P.AUDIO_SAMPLES >= P.AUDIO_SAMPLES:
                if self.next_hop > P.HOP_MAX:
                    raise BitearError(f"AUDIO hop {self.next_hop} is past the last stream position {P.HOP_MAX} "
                                      "(docs/protocol.md §4): RESET the stream (BoardClient.reset) to go on")
                self.wait_credit(timeout or self.timeout)
                pcm = buf[sent * P.AUDIO_SAMPLES:(sent + 1) * P.AUDIO_SAMPLES].astype("<i2").tobytes()
                self.send(P.Audio, self.next_hop, pcm)
                self.next_hop += 1
                sent += 1
        finally:
            self._pending = buf[sent * P.AUDIO_SAMPLES:].copy()
        return sent

    def wait_processed(self, timeout: float | None = None) -> P.Stats:
        """GET_STATS until the board has processed every AUDIO hop sent (STATS.hops reaches
        next_hop: its queue is worked off); returns that STATS. AUDIO frames are taken into the
        board's queue when they arrive but processed later, so STATS read right after the last
        RESULT may still miss the hops that come after it. Messages arriving meanwhile stay for
        read(). BitearError after timeout s."""
        timeout = timeout or self.timeout
        deadline = time.monotonic() + timeout
        while (stats := self.get_stats()).hops < self.next_hop:
            if time.monotonic() > deadline:
                raise BitearError(f"the board processed {stats.hops} of the {self.next_hop} AUDIO hops sent "
                                  f"within {timeout:g} s: it stopped consuming audio")
            self._pump()
        return stats

    def free_hops(self) -> int:
        """AUDIO hops the board's credit allows now (CREDIT: hop < limit); 0 before any CREDIT."""
        return 0 if self.credit is None else max(0, self.credit.limit - self.next_hop)

    def wait_credit(self, timeout: float) -> None:
        """Read from the board until it grants credit for the next hop; BitearError after timeout s."""
        deadline = time.monotonic() + timeout
        while self.free_hops() == 0:
            if time.monotonic() > deadline:
                limit = "none" if self.credit is None else self.credit.limit
                raise BitearError(f"the board granted no credit for AUDIO hop {self.next_hop} within {timeout:g} s "
                                  f"(credit limit {limit}): it stopped consuming audio")
            self._pump()


# ---- finding a board ------------------------------------------------------------------------------

def candidate_ports() -> list[tuple[str, str]]:
    """(device, description) of USB serial ports from known board vendors (pyserial list_ports)."""
    from serial.tools import list_ports

    out = []
    for p in list_ports.comports():
        if p.vid in KNOWN_USB_VIDS:
            out.append((p.device, f"{KNOWN_USB_VIDS[p.vid]} {p.description or ''}".strip()))
    return out


def probe(url: str, baud: int, timeout: float = 2.5) -> bool:
    """True when a bitear board answers HELLO with READY on url."""
    import serial

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
    import serial

    from host.emulator import Emulator, EmulatorError

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
