"""Streaming quality of the firmware on a long stream: detection rate, false detections per hour,
median detection latency.

    python -m host.streaming_quality [--keywords N] [--unknown N] [--infer-every N] [--seed S] [--json]
    python -m host.streaming_quality --sweep       # the same stream scored for a grid of detector settings

The stream: keyword clips (and non-keyword words as distractors) one after the other, each
after a gap of 1-2 s of noise or near-silence (a random level, log-uniform over RMS 3..300).
Where the shared data exist (`model.paths.data_dir()`) the words are real clips of
speech_commands_v2_dev (keyword folders and `_unknown_`, spread evenly over each folder) and the
gaps are segments of background_noise/; without them, words synthesized by espeak-ng/flite
(model.synth) over generated pink noise. Truth: each keyword's onset (first 10 ms frame within
20 dB of the clip's loudest).

The firmware: the evaluation build (PlatformIO env qemu_m4_eval) runs the very bitear_stream and
bitear_detector code of the firmware on the emulated Cortex-M4 and reads the stream by semihosting
(the emulated UART would need real time and more); inference every `--infer-every` hops, the
detector's default parameters (bitear_detector.h) unless given.

Scoring (host.demo.summarize, the host.detector.score_events rule): a detection answers a
keyword when it comes 0..2000 ms after the onset; right label = hit, other label = wrong;
unanswered keywords = missed; detections that answer nothing (also those on distractor words)
= false detections. latency = detection time (the end of the audio window, RESULT.hop x 20 ms)
- onset, over hits. The last stdout line is one JSON object.

`--sweep` runs the firmware once, then replays its per-inference scores through host.detector (the
C detector's arithmetic in Python, checked here against the firmware's own detections for the
default settings) for every combination of window, score threshold and minimum count: how the
detector's defaults in bitear_detector.h were chosen for the shipped model.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from host import demo
from host.detector import DetectorParams, detect
from host.evaluate import MODE_STREAM, THRESHOLD_DEFAULT, run_eval_build
from model.audio import SAMPLE_RATE
from model.errors import BitearError, run_cli
from model.paths import data_dir

KEYWORDS = demo.KEYWORDS
DISTRACTORS = ("bed", "bird", "cat", "dog", "house", "marvin", "sheila", "tree", "wow", "happy")
HOP = 320


def firmware_infer_every(default: int = 4) -> int:
    """APP_INFER_EVERY of the application firmware (firmware/src/app.h), so the evaluation build
    infers as often as the firmware does."""
    import re
    from model.paths import REPO_ROOT

    try:
        m = re.search(r"#define APP_INFER_EVERY (\d+)", (REPO_ROOT / "firmware" / "src" / "app.h").read_text())
    except OSError:
        return default
    return int(m[1]) if m else default


@dataclass
class Stream:
    audio: np.ndarray                     # int16, whole hops
    truth: list[tuple[int, str]]          # (onset ms, keyword)
    distractors: int
    source: str


def speech_onset(clip: np.ndarray, below_peak_db: float = 20.0) -> int:
    """Sample index of the first 10 ms frame whose RMS is within below_peak_db of the loudest frame."""
    frame = SAMPLE_RATE // 100
    n = len(clip) // frame
    rms = np.sqrt(np.mean(clip[:n * frame].astype(np.float64).reshape(n, frame) ** 2, axis=1))
    if rms.max() <= 0:
        return 0
    return int(np.argmax(rms >= rms.max() * 10 ** (-below_peak_db / 20))) * frame


def build_stream(words: list[tuple[str, np.ndarray]], gap_noise, rng: np.random.Generator,
                 gap_s: tuple[float, float] = (1.0, 2.0), rms: tuple[float, float] = (3.0, 300.0)) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """words: (word, int16 clip) in stream order; gap_noise(n, rms) -> int16 noise. Each word
    follows a gap; a last gap ends the stream. Returns (audio in whole hops, keyword onsets)."""
    parts, truth, pos = [], [], 0
    for word, clip in words:
        n = int(rng.uniform(*gap_s) * SAMPLE_RATE)
        parts.append(gap_noise(n, float(np.exp(rng.uniform(np.log(rms[0]), np.log(rms[1]))))))
        pos += n
        if word in KEYWORDS:
            truth.append(((pos + speech_onset(clip)) * 1000 // SAMPLE_RATE, word))
        parts.append(np.asarray(clip, np.int16))
        pos += len(clip)
    parts.append(gap_noise(int(gap_s[1] * SAMPLE_RATE), rms[0]))
    audio = np.concatenate(parts)
    return audio[:len(audio) // HOP * HOP], truth


def real_stream(root: Path, n_keywords: int, n_unknown: int, rng: np.random.Generator) -> Stream:
    from model.datasets import BackgroundNoise, load_speech_commands_test_layout

    dev = root / "speech_commands_v2_dev"
    clips = load_speech_commands_test_layout(dev, progress=False)
    noise = BackgroundNoise.load(root / "background_noise", progress=False)
    words: list[tuple[str, np.ndarray]] = []
    per_word = -(-n_keywords // len(KEYWORDS))
    for kw in KEYWORDS:
        idx = np.flatnonzero(np.array(clips.words) == kw)
        pick = idx[np.unique(np.linspace(0, len(idx) - 1, min(per_word, len(idx))).round().astype(int))]
        words += [(kw, clips.audio[i]) for i in pick]
    words = [words[i] for i in rng.permutation(len(words))[:n_keywords]]
    unknown = np.flatnonzero(np.array([w not in KEYWORDS and w != "_silence_" for w in clips.words]))
    words += [("_unknown_", clips.audio[i]) for i in rng.choice(unknown, min(n_unknown, len(unknown)), replace=False)]
    words = [words[i] for i in rng.permutation(len(words))]
    audio, truth = build_stream(words, lambda n, r: noise.segment(rng, n, r), rng)
    return Stream(audio, truth, len(words) - len(truth), f"real: {dev.name} clips, background_noise gaps")


def generated_stream(n_keywords: int, n_unknown: int, rng: np.random.Generator, seed: int) -> Stream:
    from model.synth import synthesize_words, trim_silence

    per_word = -(-n_keywords // len(KEYWORDS))
    kw = synthesize_words(KEYWORDS, per_word, seed=seed, progress=False)
    other = synthesize_words(DISTRACTORS, max(1, -(-n_unknown // len(DISTRACTORS))), seed=seed, progress=False)
    words = [(kw.words[i], trim_silence(kw.audio[i])) for i in rng.permutation(len(kw))[:n_keywords]]
    words += [("_unknown_", trim_silence(other.audio[i])) for i in rng.permutation(len(other))[:n_unknown]]
    words = [words[i] for i in rng.permutation(len(words))]
    noise_rng = np.random.default_rng(seed + 1)

    def gap(n: int, r: float) -> np.ndarray:
        return np.clip(np.round(demo.pink_noise(noise_rng, max(n, 2)) * r), -32768, 32767).astype(np.int16)[:n]

    audio, truth = build_stream(words, gap, rng)
    return Stream(audio, truth, len(words) - len(truth), "generated: espeak-ng/flite words, pink-noise gaps")


LABELS = ("_silence_", "_unknown_") + KEYWORDS


def run_stream(stream: Stream, infer_every: int, detector: DetectorParams, threshold_q16: int = THRESHOLD_DEFAULT):
    """The stream through the evaluation build: its EvalRun (results of every inference, detections)."""
    hops = len(stream.audio) // HOP
    run = run_eval_build(MODE_STREAM, stream.audio, hops, infer_every=infer_every, threshold_q16=threshold_q16,
                         detector=detector, timeout_s=120 + hops * 0.01)
    if run.hops != hops:
        raise BitearError(f"the evaluation build processed {run.hops} of {hops} hops")
    return run


def score(stream: Stream, detections: list[tuple[int, int, int]], latency_ms: int = demo.LATENCY_MS) -> dict:
    """Detection rate, false detections per hour and median latency of detections (hop, label, score_q15)."""
    dets = [(hop * 20, LABELS[label], q15 / 32768) for hop, label, q15 in detections]
    s = demo.summarize(stream.truth, dets, latency_ms)
    duration_s = len(stream.audio) // HOP * HOP / SAMPLE_RATE
    lat = [r.latency_ms for r in s.rows if r.detected]
    return {
        "detection_rate": s.detected / len(s.rows) if s.rows else 0.0,
        "false_detections_per_hour": len(s.false_detections) / (duration_s / 3600),
        "median_latency_ms": float(np.median(lat)) if lat else None,
        "keywords": len(s.rows), "hits": s.detected, "wrong_label": s.wrong, "missed": s.missed,
        "false_detections": len(s.false_detections), "duration_s": round(duration_s, 1),
    }


def replay_detector(run, params: DetectorParams) -> list[tuple[int, int, int]]:
    """The detections (hop, label, score_q15) the board would make with `params` on the same inferences."""
    events = detect([r.hop * 20 for r in run.results], [r.scores_q15 for r in run.results], params)
    return [(t // 20, label, q15) for t, label, q15 in events]


def sweep(stream: Stream, infer_every: int, windows_ms=(500, 750, 1000), thresholds=(0.5, 0.6, 0.7, 0.8, 0.9),
          min_counts=(DetectorParams().min_count,)) -> list[dict]:
    """Score the stream for every detector setting in the grid (one firmware run, replayed on the host).
    The minimum count stays at its default unless given: with an inference every 4 hops, any window of
    500 ms or more holds at least 6 results, so counts up to 4 measured the same."""
    default = DetectorParams()
    run = run_stream(stream, infer_every, default)
    if replay_detector(run, default) != run.detections:
        raise BitearError("host.detector disagrees with the firmware's detections on this stream")
    rows = []
    for window in windows_ms:
        for threshold in thresholds:
            for count in min_counts:
                params = DetectorParams(window_ms=window, threshold_q15=round(threshold * 32768), min_count=count)
                rows.append({"window_ms": window, "threshold": threshold, "min_count": count,
                             **score(stream, replay_detector(run, params))})
    return rows


def measure(stream: Stream, infer_every: int, detector: DetectorParams, threshold_q16: int = THRESHOLD_DEFAULT,
            latency_ms: int = demo.LATENCY_MS) -> dict:
    """Run the stream through the evaluation build and score its detections."""
    run = run_stream(stream, infer_every, detector, threshold_q16)
    costs = np.array([r.cost - r.cost_before for r in run.results], np.float64) * 40
    return {
        **score(stream, run.detections, latency_ms), "distractor_words": stream.distractors,
        "inferences": run.inferences, "infer_every_hops": infer_every,
        "avg_instructions_inference": float(costs.mean()) if len(costs) else 0.0,
        "detector": {"window_ms": detector.window_ms, "threshold_q15": detector.threshold_q15,
                     "suppression_ms": detector.suppression_ms, "min_count": detector.min_count},
        "latency_window_ms": [0, latency_ms], "source": stream.source, "path": "semihosting",
        "emulator_wall_s": round(run.wall_s, 1),
    }


def print_sweep(rows: list[dict]) -> None:
    d = DetectorParams()
    print("window  threshold  min count   detection rate   false/hour   median latency")
    for r in rows:
        mark = "  (default)" if (r["window_ms"], round(r["threshold"] * 32768), r["min_count"]) == \
            (d.window_ms, d.threshold_q15, d.min_count) else ""
        lat = "-" if r["median_latency_ms"] is None else f"{r['median_latency_ms']:.0f} ms"
        print(f"{r['window_ms']:5} ms  {r['threshold']:9.2f}  {r['min_count']:9}   {r['detection_rate'] * 100:13.1f} %"
              f"   {r['false_detections_per_hour']:10.1f}   {lat:>14}{mark}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.streaming_quality", description=__doc__.split("\n")[0])
    ap.add_argument("--keywords", type=int, default=300, help="keyword clips in the stream (default 300)")
    ap.add_argument("--unknown", type=int, default=100, help="non-keyword words in the stream (default 100)")
    ap.add_argument("--infer-every", type=int, default=firmware_infer_every(),
                    help="inference period in 20 ms hops (default: the firmware's APP_INFER_EVERY)")
    ap.add_argument("--generated", action="store_true", help="generated speech even when the shared data exist")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sweep", action="store_true", help="score a grid of detector settings on the same stream")
    ap.add_argument("--json", action="store_true", help="(the last line is JSON in any case)")
    args = ap.parse_args(argv)
    return run_cli(lambda: _run(args))


def _run(args) -> int:
    if args.keywords < 1 or args.unknown < 0 or args.infer_every < 1:
        raise BitearError("--keywords >= 1, --unknown >= 0 and --infer-every >= 1 please")
    rng = np.random.default_rng(args.seed)
    t0 = time.monotonic()
    root = data_dir()
    if root is not None and (root / "speech_commands_v2_dev").is_dir() and not args.generated:
        stream = real_stream(root, args.keywords, args.unknown, rng)
    else:
        stream = generated_stream(args.keywords, args.unknown, rng, args.seed)
    if args.sweep:
        rows = sweep(stream, args.infer_every)
        print_sweep(rows)
        print(json.dumps({"sweep": rows, "source": stream.source, "wall_s": round(time.monotonic() - t0, 1)}))
        return 0
    report = measure(stream, args.infer_every, DetectorParams())
    report["wall_s"] = round(time.monotonic() - t0, 1)
    lat = "-" if report["median_latency_ms"] is None else f"{report['median_latency_ms']:.0f} ms"
    print(f"{report['duration_s'] / 60:.1f} min stream ({report['source']}), {report['keywords']} keywords, "
          f"{report['distractor_words']} other words; inference every {report['infer_every_hops']} hops")
    print(f"detection rate {report['detection_rate'] * 100:.1f} % ({report['hits']} hits, {report['wrong_label']} wrong, "
          f"{report['missed']} missed); false detections {report['false_detections']} = "
          f"{report['false_detections_per_hour']:.1f} per hour; median latency {lat}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
