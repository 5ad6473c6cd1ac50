"""What host/listen.py shows: the events of a session (DetectionEvent, ListenSummary) and the three
views that print them — PlainView (lines for logs and pipes), JsonView (one JSON object per event
and line), RichView (the live terminal view). A view receives start / ready / result / detection /
stats / info / end / stop calls from host.listen.Session.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from host import protocol as P


# ---- what happened --------------------------------------------------------------------------------

@dataclass
class DetectionEvent:
    time_s: float             # end of the audio window, from the start of the stream
    label: str
    score: float
    exit_index: int | None    # of the RESULT at the same hop, when seen
    cost: int | None


@dataclass
class ListenSummary:
    """What a session saw; returned by run() (host/demo.py builds its summary from it)."""
    ready: P.Ready | None = None
    hops_sent: int = 0
    host_dropped_hops: int = 0
    results: int = 0
    detections: list[DetectionEvent] = field(default_factory=list)
    resets: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    crc_errors_host: int = 0
    resyncs: int = 0          # the board's notices about AUDIO (host.board.BoardClient): new numbering taken
    refused_audio: int = 0    # ... and AUDIO hops it refused (far off)
    audio_s: float = 0.0
    wall_s: float = 0.0
    costs: list[int] = field(default_factory=list)
    stopped_by_user: bool = False


# ---- views ----------------------------------------------------------------------------------------

class View:
    """Receives the session's events; the three views below print them in their own way."""

    def start(self, summary: ListenSummary, source: str, board_desc: str) -> None: ...
    def ready(self, ready: P.Ready, extra: dict) -> None: ...
    def result(self, res: P.Result, time_s: float) -> None: ...
    def detection(self, det: DetectionEvent) -> None: ...
    def stats(self, stats: dict[str, int]) -> None: ...
    def info(self, kind: str, message: str) -> None: ...
    def end(self, summary: ListenSummary) -> None: ...
    def stop(self) -> None: ...


def cost_text(cost: int | None, unit: int) -> str:
    if cost is None:
        return "-"
    name = P.COST_UNITS.get(unit, "units")
    if name == "microseconds":
        return f"{cost / 1000:.1f} ms"
    return f"{cost / 1000:,.0f} k {'instr' if name == 'instructions' else name}"


def inference_ms(ready: P.Ready) -> int:
    """The board's inference period in ms, from its READY (hop size, sample rate, N)."""
    return ready.infer_every_hops * ready.hop_samples * 1000 // ready.sample_rate_hz


def end_text(s: ListenSummary) -> str:
    st = s.stats
    rate = f" ({s.audio_s / s.wall_s:.2f}x real time)" if s.wall_s > 0 else ""
    return (f"end: {s.hops_sent} hops sent = {s.audio_s:.1f} s of audio in {s.wall_s:.1f} s{rate}; "
            f"{s.results} results, {len(s.detections)} detections, {s.resets} board resets; "
            f"dropped on the host {s.host_dropped_hops}, on the board {st.get('frames_dropped', 0)}, "
            f"overruns {st.get('overruns', 0)}, CRC errors board {st.get('crc_errors', 0)} / host {s.crc_errors_host}, "
            f"resyncs {s.resyncs}, refused audio {s.refused_audio}")


class PlainView(View):
    """Plain lines for logs and pipes."""

    def __init__(self, out=None, results: bool = False):
        self.out, self.show_results, self.unit, self.labels = out, results, 0, ()

    def _print(self, text: str) -> None:
        print(text, file=self.out or sys.stdout, flush=True)

    def start(self, summary, source, board_desc):
        self._print(f"listening to {source} on {board_desc}")

    def ready(self, ready, extra):
        self.unit, self.labels = ready.cost_unit, ready.labels
        self._print(f"ready: board {ready.board}, model {ready.model}, {ready.classes} classes, {ready.exits} exits, "
                    f"inference every {ready.infer_every_hops} hops ({inference_ms(ready)} ms)")

    def result(self, res, time_s):
        if self.show_results:
            label = self.labels[res.label] if res.label < len(self.labels) else str(res.label)
            self._print(f"result    {time_s:7.2f} s  {label:10} {res.score_q15 / 32768:.2f}  exit {res.exit_index}  "
                        f"{cost_text(res.cost, self.unit)}")

    def detection(self, det):
        exit_text = "-" if det.exit_index is None else str(det.exit_index)
        self._print(f"detection {det.time_s:7.2f} s  {det.label:10} {det.score:.2f}  exit {exit_text}  "
                    f"{cost_text(det.cost, self.unit)}")

    def info(self, kind, message):
        self._print(f"{kind}: {message}")

    def end(self, summary):
        self._print(end_text(summary))


class JsonView(View):
    """One JSON object per event and line."""

    def __init__(self, out=None, results: bool = True):
        self.out, self.show_results, self.labels, self.unit = out, results, (), 0

    def _emit(self, obj: dict) -> None:
        print(json.dumps(obj), file=self.out or sys.stdout, flush=True)

    def ready(self, ready, extra):
        self.labels, self.unit = ready.labels, ready.cost_unit
        self._emit({"event": "ready", "board": ready.board, "model": ready.model, "labels": list(ready.labels),
                    "sample_rate_hz": ready.sample_rate_hz, "infer_every_hops": ready.infer_every_hops,
                    "exits": ready.exits, "cost_unit": P.COST_UNITS.get(ready.cost_unit, ready.cost_unit), **extra})

    def result(self, res, time_s):
        if self.show_results:
            self._emit({"event": "result", "hop": res.hop, "time_s": round(time_s, 3), "label": self.labels[res.label],
                        "exit": res.exit_index, "score": round(res.score_q15 / 32768, 4),
                        "entropy": round(res.entropy_q16 / 65536, 4), "cost": res.cost,
                        "scores": {n: round(s / 32768, 4) for n, s in zip(self.labels, res.scores_q15)}})

    def detection(self, det):
        self._emit({"event": "detection", "time_s": round(det.time_s, 3), "label": det.label,
                    "score": round(det.score, 4), "exit": det.exit_index, "cost": det.cost})

    def stats(self, stats):
        self._emit({"event": "stats", **stats})

    def info(self, kind, message):
        self._emit({"event": kind, "message": message})

    def end(self, summary):
        self._emit({"event": "end", "hops_sent": summary.hops_sent, "audio_s": round(summary.audio_s, 2),
                    "wall_s": round(summary.wall_s, 2), "results": summary.results,
                    "detections": len(summary.detections), "resets": summary.resets,
                    "host_dropped_hops": summary.host_dropped_hops, "crc_errors_host": summary.crc_errors_host,
                    "resyncs": summary.resyncs, "refused_audio": summary.refused_audio,
                    "stopped_by_user": summary.stopped_by_user,
                    "infer_every_hops": summary.ready.infer_every_hops if summary.ready else None,
                    "stats": summary.stats})


class RichView(View):
    """The live terminal view (rich.live.Live, redrawn a few times per second)."""

    def __init__(self, recent: int = 8, console=None):
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console()
        self.recent = recent
        self.summary: ListenSummary | None = None
        self.source = self.board_desc = ""
        self.ready_msg: P.Ready | None = None
        self.last: tuple[P.Result, float] | None = None
        self.messages: list[str] = []
        self.live = Live(console=self.console, refresh_per_second=8, get_renderable=self._render, transient=False)

    def start(self, summary, source, board_desc):
        self.summary, self.source, self.board_desc = summary, source, board_desc
        self.live.start()

    def stop(self):
        self.live.stop()

    def ready(self, ready, extra):
        self.ready_msg = ready

    def result(self, res, time_s):
        self.last = (res, time_s)

    def info(self, kind, message):
        self.messages = (self.messages + [f"{kind}: {message}"])[-3:]

    def end(self, summary):
        self.live.refresh()
        self.live.stop()
        self.console.print(end_text(summary))

    def _render(self):
        from rich.console import Group
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        s, r = self.summary, self.ready_msg
        unit = r.cost_unit if r else 0
        title = f"bitear · {self.source} → {self.board_desc}"
        if r is not None:
            title += f" · model {r.model} · inference every {inference_ms(r)} ms"
        det = Table(title="recent detections", title_justify="left")
        for col in ("time", "word", "score", "exit", "cost"):
            det.add_column(col, justify="left" if col == "word" else "right")
        for d in (s.detections[-self.recent:] if s else [])[::-1]:
            det.add_row(f"{d.time_s:.2f} s", Text(d.label, style="bold green"), f"{d.score:.2f}",
                        "-" if d.exit_index is None else str(d.exit_index), cost_text(d.cost, unit))
        bars = Table(title="scores of the latest result", title_justify="left", show_header=False)
        bars.add_column("class", width=10)
        bars.add_column("bar")
        bars.add_column("score", justify="right", width=5)
        if self.last is not None and r is not None:
            res, t = self.last
            bars.title = f"scores at {t:.2f} s (exit {res.exit_index}, {cost_text(res.cost, unit)})"
            width = 40
            for i, (name, q) in enumerate(zip(r.labels, res.scores_q15)):
                n = int(round(q / 32768 * width))
                style = "bold green" if i == res.label else "cyan"
                bars.add_row(name, Text("█" * n + "·" * (width - n), style=style), f"{q / 32768:.2f}")
        st = s.stats if s else {}
        rate = f" · {s.audio_s / s.wall_s:.2f}× real time" if s and s.wall_s > 0 else ""
        stats = Text(f"hops sent {s.hops_sent if s else 0} · dropped host {s.host_dropped_hops if s else 0} / "
                     f"board {st.get('frames_dropped', 0)} · overruns {st.get('overruns', 0)} · CRC errors "
                     f"{st.get('crc_errors', 0)} (host {s.crc_errors_host if s else 0}) · results {s.results if s else 0} · "
                     f"resets {s.resets if s else 0} · resyncs {s.resyncs if s else 0} · refused audio "
                     f"{s.refused_audio if s else 0}{rate}")
        words = ", ".join(r.labels[2:]) if r is not None else "…"
        help_text = Text(f"Say one of: {words}.  Ctrl-C stops.", style="dim")
        parts = [det, bars, stats, help_text, *[Text(m, style="yellow") for m in self.messages]]
        return Panel(Group(*parts), title=title, title_align="left")
