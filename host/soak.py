"""Soak test of the emulated board: a long stream, garbage on the line, a stream RESET half-way.

    python -m host.soak --minutes 5 [--json] [--seed S] [--elf firmware.elf]

Two emulated boards are streamed the same generated audio (1 s chunks of noise, half of them with
a keyword spoken by espeak-ng/flite through model.synth, cached) as fast as each takes it under
credit, both through host/listen.py's Session (no second streaming loop). The *soak* board also
gets bursts of hostile line bytes between chunks (host/fuzz_traffic.py's generators, only kinds
that cannot change the stream); the *reference* board gets clean traffic. Half-way both streams
are RESET (protocol RESET with the stream and statistics flags, after the board has processed
every queued hop: the protocol's reset; a reboot is not a protocol command). Every RESULT of the
soak board must equal the reference's RESULT for the same hop (label, exit, score, entropy, all
scores; not the cost), and the board must have processed every hop sent (STATS hops).

Memory stays bounded: audio is generated chunk by chunk and a RESULT is kept only until its twin
arrives. Every minute (and at the end) host RSS (/proc/self/status VmRSS) and the board's stack
high-water mark (STATS) are sampled; with --json a JSON line per minute. The last stdout line is
one JSON object (minutes, hops_sent, hops_lost, results_identical, rss_mb_per_minute,
stack_used_max, ...). Exit 1 on a lost hop or a mismatch, 2 on a user error.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sys
import time
from pathlib import Path
from typing import Iterator

import numpy as np

from host import protocol as P
from host.emulator import Emulator, EmulatorError, check_elf
from host.fuzz_traffic import Traffic
from host.listen import Options, Session
from host.listen_views import ListenSummary, View
from model.errors import BitearError, run_cli
from model.facts import KEYWORDS, SAMPLE_RATE
from model.synth import Variant, synthesize_cached

CHUNK_S = 1.0                 # audio generated and sent per step
GARBAGE_SHARE = 0.3           # share of chunks followed by a garbage burst
BURST_ITEMS = (1, 8)          # garbage items per burst
SAFE_KINDS = ("random_bytes", "bad_crc", "wrong_version", "unknown_type", "truncated", "refused_command",
              "stale_audio")  # far-off hops are left out: two in a row would resynchronise the stream
VOICES = (("espeak-ng", "en-us"), ("flite", "kal"))
REPORT_EVERY_S = 60.0
DRAIN_TIMEOUT_S = 30.0


def rss_mb() -> float:
    """This process's resident set now (VmRSS), in MB; ru_maxrss where /proc is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def keyword_clips() -> list[np.ndarray]:
    """One 1 s clip per keyword and voice (synthesized once, then read from the on-disk cache)."""
    return [synthesize_cached(Variant(word, engine, voice, 1.0, 1.0)) for word in KEYWORDS for engine, voice in VOICES]


def audio_chunks(seed: int, clips: list[np.ndarray]) -> Iterator[np.ndarray]:
    """Endless 1 s int16 chunks: noise at a random level, every other one with a keyword in it."""
    rng = np.random.default_rng(seed)
    n = int(CHUNK_S * SAMPLE_RATE)
    while True:
        x = rng.normal(0, float(rng.uniform(30, 600)), n)
        if rng.random() < 0.5:
            clip = clips[int(rng.integers(len(clips)))].astype(np.float64)
            x[: len(clip[:n])] += clip[:n] * float(rng.uniform(0.3, 1.0))
        yield np.clip(np.round(x), -32768, 32767).astype(np.int16)


def reference_chunk(chunk: np.ndarray) -> np.ndarray:
    """The audio the reference board gets for a chunk: the same (tests plant a mismatch here)."""
    return chunk


def result_key(res: P.Result) -> tuple:
    """What must be identical between the two boards for a hop (all but the cost)."""
    return (res.label, res.exit_index, res.score_q15, res.entropy_q16, tuple(res.scores_q15))


class Collector(View):
    """A listen.py view that files every RESULT under its global hop (hop_base + board hop)."""

    def __init__(self):
        self.session: Session | None = None
        self.results: dict[int, tuple] = {}

    def result(self, res: P.Result, time_s: float) -> None:
        self.results[self.session.hop_base + res.hop] = result_key(res)


class Board:
    """One emulated board streamed through listen.py's Session; counts what it processed."""

    def __init__(self, emu):
        self.emu = emu
        self.view = Collector()
        self.summary = ListenSummary()
        self.session = Session(emu.port, Options(emulator=True), self.view, self.summary, emu)
        self.view.session = self.session
        self.hops_done = 0            # hops the board processed before the last stream RESET
        self.stack_used_max = 0
        self.stack_size = 0

    def drain(self) -> P.Stats:
        """Wait until the board has processed every hop sent; its STATS then."""
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            self.session.poll(0.02)
            stats = self.session.board.get_stats()
            if stats.hops >= self.session.board.next_hop or time.monotonic() > deadline:
                break
        self.session.poll(0.1)
        self.stack_used_max = max(self.stack_used_max, stats.stack_used)
        self.stack_size = stats.stack_size
        return stats

    def reset_stream(self) -> None:
        """Drain, then RESET the stream and statistics; later hops are numbered from hops_sent."""
        self.hops_done += self.drain().hops
        self.session.board.reset(stats=True, stream=True)
        self.session.hop_base = self.summary.hops_sent
        self.session.last_result = None


class Soak:
    def __init__(self, soak_emu, ref_emu, seed: int, log=lambda line: None):
        self.soak, self.ref = Board(soak_emu), Board(ref_emu)
        self.rng = random.Random(seed)
        self.traffic = Traffic(self.rng)
        self.seed = seed
        self.log = log
        self.compared = self.mismatches = self.garbage_items = self.bursts = 0
        self.first_mismatch: str | None = None
        self.rss: list[float] = []
        self.reset_at_hop: int | None = None

    def compare(self) -> None:
        """Compare the RESULTs both boards have sent; keep only those whose twin has not arrived."""
        a, b = self.soak.view.results, self.ref.view.results
        for hop in [h for h in a if h in b]:
            self.compared += 1
            if a[hop] != b[hop]:
                self.mismatches += 1
                if self.first_mismatch is None:
                    self.first_mismatch = f"hop {hop}: soak {a[hop]} != reference {b[hop]}"
            del a[hop], b[hop]

    def burst(self) -> None:
        board = self.soak.session.board
        for _ in range(self.rng.randint(*BURST_ITEMS)):
            item = self.traffic.item(board.next_hop, 0x9000 + self.rng.randrange(0x6000))
            if item.kind in SAFE_KINDS:
                board._write(item.data)
                self.garbage_items += 1
        self.bursts += 1

    def report(self, t0: float, final: bool = False) -> dict:
        hops_sent = self.soak.summary.hops_sent
        stats = self.soak.session.board.stats
        processed = self.soak.hops_done + (stats.hops if stats is not None else 0)
        ref_stats = self.ref.session.board.stats
        out = {"minutes": round((time.monotonic() - t0) / 60, 2), "hops_sent": hops_sent,
               "hops_processed": processed, "hops_lost": hops_sent - processed if final else None,
               "reference_hops_processed": self.ref.hops_done + (ref_stats.hops if ref_stats is not None else 0),
               "results_compared": self.compared, "mismatches": self.mismatches,
               "results_identical": self.mismatches == 0 and (not final or not (self.soak.view.results
                                                                                 or self.ref.view.results)),
               "results_unmatched": len(self.soak.view.results) + len(self.ref.view.results),
               "first_mismatch": self.first_mismatch, "garbage_items": self.garbage_items, "bursts": self.bursts,
               "stream_reset_at_hop": self.reset_at_hop, "rss_mb": rss_mb(), "rss_mb_per_minute": self.rss,
               "stack_used_max": max(self.soak.stack_used_max, stats.stack_used if stats is not None else 0),
               "stack_size": self.soak.stack_size or (stats.stack_size if stats is not None else 0),
               "crc_errors": stats.crc_errors if stats is not None else 0,
               "results_dropped": stats.results_dropped if stats is not None else 0,
               "seed": self.seed}
        return out

    def run(self, seconds: float, per_minute=lambda out: None) -> dict:
        for b in (self.soak, self.ref):
            b.session.handshake()
        chunks = audio_chunks(self.seed, keyword_clips())
        t0 = time.monotonic()
        self.rss.append(rss_mb())
        next_report = t0 + REPORT_EVERY_S
        for chunk in chunks:
            now = time.monotonic()
            # The RESET comes half-way, and the run ends no earlier than one chunk after it, however
            # slowly the boards go (under load a single chunk can take longer than a short run).
            if self.reset_at_hop is None and now - t0 >= seconds / 2:
                self.reset_at_hop = self.soak.summary.hops_sent
                self.soak.reset_stream()
                self.ref.reset_stream()
            elif now - t0 >= seconds and self.reset_at_hop is not None:
                break
            self.soak.session.stream([chunk], realtime=False)
            self.ref.session.stream([reference_chunk(chunk)], realtime=False)
            if self.rng.random() < GARBAGE_SHARE:
                self.burst()
            self.compare()
            if now >= next_report:
                next_report += REPORT_EVERY_S
                self.rss.append(rss_mb())
                self.soak.summary.costs.clear()
                self.ref.summary.costs.clear()
                self.soak.summary.detections.clear()
                self.ref.summary.detections.clear()
                per_minute(self.report(t0))
        for b in (self.soak, self.ref):
            b.drain()
        self.compare()
        self.rss.append(rss_mb())
        return self.report(t0, final=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, required=True, help="how long to stream (wall clock)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the audio and the garbage (default 0)")
    ap.add_argument("--elf", type=Path, help="boot this ELF instead of building the qemu_m4 firmware")
    ap.add_argument("--json", action="store_true", help="a JSON line per minute on stdout")
    args = ap.parse_args(argv)
    if not (math.isfinite(args.minutes) and args.minutes > 0):
        raise BitearError(f"--minutes must be a number of minutes > 0, found {args.minutes}")
    if args.elf is not None:
        check_elf(args.elf)
    per_minute = (lambda out: print(json.dumps(out), flush=True)) if args.json else \
        (lambda out: print(f"{out['minutes']} min: {out['hops_sent']} hops, {out['results_compared']} results "
                           f"compared, {out['mismatches']} mismatches, RSS {out['rss_mb']} MB", file=sys.stderr))
    try:
        with Emulator(args.elf) as soak_emu, Emulator(args.elf) as ref_emu:
            out = Soak(soak_emu, ref_emu, args.seed).run(args.minutes * 60, per_minute)
    except EmulatorError as e:
        print(f"error: cannot start the emulated board: {e}", file=sys.stderr)
        return 1
    except BitearError as e:          # the board stopped working during the soak: a failure, not a user error
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"{out['hops_sent']} hops sent in {out['minutes']} min, {out['hops_lost']} lost; "
              f"{out['results_compared']} results compared, {out['mismatches']} mismatches; "
              f"RSS {out['rss_mb_per_minute']} MB; stack {out['stack_used_max']} of {out['stack_size']} bytes")
    print(json.dumps(out))
    return 1 if out["hops_lost"] or not out["results_identical"] else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
