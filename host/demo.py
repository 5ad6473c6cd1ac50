"""`make demo`: the ten keywords, spoken by a speech synthesizer over background noise, streamed
through host/listen.py to the emulated board (or a real one), then a summary: expected vs
detected per keyword, and false detections.

    python -m host.demo [--port P] [--engine espeak-ng|flite] [--voice V] [--json] [--regenerate]

The recording (`make_recording`) is generated on first use and cached under
cache_dir('demo'): each keyword synthesized once (model.synth: espeak-ng or flite), trimmed of
silence, scaled to the same peak, and placed every `spacing_s` seconds (pauses of ~1.5 s
between words) over generated pink noise at `snr_db`; a second of noise before the first and
after the last word. Needs nothing from ../shared. Its truth is the onset of every word.

Voices (DEFAULT_VOICES): espeak-ng "en-us" at speed 0.9 for every word but "stop", which that
voice says so that even the DS-CNN-L teacher (91.6 % on real speech; model.teacher) hears "up"
(p(stop) = 0.41); flite "awb" says it clearly (p = 1.00). With these the teacher recognises all
ten synthesized words (checked once with model.teacher.Teacher on the clips), so the recording
tests the firmware, not the synthesizer. `--engine/--voice` speak every word with one voice.

Scoring: host.stream_scoring.summarize, the project's one rule (a detection answers a keyword when
it arrives 0 .. 2 s after the word's onset, ...).

With --json the last stdout line is one JSON object (detected, expected, false_detections,
per-keyword rows, recording). Exit code 0 when the demo ran, whatever the board heard.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from host import listen
from host.stream_scoring import Summary, summarize
from host.emulator import DEFAULT_BOARD, emulated_board
from model.audio import read_wav, write_wav
from model.errors import BitearError
from model.facts import KEYWORDS, SAMPLE_RATE
from model.paths import cache_dir
from model.synth import engine_version, synthesize, trim_silence

DEMO_VERSION = 2
# word -> (engine, voice, speed); see the module docstring for how these were chosen.
DEFAULT_VOICES: dict[str, tuple[str, str, float]] = {
    **{w: ("espeak-ng", "en-us", 0.9) for w in KEYWORDS}, "stop": ("flite", "awb", 0.9)}


# ---- the recording ----------------------------------------------------------------------------------

@dataclass
class Recording:
    path: Path
    truth: list[tuple[int, str]]          # (onset ms, keyword), in time order
    duration_s: float
    description: str


def pink_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit-RMS pink (1/f power) noise, float64."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spec[1:] /= np.sqrt(f[1:] / f[1])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return x / np.sqrt(np.mean(x ** 2))


def place_words(words: Sequence[np.ndarray], spacing_s: float, lead_s: float = 1.0, tail_s: float = 1.0,
                snr_db: float = 20.0, peak: float = 16000.0, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    """Words (trimmed int16 speech) every spacing_s seconds over pink noise at snr_db (relative to
    the mean power of the speech). Returns (int16 audio, onset sample of each word)."""
    step = int(round(spacing_s * SAMPLE_RATE))
    onsets = [int(lead_s * SAMPLE_RATE) + i * step for i in range(len(words))]
    n = max(o + len(w) for o, w in zip(onsets, words)) + int(tail_s * SAMPLE_RATE)
    speech = np.zeros(n)
    powers = []
    for o, w in zip(onsets, words):
        w = w.astype(np.float64) * (peak / max(1.0, np.abs(w).max()))
        speech[o:o + len(w)] += w
        powers.append(np.mean(w ** 2))
    noise = pink_noise(np.random.default_rng(seed), n) * np.sqrt(np.mean(powers) / 10 ** (snr_db / 10))
    return np.clip(np.round(speech + noise), -32768, 32767).astype(np.int16), onsets


def make_recording(voices: dict[str, tuple[str, str, float]] | None = None, spacing_s: float = 2.2,
                   snr_db: float = 20.0, seed: int = 0, regenerate: bool = False, folder: Path | None = None) -> Recording:
    """The demo recording (cached WAV + truth JSON), generated when missing. voices: per keyword
    (engine, voice, speed), default DEFAULT_VOICES."""
    voices = voices or DEFAULT_VOICES
    spoken = [(w, *voices[w]) for w in KEYWORDS]
    engines = sorted({e for _, e, _, _ in spoken})
    params = [DEMO_VERSION, spoken, [engine_version(e) for e in engines], spacing_s, snr_db, seed]
    key = hashlib.sha1(json.dumps(params).encode()).hexdigest()[:12]
    folder = folder or cache_dir("demo")
    wav, meta = folder / f"demo-{key}.wav", folder / f"demo-{key}.json"
    who = sorted({f"{e} {v} (speed {sp})" for _, e, v, sp in spoken})
    description = f"the ten keywords by {', '.join(who)}, every {spacing_s} s, pink noise at {snr_db:g} dB SNR"
    if not regenerate and wav.is_file() and meta.is_file():
        truth = [(int(t), str(w)) for t, w in json.loads(meta.read_text())["truth"]]
        audio, _ = read_wav(wav)
        return Recording(wav, truth, len(audio) / SAMPLE_RATE, description)
    words = [trim_silence(synthesize(w, voice=v, speed=sp, engine=e)) for w, e, v, sp in spoken]
    audio, onsets = place_words(words, spacing_s, snr_db=snr_db, seed=seed)
    truth = [(int(o * 1000 // SAMPLE_RATE), w) for o, w in zip(onsets, KEYWORDS)]
    write_wav(wav, audio)
    meta.write_text(json.dumps({"truth": truth, "params": params, "description": description}))
    return Recording(wav, truth, len(audio) / SAMPLE_RATE, description)


# ---- the summary ------------------------------------------------------------------------------------

def format_summary(s: Summary) -> str:
    lines = ["", "keyword   spoken at   heard                   latency",
             "-------   ---------   ---------------------   -------"]
    for r in s.rows:
        if r.heard is None:
            heard, lat = "(missed)", ""
        else:
            mark = "ok" if r.detected else "WRONG"
            heard, lat = f"{r.heard} {r.score:.2f} {mark}", f"{r.latency_ms} ms"
        lines.append(f"{r.keyword:9} {r.onset_ms / 1000:7.2f} s   {heard:21}   {lat}")
    falses = ", ".join(f"{lab} at {t / 1000:.2f} s" for t, lab, _ in s.false_detections) or "none"
    lines += ["", f"detected {s.detected} of {len(s.rows)} keywords ({s.wrong} wrong, {s.missed} missed); "
                  f"false detections: {len(s.false_detections)} ({falses})"]
    return "\n".join(lines)


# ---- command line -----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", help="a real board (any pyserial URL); default: the emulated board")
    ap.add_argument("--baud", type=int, default=115200, help="with --port: its serial rate (feather_f405: 1000000)")
    ap.add_argument("--board", default=DEFAULT_BOARD, help=f"the emulated board: {DEFAULT_BOARD} (default) or feather_f405")
    ap.add_argument("--engine", choices=("espeak-ng", "flite"), help="one engine for every word (with --voice)")
    ap.add_argument("--voice", help="one voice for every word (default: DEFAULT_VOICES, see above)")
    ap.add_argument("--speed", type=float, default=0.9, help="with --voice: speaking speed")
    ap.add_argument("--spacing", type=float, default=2.2, help="seconds from one word's onset to the next")
    ap.add_argument("--snr", type=float, default=20.0, help="speech-to-noise ratio, dB")
    ap.add_argument("--regenerate", action="store_true", help="synthesize the recording again")
    ap.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    ap.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    args = ap.parse_args(argv)
    try:
        emulated_board(args.board)          # an unknown board is the user's error, before any work
        voices = None
        if args.voice or args.engine:
            one = (args.engine or "espeak-ng", args.voice or ("en-us" if (args.engine or "espeak-ng") == "espeak-ng" else "awb"),
                   args.speed)
            voices = {w: one for w in KEYWORDS}
        rec = make_recording(voices, args.spacing, args.snr, regenerate=args.regenerate)
        print(f"demo recording: {rec.path} ({rec.duration_s:.1f} s): {rec.description}", flush=True)
        opts = listen.Options(wav=rec.path, port=args.port, emulator=args.port is None, board=args.board,
                              baud=args.baud)
        interactive = sys.stdout.isatty() and not args.plain and not args.json
        view = listen.RichView() if interactive else listen.PlainView()
        run = listen.run(opts, view)
    except listen.BoardError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except BitearError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopped (Ctrl-C)", file=sys.stderr)
        return 0
    dets = [(int(round(d.time_s * 1000)), d.label, d.score) for d in run.detections]
    summary = summarize(rec.truth, dets)
    print(format_summary(summary))
    if args.json:
        print(json.dumps({"detected": summary.detected, "expected": len(summary.rows), "wrong": summary.wrong,
                          "missed": summary.missed, "false_detections": len(summary.false_detections),
                          "rows": [asdict(r) for r in summary.rows], "recording": str(rec.path),
                          "board": run.ready.board if run.ready else None, "stats": run.stats}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
