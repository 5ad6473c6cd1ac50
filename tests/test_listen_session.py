"""host/listen.py's session logic against a simulated board (a pyserial-like object speaking
protocol v1 in Python): results and detections reach the views with the right times, a WAV
ends by itself once the board processed every hop, a board reset mid-stream is survived
(handshake again, configure again, continue), a vanished board is a BoardError, microphone
audio the board cannot take is dropped on the host and counted. The real firmware is exercised
end to end in tests/test_listen.py (emulated board)."""
from __future__ import annotations

import collections
import io
import json
import time

import numpy as np
import pytest
import serial

from host import listen
from host import protocol as P
from model.facts import LABELS
from model.audio import write_wav
from tests.sim_board import BoardWire

EVERY = 2


class SimBoard(BoardWire):
    """The firmware's conversation in Python: READY/CREDIT, ACKs, a queue of `capacity` hops
    worked off `per_read` hops per read(), a RESULT every EVERY hops (SET_PERIOD changes it; a
    board with `set_period=False` predates it) from hop 49 on (label =
    the hop's mean sample mod 12, so tests choose what is "heard"), a DETECTION when the label
    is 2..11 and changed, STATS with `hops`. reset_at_hop: the board restarts once after
    processing that many hops (new READY, everything forgotten)."""

    def __init__(self, capacity=8, per_read=4, reset_at_hop=None, vanish_at_hop=None, set_period=True):
        super().__init__(capacity)
        self.knows_set_period = set_period
        self.timeout = None
        self.per_read = per_read
        self.reset_at_hop, self.vanish_at_hop = reset_at_hop, vanish_at_hop
        self.commands: list[P.Message] = []
        self.boot()

    def boot(self):
        self.reset_wire()
        self.every = EVERY
        self.hops = 0
        self.last_label = -1
        self.counts = collections.Counter()
        self.send_ready()
        self.credit()

    def send_ready(self):
        self.send(P.Ready(16000, 320, self.every, 3, 0, "sim", "0f066307d9bed4e0", LABELS))

    def handle(self, msg):
        ack = lambda status=0: self.send(P.Ack(msg.seq, msg.TYPE, status))
        if isinstance(msg, P.Audio):
            if self.admit_audio(msg, self.counts):
                self.queue.append(msg.samples)
            return
        self.commands.append(msg)
        if isinstance(msg, P.Hello):
            self.send_ready()
            self.credit()
        elif isinstance(msg, P.SetPeriod):
            if not self.knows_set_period:
                return ack(-8)                                  # BITEAR_ERR_UNSUPPORTED: an unknown type
            if msg.infer_every == 0:
                return ack(-2)                                  # BITEAR_ERR_ARG
            self.every = msg.infer_every
        elif isinstance(msg, P.GetStats):
            self.send(P.Stats(tuple(self.hops if n == "hops" else self.counts[n] for n in P.STATS_FIELDS)))
        elif isinstance(msg, P.Reset):
            if msg.flags & P.RESET_STREAM:
                self.queue.clear()
                self.expected = self.hops = 0
                self.last_label = -1
                self.credit()
            if msg.flags & P.RESET_STATS:
                self.counts.clear()
        ack()

    def process(self, samples):
        self.hops += 1
        if self.hops >= 49 and (self.hops - 49) % self.every == 0:
            label = int(round(samples.mean())) % 12
            scores = [1000] * 12
            scores[label] = 32768 - 11 * 1000
            self.send(P.Result(self.hops, label, 1, scores[label], 5000, 123456, tuple(scores)))
            if label >= 2 and label != self.last_label:
                self.send(P.Detection(self.hops, label, scores[label]))
            self.last_label = label
        self.credit()

    # -- pyserial side --
    def write(self, data):
        if self.vanish_at_hop is not None and self.hops >= self.vanish_at_hop:
            raise serial.SerialException("write failed: device disconnected")
        for msg in self.decoder.feed(data):
            self.handle(msg)
        return len(data)

    @property
    def in_waiting(self):
        return len(self.out)

    def read(self, n=1):
        if self.vanish_at_hop is not None and self.hops >= self.vanish_at_hop:
            raise serial.SerialException("socket disconnected")
        for _ in range(self.per_read):
            if self.queue:
                self.process(self.queue.popleft())
                if self.reset_at_hop is not None and self.hops >= self.reset_at_hop:
                    self.reset_at_hop = None
                    self.boot()
                    break
        if not self.out:
            time.sleep(self.timeout or 0)
            return b""
        data, self.out = bytes(self.out[:n]), self.out[n:]
        return data


def audio_with_labels(segments):
    """Concatenated hops whose mean sample is the label the SimBoard will report."""
    return np.concatenate([np.full(n * 320, label, np.int16) for label, n in segments])


class ListSource:
    """A source of given audio (no pacing)."""
    realtime = False

    def __init__(self, audio, chunk=1280, realtime=False):
        self.audio, self.chunk, self.realtime = audio, chunk, realtime

    def describe(self):
        return "test audio"

    def chunks(self):
        for i in range(0, len(self.audio), self.chunk):
            yield self.audio[i:i + self.chunk]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def run_sim(board, audio, view=None, opts=None, realtime=False):
    view = view or listen.PlainView(out=io.StringIO())
    return listen.run(opts or listen.Options(), view, source=ListSource(audio, realtime=realtime), port=board), view


def test_results_and_detections_reach_the_view_with_stream_times():
    board = SimBoard()
    audio = audio_with_labels([(0, 60), (2, 30), (11, 30)])      # silence, "yes", "go"
    out = io.StringIO()
    summary, _ = run_sim(board, audio, listen.JsonView(out=out))
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = collections.Counter(e["event"] for e in events)
    assert kinds["ready"] == 1 and kinds["end"] == 1 and kinds["result"] == summary.results > 0
    dets = [e for e in events if e["event"] == "detection"]
    assert [d["label"] for d in dets] == ["yes", "go"]
    assert dets[0]["time_s"] == pytest.approx(61 * 0.02) and dets[0]["exit"] == 1 and dets[0]["cost"] == 123456
    assert summary.hops_sent == 120 and board.hops == 120        # finished only after the board processed all
    end = events[-1]
    assert end["event"] == "end" and end["stats"]["hops"] == 120 and end["host_dropped_hops"] == 0


def test_settings_are_sent_after_hello():
    board = SimBoard()
    opts = listen.Options(threshold=0.25, window_ms=800, min_count=2)
    run_sim(board, audio_with_labels([(0, 10)]), opts=opts)
    kinds = [type(m).__name__ for m in board.commands]
    assert kinds[:4] == ["Hello", "Reset", "SetThreshold", "SetDetector"]
    thr = board.commands[2]
    assert thr.exit_index == P.EXIT_ALL and thr.threshold_q16 == round(0.25 * 65536)
    det = board.commands[3]
    assert (det.window_ms, det.min_count, det.threshold_q15) == (800, 2, listen.DetectorParams().threshold_q15)


def test_infer_every_sets_the_period_the_views_show_and_the_detector_follows():
    board = SimBoard()
    out = io.StringIO()
    opts = listen.Options(infer_every=3, window_ms=600)
    summary, _ = run_sim(board, audio_with_labels([(0, 70)]), listen.JsonView(out=out), opts)
    kinds = [type(m).__name__ for m in board.commands]
    assert kinds[:5] == ["Hello", "Reset", "SetPeriod", "Hello", "SetDetector"]
    assert board.commands[2].infer_every == 3
    assert board.commands[4].min_count == 4                           # 240 ms at 60 ms per result
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0]["event"] == "ready" and events[0]["infer_every_hops"] == 3
    assert [e["hop"] for e in events if e["event"] == "result"] == list(range(49, 71, 3))
    assert events[-1]["event"] == "end" and events[-1]["infer_every_hops"] == 3
    plain = io.StringIO()
    run_sim(SimBoard(), audio_with_labels([(0, 50)]), listen.PlainView(out=plain), listen.Options(infer_every=3))
    assert "inference every 3 hops (60 ms)" in plain.getvalue()


def test_infer_every_out_of_range_or_refused_is_one_error_line(monkeypatch, capsys, tmp_path):
    wav = tmp_path / "x.wav"
    write_wav(wav, audio_with_labels([(0, 55)]), 16000)
    for bad in ("0", "256"):
        assert listen.main(["--wav", str(wav), "--plain", "--infer-every", bad]) == 2
        err = capsys.readouterr().err
        assert err == f"error: --infer-every must be in [1, 255] (hops of 20 ms between inferences, what " \
                      f"SET_PERIOD carries), found {bad}\n"

    @contextlib.contextmanager
    def old_board(url, baud, emulator, elf, on_info, emulated=None):
        yield SimBoard(set_period=False), "sim", None

    monkeypatch.setattr(listen, "open_board", old_board)
    assert listen.main(["--wav", str(wav), "--plain", "--infer-every", "2"]) == 1
    err = capsys.readouterr().err
    assert err == "error: --infer-every 2: the board refused SET_PERIOD: BITEAR_ERR_UNSUPPORTED\n"


def test_board_reset_mid_stream_is_survived():
    board = SimBoard(reset_at_hop=70)
    opts = listen.Options(full_depth=True)
    out = io.StringIO()
    summary, _ = run_sim(board, audio_with_labels([(0, 60), (3, 100)]), listen.PlainView(out=out), opts)
    assert summary.resets == 1
    assert "reset: the board restarted" in out.getvalue()
    kinds = [type(m).__name__ for m in board.commands]
    assert kinds.count("Hello") == 2 and kinds.count("SetThreshold") == 2     # greeted and configured again
    assert summary.hops_sent == 160 and summary.results > 0
    assert out.getvalue().splitlines()[-1].startswith("end: 160 hops sent")


def test_vanished_board_is_a_board_error():
    board = SimBoard(vanish_at_hop=55)
    with pytest.raises(listen.BoardError, match="went away|disconnected"):
        run_sim(board, audio_with_labels([(0, 100)]))


def test_realtime_audio_the_board_cannot_take_is_dropped_and_counted():
    board = SimBoard(capacity=2, per_read=0)            # a stalled board: takes nothing
    src_audio = audio_with_labels([(0, 150)])           # 3 s at once, more than the 1 s backlog
    summary, view = None, listen.PlainView(out=io.StringIO())
    board.per_read = 0
    session = listen.Session(board, listen.Options(), view, listen.ListenSummary())
    session.handshake()
    session.stream(ListSource(src_audio, chunk=16000).chunks(), realtime=True)
    assert session.summary.hops_sent == 2                # the board's credit
    assert session.summary.host_dropped_hops == 150 - 2 - 50


def test_main_plain_output_and_exit_codes(tmp_path, monkeypatch, capsys):
    wav = tmp_path / "yes.wav"
    write_wav(wav, audio_with_labels([(0, 55), (2, 20)]), 16000)
    monkeypatch.setattr(listen, "open_board", _fake_open_board)
    assert listen.main(["--wav", str(wav), "--plain", "--tail", "0"]) == 0
    out = capsys.readouterr().out
    assert "ready: board sim" in out and "detection" in out and " yes " in out

    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, np.int16), 16000)
    assert listen.main(["--wav", str(empty), "--plain"]) == 2
    assert "empty" in capsys.readouterr().err


import contextlib  # noqa: E402


@contextlib.contextmanager
def _fake_open_board(url, baud, emulator, elf, on_info, emulated=None):
    yield SimBoard(), "sim", None


def test_rich_live_view_shows_detections_scores_and_stats():
    from rich.console import Console

    console = Console(file=io.StringIO(), width=110, force_terminal=True, record=True)
    view = listen.RichView(console=console)
    run_sim(SimBoard(), audio_with_labels([(0, 60), (2, 30), (11, 30)]), view)
    console.print(view._render())
    text = console.export_text()
    assert "recent detections" in text and "yes" in text and "go" in text
    assert "scores at 2.38 s (exit 1, 123 k instr)" in text
    assert "hops sent 120" in text and "overruns 0" in text and "Ctrl-C stops" in text
    assert text.count("█") > 20                                     # the score bars


class MicSimBoard(SimBoard):
    """A board with its own microphone: CREDIT capacity 0, a hop of its own audio per read."""

    def credit(self):
        self.send(P.Credit(self.expected, 0))

    def read(self, n=1):
        self.process(np.full(320, 3, np.int16))       # it hears "no"
        return super().read(n)


class StopAfter(listen.PlainView):
    """Ctrl-C after `n` results."""

    def __init__(self, n):
        super().__init__(out=io.StringIO())
        self.n = n

    def result(self, res, time_s):
        self.n -= 1
        if self.n == 0:
            raise KeyboardInterrupt


def test_board_with_its_own_microphone_is_only_listened_to(tmp_path):
    board = MicSimBoard()
    view = StopAfter(5)
    summary = listen.run(listen.Options(), view, port=board)
    assert summary.stopped_by_user and summary.hops_sent == 0 and summary.results == 5
    assert [d.label for d in summary.detections] == ["no"]
    assert "listens with its own microphone" in view.out.getvalue()
    wav = tmp_path / "x.wav"
    write_wav(wav, np.zeros(3200, np.int16))
    with pytest.raises(listen.BitearError, match="own microphone"):
        listen.run(listen.Options(wav=wav), listen.PlainView(out=io.StringIO()), port=MicSimBoard())


class NoticeSimBoard(SimBoard):
    """A SimBoard that, at hop 30, sends the two AUDIO notices of docs/protocol.md §4 (as after
    stray AUDIO frames from someone else on the line): a NACK (far off) and an ACK 0 (resync)."""

    def process(self, samples):
        super().process(samples)
        if self.hops == 30:
            self.send(P.Ack(0x7000, P.MsgType.AUDIO, -2))
            self.send(P.Ack(0x7001, P.MsgType.AUDIO, 0))


def test_resyncs_and_refused_audio_are_shown():
    from rich.console import Console

    out = io.StringIO()
    summary, _ = run_sim(NoticeSimBoard(), audio_with_labels([(0, 60)]), listen.PlainView(out=out))
    assert (summary.resyncs, summary.refused_audio) == (1, 1)
    assert out.getvalue().splitlines()[-1].endswith("resyncs 1, refused audio 1")
    console = Console(file=io.StringIO(), width=160, force_terminal=True, record=True)
    view = listen.RichView(console=console)
    run_sim(NoticeSimBoard(), audio_with_labels([(0, 60)]), view)
    console.print(view._render())
    assert "resyncs 1 · refused audio 1" in console.export_text()
    js = io.StringIO()
    run_sim(NoticeSimBoard(), audio_with_labels([(0, 60)]), listen.JsonView(out=js))
    end = json.loads(js.getvalue().splitlines()[-1])
    assert (end["resyncs"], end["refused_audio"]) == (1, 1)
