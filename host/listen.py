"""bitear's live demo: stream audio to a board (or the emulated one) and show what it hears.

    python host/listen.py                      # microphone -> first board found, else the emulated board
    python host/listen.py --wav words.wav      # a WAV file (any rate / channels), as fast as the board takes it
    python host/listen.py --port /dev/ttyACM0 --realtime --wav words.wav
    python host/listen.py --list-devices       # microphones sounddevice sees
    python -m host.listen ...                  # the same

Board: `--port` takes any pyserial URL (/dev/ttyACM0, COM3, socket://127.0.0.1:4000, ...);
without it, USB serial ports of known board vendors (pyserial's list_ports) are asked for the
READY banner one by one, and when none answers the emulated board is started (QEMU
mps2-an386 running the qemu_m4 firmware; `--emulator` skips the search). The conversation is
protocol v1 (docs/protocol.md) through host.board.BoardClient: HELLO -> READY, settings
(`--infer-every N`: an inference every N hops, SET_PERIOD, then HELLO again so that the READY shown
says N; `--threshold` / `--full-depth`: exit thresholds; `--window-ms`, `--detect-threshold`,
`--suppression-ms`, `--min-count`: the board's keyword detector, whose minimum count otherwise follows
the period as the board sets it, host.detector.min_count_for_period), then AUDIO hops under the
board's credit — a WAV goes as fast as the board takes it (`--realtime` paces it to the clock);
microphone audio the board cannot take in time is dropped on the host and counted.

Output: on a terminal a live view (rich): recent detections (time, word, score, exit, cost),
score bars of the latest RESULT, stream statistics (hops sent, dropped, overruns, CRC errors,
the board's AUDIO notices: resyncs and refused hops, docs/protocol.md §4).
Without a terminal plain lines (detections, resets, a closing summary; `--results` adds every
RESULT). `--json`: one JSON object per event and line (ready, result, detection, stats, reset,
end, error; ready and end carry the inference period the board reported, infer_every_hops).

This file holds the session and the command line; the views are host/listen_views.py, finding
and talking to a board host/board.py.

Ending: a WAV ends by itself once the board has processed every hop (its STATS say so); Ctrl-C
ends the microphone (exit code 0). A board that vanishes (port closed, QEMU gone) ends with a
message and exit code 1; user errors (bad WAV, no device) exit with code 2. A board that resets
(a new READY nobody asked for) is greeted again, configured again, and streaming continues.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):          # `python host/listen.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from codegen.intmodel import threshold_q16
from host import protocol as P
from host.audio_input import MicSource, WavSource, list_devices
from host.board import BoardClient
from host.connect import open_board
from host.detector import DetectorParams, min_count_for_period
from host.emulator import DEFAULT_BOARD, check_elf, emulated_board
from host.listen_views import DetectionEvent, JsonView, ListenSummary, PlainView, RichView, View
from model.errors import BitearError
from model.facts import DETECTOR_LIMITS, HOP, PERIOD_LIMITS, SAMPLE_RATE

HOP_S = HOP / SAMPLE_RATE
MAX_BACKLOG_S = 1.0        # microphone audio waiting for credit beyond this is dropped
REALTIME_WAIT_S = 0.1     # real-time audio: longest wait for credit before the next chunk
STATS_EVERY_S = 1.0
STALL_S = 15.0             # no credit and no progress for this long: the board stopped


class BoardError(BitearError):
    """The board or its line failed during the session (exit code 1; user errors are 2)."""


# ---- the session ----------------------------------------------------------------------------------

@dataclass
class Options:
    wav: Path | None = None
    device: int | str | None = None
    port: str | None = None
    emulator: bool = False
    elf: Path | None = None
    board: str | None = None            # which emulated board (host.emulator.BOARDS; None: the default)
    baud: int = 115200
    realtime: bool = False
    threshold: float | None = None
    full_depth: bool = False
    window_ms: int | None = None
    detect_threshold: float | None = None
    suppression_ms: int | None = None
    min_count: int | None = None
    infer_every: int | None = None
    tail_s: float = 1.0

    def detector_params(self, period_hops: int) -> P.SetDetector | None:
        """SET_DETECTOR for the detector options given (None when none is): the others keep their
        defaults, the minimum count the one the board sets at an inference every period_hops hops."""
        if all(v is None for v in (self.window_ms, self.detect_threshold, self.suppression_ms, self.min_count)):
            return None
        d = DetectorParams()
        q15 = d.threshold_q15 if self.detect_threshold is None else int(round(self.detect_threshold * 32768))
        return P.SetDetector(d.window_ms if self.window_ms is None else self.window_ms, q15,
                             d.suppression_ms if self.suppression_ms is None else self.suppression_ms,
                             min_count_for_period(max(1, period_hops)) if self.min_count is None else self.min_count)


class Session:
    """One streaming session on an open port (see run())."""

    def __init__(self, port, opts: Options, view: View, summary: ListenSummary, emulator=None):
        self.opts, self.view, self.summary, self.emulator = opts, view, summary, emulator
        self.board = BoardClient(port, timeout=5.0, ready_timeout=15.0, poll_s=0.02)
        self.backlog = np.zeros(0, np.int16)
        self.hop_base = 0               # host hop index of the board's hop 0 (changes after a board reset)
        self.last_result: P.Result | None = None
        self.next_stats = 0.0
        self.last_progress = time.monotonic()

    # -- set-up --
    def handshake(self) -> None:
        ready = self.board.hello()
        self.known_ready = ready
        self.summary.ready = ready
        self.board.reset()              # a clean stream from hop 0, statistics from zero
        if self.opts.infer_every is not None:
            try:
                self.board.set_period(self.opts.infer_every)      # then READY again: the period it runs at
            except BitearError as e:
                raise BitearError(f"--infer-every {self.opts.infer_every}: {e}") from None
        if self.opts.full_depth:
            self.board.set_full_depth()
        elif self.opts.threshold is not None:
            self.board.set_threshold(threshold_q16(self.opts.threshold))
        det = self.opts.detector_params(self.board.ready.infer_every_hops)
        if det is not None:
            self.board.set_detector(det.window_ms, det.threshold_q15, det.suppression_ms, det.min_count)
        self.known_ready = self.summary.ready = self.board.ready
        self.hop_base = self.summary.hops_sent

    # -- incoming --
    def _check_alive(self) -> None:
        if self.emulator is not None and self.emulator.process.poll() is not None:
            raise BitearError(f"the emulated board stopped (QEMU exited with code {self.emulator.process.returncode})")

    def _bytes_waiting(self) -> bool:
        try:
            return self.board.port.in_waiting > 0
        except (OSError, ValueError):      # a dead port: let the next read report it
            return True

    def poll(self, timeout: float = 0.0) -> None:
        """Handle everything the board has sent (and what arrives within timeout s). Each
        BoardClient.read(0) reads what the port says is waiting — one byte at a time on a
        socket:// port, whose in_waiting is only 0 or 1 — so read until nothing is left."""
        self._check_alive()
        deadline = time.monotonic() + timeout
        while True:
            msg = self.board.read(0)
            if msg is not None:
                self.handle(msg)
            elif not self._bytes_waiting() and time.monotonic() >= deadline:
                break
        self.summary.crc_errors_host = self.board.decoder.counters["crc_errors"]
        self.summary.resyncs, self.summary.refused_audio = self.board.resyncs, self.board.refused_audio
        if self.board.ready is not self.known_ready:
            self.board_reset()

    def handle(self, msg: P.Message) -> None:
        labels = self.summary.ready.labels
        if isinstance(msg, P.Result):
            self.summary.results += 1
            self.summary.costs.append(msg.cost)
            self.last_result = msg
            self.last_progress = time.monotonic()
            self.view.result(msg, (self.hop_base + msg.hop) * HOP_S)
        elif isinstance(msg, P.Detection):
            same = self.last_result if self.last_result is not None and self.last_result.hop == msg.hop else None
            det = DetectionEvent((self.hop_base + msg.hop) * HOP_S,
                                 labels[msg.label] if msg.label < len(labels) else str(msg.label), msg.score_q15 / 32768,
                                 None if same is None else same.exit_index, None if same is None else same.cost)
            self.summary.detections.append(det)
            self.view.detection(det)

    def board_reset(self) -> None:
        """A READY nobody asked for: the board restarted. Greet and configure it again."""
        self.summary.resets += 1
        self.view.info("reset", f"the board restarted (new READY): handshake again, streaming continues "
                                f"(audio it had queued is lost)")
        self.last_result = None
        self.handshake()

    def refresh_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now >= self.next_stats:
            self.next_stats = now + STATS_EVERY_S
            try:
                stats = self.board.get_stats()
            except BitearError:
                if self.board.ready is self.known_ready:
                    raise
                self.board_reset()      # the board restarted while we waited for the ACK
                return
            self.summary.stats = stats.as_dict()
            self.view.stats(self.summary.stats)

    # -- outgoing --
    def send_some(self) -> int:
        """Send as many whole hops of the backlog as the board's credit allows; returns how many."""
        n = min(self.board.free_hops(), len(self.backlog) // HOP)
        if n > 0:
            self.board.send_audio(self.backlog[:n * HOP])
            self.backlog = self.backlog[n * HOP:]
            self.summary.hops_sent += n
            self.summary.audio_s = self.summary.hops_sent * HOP_S
            self.last_progress = time.monotonic()
        return n

    def stalled(self) -> None:
        if time.monotonic() - self.last_progress > STALL_S:
            raise BitearError(f"the board took no audio and sent no result for {STALL_S:.0f} s: it stopped working")

    def stream(self, chunks, realtime: bool) -> None:
        max_backlog = int(MAX_BACKLOG_S * SAMPLE_RATE)
        for chunk in chunks:
            self.backlog = np.concatenate([self.backlog, np.asarray(chunk, np.int16)])
            if realtime and len(self.backlog) > max_backlog:     # the board cannot keep up: drop the oldest
                drop = (len(self.backlog) - max_backlog) // HOP * HOP
                self.backlog = self.backlog[drop:]
                self.summary.host_dropped_hops += drop // HOP
            # Send what the credit allows, waiting for more: a file as fast as the board takes it;
            # real-time audio for at most REALTIME_WAIT_S (the source buffers meanwhile).
            budget = time.monotonic() + REALTIME_WAIT_S
            while len(self.backlog) >= HOP:
                if self.send_some() == 0:
                    if realtime and time.monotonic() > budget:
                        break
                    self.poll(0)
                    self.stalled()
            self.poll(0)
            self.refresh_stats()

    def board_listens(self) -> None:
        """A board with its own microphone: show what it reports until Ctrl-C."""
        self.view.info("board", "it listens with its own microphone: speak to the board (Ctrl-C ends)")
        while True:
            self.poll(0.05)
            self.refresh_stats()
            if self.summary.stats:
                self.summary.audio_s = self.summary.stats.get("hops", 0) * HOP_S

    def finish(self) -> None:
        """Send the last partial hop (zero-padded), then wait until the board processed everything."""
        if len(self.backlog) % HOP:
            self.backlog = np.concatenate([self.backlog, np.zeros(HOP - len(self.backlog) % HOP, np.int16)])
        while len(self.backlog) >= HOP:
            if self.send_some() == 0:
                self.poll(0)
                self.stalled()
        while True:
            self.poll(0.05)
            self.refresh_stats(force=True)
            if self.summary.stats.get("hops", 0) >= self.board.next_hop:
                break
            self.stalled()
        self.poll(0.1)


def run(opts: Options, view: View, source=None, port=None) -> ListenSummary:
    """Stream opts' audio (or `source`) to the board (opts' or the open pyserial-like `port`) and
    report to view; returns the summary. A board with its own microphone (CREDIT capacity 0)
    takes no audio: then only what it reports is shown, until Ctrl-C. BitearError for a bad
    source, BoardError for anything that ends the session on the board's side."""
    summary = ListenSummary()
    if source is None and opts.wav:                  # a bad file is reported before any board is opened
        source = WavSource(opts.wav, realtime=opts.realtime, tail_s=opts.tail_s)
    with contextlib.ExitStack() as stack:
        if port is not None:
            board_desc, emu = "the given port", None
        else:
            try:
                port, board_desc, emu = stack.enter_context(open_board(opts.port, opts.baud, opts.emulator, opts.elf, view.info,
                                                                      emulated=opts.board))
            except BitearError as e:
                raise BoardError(str(e)) from None
        t0 = time.monotonic()
        session = Session(port, opts, view, summary, emu)
        try:
            session.handshake()
        except BitearError as e:
            raise BoardError(str(e)) from None
        own_mic = session.board.credit is not None and session.board.credit.capacity == 0
        if own_mic and source is not None:
            raise BitearError(f"the board ({summary.ready.board}) listens with its own microphone and takes no "
                              "audio from the host (CREDIT capacity 0): run without --wav")
        if not own_mic:
            source = source or MicSource(opts.device)
            stack.enter_context(source)
        view.start(summary, "the board's own microphone" if own_mic else source.describe(), board_desc)
        stack.callback(view.stop)
        view.ready(summary.ready, {"emulator_pid": emu.pid} if emu is not None else {})
        try:
            if own_mic:
                session.board_listens()
            else:
                session.stream(source.chunks(), realtime=source.realtime)
                session.finish()
        except KeyboardInterrupt:
            summary.stopped_by_user = True
            with contextlib.suppress(BitearError, KeyboardInterrupt):
                session.refresh_stats(force=True)
        except BitearError as e:
            raise BoardError(str(e)) from None
        finally:
            summary.wall_s = time.monotonic() - t0
        view.end(summary)
    return summary


# ---- command line ---------------------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python host/listen.py", description=__doc__.split("\n")[0])
    src = ap.add_argument_group("audio")
    src.add_argument("--wav", type=Path, help="stream this WAV file (any rate / channels) instead of the microphone")
    src.add_argument("--device", help="microphone: sounddevice index or name (default: the system's default input)")
    src.add_argument("--list-devices", action="store_true", help="list the audio input devices and exit")
    src.add_argument("--realtime", action="store_true", help="pace a WAV file to the clock (the microphone always is)")
    src.add_argument("--tail", type=float, default=1.0, metavar="S", help="seconds of silence after a WAV (default 1)")
    brd = ap.add_argument_group("board")
    brd.add_argument("--port", help="the board's serial port: any pyserial URL (default: search, else the emulated board)")
    brd.add_argument("--emulator", action="store_true", help="use the emulated board without searching for a real one")
    brd.add_argument("--board", default=DEFAULT_BOARD, help=f"which emulated board: {DEFAULT_BOARD} (default; QEMU "
                     "mps2-an386) or feather_f405 (the STM32F405 firmware in QEMU netduinoplus2)")
    brd.add_argument("--elf", type=Path, help="with the emulated board: run this ELF instead of building its firmware")
    brd.add_argument("--baud", type=int, default=115200, help="serial rate of a real board (default 115200)")
    net = ap.add_argument_group("network and detector (sent to the board)")
    net.add_argument("--infer-every", type=int, metavar="N", help="an inference every N hops of 20 ms, "
                     f"{PERIOD_LIMITS[0]}..{PERIOD_LIMITS[1]} (default: the board's own period)")
    net.add_argument("--threshold", type=float, help="early-exit threshold in [0, 1] for all exits (normalized entropy)")
    net.add_argument("--full-depth", action="store_true", help="never exit early")
    net.add_argument("--window-ms", type=int, help="detector: averaging window")
    net.add_argument("--detect-threshold", type=float, help="detector: averaged score needed, in [0, 1]")
    net.add_argument("--suppression-ms", type=int, help="detector: quiet time after a detection")
    net.add_argument("--min-count", type=int, help="detector: results needed in the window")
    out = ap.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="one JSON object per event and line")
    out.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    out.add_argument("--results", action="store_true", help="plain output: a line for every RESULT too")
    return ap.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise BitearError(f"--threshold must be in [0, 1], found {args.threshold}")
    if args.detect_threshold is not None and not 0.0 <= args.detect_threshold <= 1.0:
        raise BitearError(f"--detect-threshold must be in [0, 1], found {args.detect_threshold}")
    if args.full_depth and args.threshold is not None:
        raise BitearError("--full-depth and --threshold contradict each other: give one")
    for key, (low, high) in DETECTOR_LIMITS.items():       # the ranges bitear_detector.h takes
        value = getattr(args, key)
        if value is not None and not low <= value <= high:
            raise BitearError(f"--{key.replace('_', '-')} must be in [{low}, {high}] (what the board's detector "
                              f"takes), found {value}")
    low, high = PERIOD_LIMITS
    if args.infer_every is not None and not low <= args.infer_every <= high:
        raise BitearError(f"--infer-every must be in [{low}, {high}] (hops of 20 ms between inferences, what "
                          f"SET_PERIOD carries), found {args.infer_every}")
    if not 0.0 <= args.tail < float("inf"):
        raise BitearError(f"--tail must be a number of seconds >= 0, found {args.tail}")
    emulated_board(args.board)              # an unknown board is the user's error
    if args.elf is not None:
        check_elf(args.elf)                 # before QEMU starts: a wrong file is the user's error
    device = int(args.device) if args.device is not None and args.device.isdigit() else args.device
    return Options(wav=args.wav, device=device, port=args.port, emulator=args.emulator, elf=args.elf, board=args.board,
                   baud=args.baud,
                   realtime=args.realtime, threshold=args.threshold, full_depth=args.full_depth,
                   window_ms=args.window_ms, detect_threshold=args.detect_threshold,
                   suppression_ms=args.suppression_ms, min_count=args.min_count, infer_every=args.infer_every,
                   tail_s=args.tail)


def make_view(args: argparse.Namespace) -> View:
    if args.json:
        return JsonView(results=True)
    if args.plain or not sys.stdout.isatty():
        return PlainView(results=args.results)
    return RichView()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    view: View | None = None
    try:
        if args.list_devices:
            print(list_devices())
            return 0
        opts = options_from(args)
        view = make_view(args)
        summary = run(opts, view)
        return 0 if summary.ready is not None else 1
    except KeyboardInterrupt:       # before streaming started (e.g. while QEMU boots)
        print("stopped (Ctrl-C)", file=sys.stderr)
        return 0
    except BitearError as e:
        if view is not None:
            with contextlib.suppress(Exception):
                view.stop()
        if isinstance(view, JsonView):
            view.info("error", str(e))
        print(f"error: {e}", file=sys.stderr)
        return 1 if isinstance(e, BoardError) else 2


if __name__ == "__main__":
    sys.exit(main())
