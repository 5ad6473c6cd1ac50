"""Fuzz the emulated board over its serial line: `python -m host.fuzz --frames N [--seed S] [--json]`.

Boots the qemu_m4 firmware in QEMU (host.emulator.Emulator; `--elf` runs another build), plays a
clean reference run of a generated audio stream, then plays the same audio again and again, each
time with seeded hostile traffic between its AUDIO hops (host/fuzz_traffic.py: random bytes, bad
CRCs, random bodies with good CRCs for every message type, wrong versions, unknown types,
truncated and oversize frames, refused commands, stale, far-off and 0xFFFFFFFF hops), pauses in
reading, and sometimes a stream RESET half-way (the pass starts again). Between passes: AUDIO
without credit (a burst past the credit limit: every hop queued or counted as an overrun) and two
far-off hops in a row (a resynchronisation, docs/protocol.md §4).

Checked after every batch (BATCH_ROUNDS rounds of garbage + a credit window of audio) and at the
end of each pass; any difference is a failure:
  - HELLO still gets READY (and the board's QEMU is alive);
  - the board's STATS equal the prediction: its decoder counters (frames_received, crc_errors,
    framing_errors, unknown_commands, bad_commands) equal a host-side FrameDecoder fed the same
    bytes plus what the application refuses, rx_dropped and results_dropped are 0, the NACKs of refused AUDIO equal
    the far-off hops sent, resyncs equal the resynchronisations asked for;
  - the stack high-water mark (STATS.stack_used) stays below the stack (STATS.stack_size);
  - at the end of a pass, its RESULTs and DETECTIONs equal the reference run's (every field but
    RESULT.cost, which counts the instructions of the RX interrupts the garbage caused).
Garbage is only written while the board's AUDIO queue is empty and at most GARBAGE_BYTES at a
time, so a board that keeps its contract never drops a byte (its receive ring: 2 KB).

Output: progress on stderr; the last stdout line is one JSON object (frames_sent, failures,
garbage frames per kind, audio hops, passes, wall_s, ...). Exit code 1 when anything failed,
2 for a bad option. Figures: README, "Reliability".
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from host import protocol as P
from host.board import BoardClient
from host.emulator import Emulator, EmulatorError, check_elf
from host.fuzz_traffic import Garbage, Traffic
from model.errors import BitearError, run_cli
from model.facts import HOP, SAMPLE_RATE

AUDIO_S = 3.0                # the reference stream: 150 hops, ~25 RESULTs
GARBAGE_BYTES = 600          # most garbage written at once (with the credit window's audio: < the 2 KB RX ring)
BATCH_ROUNDS = 8             # rounds between the checks
RESET_MIDWAY = 0.2           # share of passes interrupted by a stream RESET
PAUSE = 0.03                 # share of rounds that pause reading for 0.05..0.5 s
TIMEOUT_S = 30.0             # no credit / no answer for this long: a failure
MAX_FAILURES = 20            # stop early after this many


def reference_audio(seed: int) -> np.ndarray:
    """AUDIO_S of generated sound (noise, tones, a chirp): what the network makes of it is not
    the point, only that it makes the same of it every time."""
    rng = np.random.default_rng(seed)
    n = int(AUDIO_S * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    audio = rng.normal(0, 300, n) + 4000 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (np.sin(np.pi * t) ** 2)
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16)[: n // HOP * HOP]


class MirroredPort:
    """The board's port, with a host-side FrameDecoder fed every byte written: what the board's
    decoder must have counted. Also counts the decoded board -> host messages (the application
    counts them as unknown commands) and the rejected AUDIO frames that passed their CRC (the
    board answers those with a NACK of AUDIO)."""

    def __init__(self, port):
        self.port = port
        self.frames_written = 0
        self.zero()

    def zero(self) -> None:
        self.mirror = P.FrameDecoder()
        self.board_types = 0
        self.audio_nacks = 0

    def write(self, data: bytes) -> int:
        for b in data:
            event = self.mirror.feed_byte(b)
            if isinstance(event, P.Message) and event.TYPE >= 0x80:
                self.board_types += 1
            elif isinstance(event, str) and event in ("bad_version", "bad_length") and \
                    self.mirror.last_error.type == P.MsgType.AUDIO:
                self.audio_nacks += 1
        self.frames_written += data.count(0)
        return self.port.write(data)

    def read(self, n: int = 1) -> bytes:
        return self.port.read(n)

    @property
    def in_waiting(self) -> int:
        return self.port.in_waiting

    @property
    def timeout(self):
        return self.port.timeout

    @timeout.setter
    def timeout(self, value) -> None:
        self.port.timeout = value


@dataclass
class Expect:
    """What the application must count since the last RESET of the statistics."""
    app_bad: int = 0
    far_off: int = 0
    resyncs: int = 0
    audio_hops: int | None = 0   # hops queued (audio_frames); None: not predicted (AUDIO sent without credit)
    refused_base: int = 0        # BoardClient.refused_audio at the RESET
    resyncs_base: int = 0


@dataclass
class Run:
    frames_sent: int = 0
    garbage: Counter = field(default_factory=Counter)
    audio_hops: int = 0
    passes: int = 0
    resets_midway: int = 0
    bursts: int = 0
    resyncs: int = 0
    pauses: int = 0
    checks: int = 0
    stack_used_max: int = 0
    stack_size: int = 0
    failures: list[str] = field(default_factory=list)


class Fuzzer:
    def __init__(self, port, seed: int, log=lambda text: None):
        self.port = MirroredPort(port)
        self.client = BoardClient(self.port, timeout=TIMEOUT_S, ready_timeout=TIMEOUT_S, poll_s=0.02)
        self.rng = random.Random(seed)
        self.traffic = Traffic(self.rng)
        self.audio = reference_audio(seed)
        self.run = Run()
        self.expect = Expect()
        self.log = log
        self.results: list[tuple] = []
        self.detections: list[tuple] = []

    # -- messages --
    def drain(self, timeout: float = 0.0) -> None:
        """Take every message waiting (RESULT / DETECTION kept; ACKs of garbage dropped)."""
        for msg in self.client.messages(timeout):
            if isinstance(msg, P.Result):
                self.results.append((msg.hop, msg.label, msg.exit_index, msg.score_q15, msg.entropy_q16,
                                     tuple(msg.scores_q15)))
            elif isinstance(msg, P.Detection):
                self.detections.append((msg.hop, msg.label, msg.score_q15))

    def fail(self, text: str) -> None:
        self.run.failures.append(text)
        self.log(f"FAILURE: {text}")

    # -- the stream --
    def restart(self) -> None:
        """RESET (statistics and stream): hop 0 again, every counter and prediction from zero."""
        self.drain()
        self.client.reset(stats=True, stream=True)
        self.port.zero()
        self.expect = Expect(refused_base=self.client.refused_audio, resyncs_base=self.client.resyncs)
        self.results, self.detections = [], []

    def wait_queue_empty(self) -> None:
        """Until the board's credit says its AUDIO queue is empty (every frame sent was decoded)."""
        deadline = time.monotonic() + TIMEOUT_S
        while self.client.free_hops() < self.client.credit.capacity:
            if time.monotonic() > deadline:
                raise BitearError(f"the board's AUDIO queue did not empty within {TIMEOUT_S:g} s "
                                  f"(credit limit {self.client.credit.limit}, next hop {self.client.next_hop})")
            self.drain(0.01)

    def garbage_round(self) -> None:
        budget = GARBAGE_BYTES
        for _ in range(64):
            seq = (self.client.next_seq + 0x8000 + self.rng.randrange(0x4000)) & 0xFFFF
            item: Garbage = self.traffic.item(self.client.next_hop, seq)
            if len(item.data) > budget:
                if budget < GARBAGE_BYTES:
                    continue
                budget = len(item.data)          # one large frame alone (oversize, AUDIO-sized)
            budget -= len(item.data)
            self.port.write(item.data)
            self.run.garbage[item.kind] += 1
            self.expect.app_bad += item.app_bad
            self.expect.far_off += item.far_off
            if budget <= 0:
                break

    def play(self, garbage: bool) -> bool:
        """Play the reference audio from hop 0 (after restart()); with garbage between rounds.
        Returns False when a stream RESET interrupted it (the caller plays it again)."""
        hops = len(self.audio) // HOP
        stop_at = self.rng.randrange(hops) if garbage and self.rng.random() < RESET_MIDWAY else None
        rounds = 0
        while self.client.next_hop < hops:
            self.wait_queue_empty()
            if garbage:
                if self.rng.random() < PAUSE:
                    self.run.pauses += 1
                    time.sleep(self.rng.uniform(0.05, 0.5))      # a host that stops reading for a while
                self.garbage_round()
            if stop_at is not None and self.client.next_hop >= stop_at:
                self.run.resets_midway += 1
                self.restart()
                return False
            n = min(self.client.credit.capacity, hops - self.client.next_hop)
            start = self.client.next_hop * HOP
            sent = self.client.send_audio(self.audio[start:start + n * HOP])
            self.run.audio_hops += sent
            self.expect.audio_hops += sent
            self.drain()
            rounds += 1
            if garbage and rounds % BATCH_ROUNDS == 0:
                self.check()
        self.finish()
        return True

    def finish(self) -> None:
        """Wait until the board processed every hop sent (STATS.hops), collecting results."""
        self.client.wait_processed(TIMEOUT_S)
        self.drain(0.05)

    # -- checks --
    def check(self) -> None:
        """HELLO -> READY; STATS as predicted; stack below its size."""
        self.run.checks += 1
        self.drain()
        self.client.hello()
        self.drain()
        stats = self.client.get_stats()
        c = self.port.mirror.counters
        want = {
            "frames_received": c["frames"],
            "crc_errors": c["crc_errors"],
            "framing_errors": c["cobs_errors"] + c["empty_frames"] + c["short_frames"] + c["oversize"],
            "unknown_commands": c["bad_version"] + c["unknown_type"] + self.port.board_types,
            "bad_commands": c["bad_length"] + self.expect.app_bad,
            "rx_dropped": 0,
            "results_dropped": 0,
            "resyncs": self.expect.resyncs,
        }
        if self.expect.audio_hops is not None:      # under credit: every hop queued, none lost or overrun
            want.update(audio_frames=self.expect.audio_hops, frames_dropped=0, overruns=0)
        got = {k: getattr(stats, k) for k in want}
        if got != want:
            diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
            self.fail(f"pass {self.run.passes + 1}: board STATS differ from the prediction (board, predicted): {diff}")
        refused = self.client.refused_audio - self.expect.refused_base
        if refused != self.expect.far_off + self.port.audio_nacks:
            self.fail(f"pass {self.run.passes + 1}: {refused} NACKs of AUDIO, predicted "
                      f"{self.expect.far_off} far-off + {self.port.audio_nacks} malformed")
        if self.client.resyncs - self.expect.resyncs_base != self.expect.resyncs:
            self.fail(f"pass {self.run.passes + 1}: {self.client.resyncs - self.expect.resyncs_base} resync notices, "
                      f"predicted {self.expect.resyncs}")
        self.run.stack_used_max = max(self.run.stack_used_max, stats.stack_used)
        self.run.stack_size = stats.stack_size
        if stats.stack_size and stats.stack_used >= stats.stack_size:
            self.fail(f"stack high-water mark {stats.stack_used} bytes reaches the stack's {stats.stack_size}")

    def abuse(self) -> None:
        """Between passes: AUDIO without credit (every hop of the burst queued or an overrun),
        then two far-off hops in a row (one resync, acknowledged)."""
        self.restart()
        self.wait_queue_empty()
        burst = self.client.credit.capacity + 1
        pcm = self.audio[:HOP].astype("<i2").tobytes()
        for _ in range(burst):                                   # ignoring the credit limit
            self.client.send(P.Audio, self.client.next_hop, pcm)
            self.client.next_hop += 1
        self.run.bursts += 1
        self.expect.audio_hops = None
        far = self.client.next_hop + P.RESYNC_HOPS + 1 + self.rng.randrange(1 << 20)
        self.client.send(P.Audio, far, pcm)
        self.client.send(P.Audio, far + 1, pcm)
        self.client.next_hop = far + 2
        self.expect.far_off += 1
        self.expect.app_bad += 1
        self.expect.resyncs += 1
        self.run.resyncs += 1
        self.finish_abuse(burst)

    def finish_abuse(self, burst: int) -> None:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            stats = self.client.get_stats()
            if stats.audio_frames + stats.overruns >= burst + 1 and stats.hops >= stats.audio_frames:
                break
            if time.monotonic() > deadline:
                self.fail(f"burst of {burst} hops without credit: {stats.audio_frames} queued + {stats.overruns} "
                          f"overruns (expected {burst} + the resynced hop)")
                break
            self.drain(0.05)
        self.check()

    def reference(self) -> tuple[list, list]:
        self.restart()
        self.play(garbage=False)
        return list(self.results), list(self.detections)

    def fuzz(self, frames: int) -> Run:
        ref_results, ref_detections = self.reference()
        if not ref_results:
            self.fail("the reference run gave no RESULT")
        self.log(f"reference: {len(ref_results)} results, {len(ref_detections)} detections of "
                 f"{len(self.audio) // HOP} hops")
        while (self.run.passes == 0 or self.port.frames_written < frames) and len(self.run.failures) < MAX_FAILURES:
            self.restart()
            while not self.play(garbage=True):
                pass
            self.run.passes += 1
            self.check()
            if (self.results, self.detections) != (ref_results, ref_detections):
                self.fail(f"pass {self.run.passes}: {len(self.results)} results / {len(self.detections)} detections "
                          f"differ from the reference's {len(ref_results)} / {len(ref_detections)}")
            self.abuse()
            self.log(f"pass {self.run.passes}: {self.port.frames_written} frames sent, "
                     f"{sum(self.run.garbage.values())} garbage, {len(self.run.failures)} failures")
        self.run.frames_sent = self.port.frames_written
        return self.run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m host.fuzz", description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=10000, help="frames to send in all (default 10000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the traffic and the audio (default 0)")
    ap.add_argument("--elf", type=Path, help="boot this ELF instead of building the qemu_m4 firmware")
    ap.add_argument("--json", action="store_true", help="print only the final JSON line on stdout")
    args = ap.parse_args(argv)
    if args.frames < 1:
        raise BitearError(f"--frames must be at least 1, found {args.frames}")
    if args.elf is not None:
        check_elf(args.elf)

    log = (lambda text: print(text, file=sys.stderr, flush=True))
    t0 = time.monotonic()
    fuzzer = None
    try:
        with Emulator(args.elf) as emu:
            fuzzer = Fuzzer(emu.port, args.seed, log)
            try:
                fuzzer.client.hello()
                fuzzer.fuzz(args.frames)
            except BitearError as e:
                alive = emu.process.poll() is None
                fuzzer.fail(f"{e}" + ("" if alive else f" (QEMU exited with code {emu.process.returncode}: "
                                                      f"{emu.qemu_stderr().strip()[-200:]})"))
            run = fuzzer.run
            run.frames_sent = fuzzer.port.frames_written
    except EmulatorError as e:
        print(f"error: cannot start the emulated board: {e}", file=sys.stderr)
        return 1
    out = {"frames_sent": run.frames_sent, "failures": len(run.failures), "failure_messages": run.failures[:10],
           "garbage_frames": sum(run.garbage.values()), "garbage_by_kind": dict(sorted(run.garbage.items())),
           "audio_hops": run.audio_hops, "passes": run.passes, "resets_midway": run.resets_midway,
           "bursts_without_credit": run.bursts, "resyncs": run.resyncs, "read_pauses": run.pauses,
           "checks": run.checks, "stack_used_max": run.stack_used_max, "stack_size": run.stack_size,
           "seed": args.seed, "wall_s": round(time.monotonic() - t0, 1)}
    if not args.json:
        print(f"{run.frames_sent} frames sent ({out['garbage_frames']} garbage, {run.audio_hops} audio hops, "
              f"{run.passes} passes) in {out['wall_s']} s: {len(run.failures)} failures")
    print(json.dumps(out))
    return 1 if run.failures else 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
