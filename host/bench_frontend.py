"""Instructions per 20 ms hop of the C front end on the emulated Cortex-M4 and Cortex-M0+ (unicorn), as JSON.

    .venv/bin/python -m host.bench_frontend          # last stdout line: one JSON object

The front end (`firmware/lib/bitear/bitear_frontend.c`) is built with the firmware's flags by
model/m4run.py — once with the Cortex-M4 DSP path (what the firmware runs) and once as plain C
(-DBITEAR_FRONTEND_NO_DSP), and plain C for the Cortex-M0+ (the pico's core: no DSP instructions,
64-bit products through libgcc) — and `bitear_frontend_push` is counted on hops of silence, a tone,
white noise, full-scale clipped noise and synthetic chirpy "speech-like" audio (deterministic,
no external tools). The count depends a little on the audio (the block-floating-point shift and
the silence fast path); the figure reported is the maximum. Budget on the Cortex-M4 (DSP path):
≤ 18 000 (BUDGET_M4, asserted by tests/test_frontend.py).

By stage (`stages`): a second build with -DBITEAR_FRONTEND_PROFILE keeps every stage of a push a
function of its own, and the counter's per-function profile of the dearest hop (full-scale clipped
noise) is summed per stage (STAGES; libgcc helpers count in the stage that calls them). The
out-of-line calls cost a few instructions, so the stages add up to a little more than the total.

`M4Frontend` is reused by tests/test_frontend.py for the host-vs-M4 bit-exactness tests.
"""
from __future__ import annotations

import json
import sys

import numpy as np

from model.m4run import M4Program
from model.facts import BINS, FRAMES, HOP, SAMPLE_RATE
from model.facts import CLIP_SAMPLES as CLIP

SOURCES = ("firmware/lib/bitear/bitear_frontend.c",)
INCLUDE_DIRS = ("firmware/lib/bitear",)
BUDGET_M4 = 18_000  # instructions per hop, Cortex-M4 DSP path
# function of the profiling build -> stage (both paths: the DSP path fuses the window with FFT stage 0)
STAGES = {
    "fe_magnitude_bits": "block floating point (max |s w|)",
    "fe_window": "window",
    "fe_fft_stage0": "FFT stage 0",
    "fe_window_fft0": "window + FFT stage 0",
    "fe_fft_stages": "FFT stages 1-3",
    "fe_fft_stage": "FFT stages 1-3",
    "fe_mel": "split + power + mel",
    "__muldi3": "split + power + mel",
    "fe_log_code": "log",
    "fe_log_code_dsp": "log",
    "__clzsi2": "log",
    "memcpy": "history copy",
    "bitear_frontend_push": "checks, shift, calls",
}
PROFILE_KIND = "clipped_noise"  # the dearest hop of bench_audio


class M4Frontend:
    """The C front end running on the emulated Cortex-M4 (or cpu="m0plus": the Cortex-M0+, which has
    no DSP instructions, so plain C whatever `dsp` says): feature extraction and per-hop counting."""

    def __init__(self, dsp: bool = True, cpu: str = "m4", profile: bool = False):
        self.dsp = dsp
        defines = {} if dsp else {"BITEAR_FRONTEND_NO_DSP": None}
        if profile:
            defines["BITEAR_FRONTEND_PROFILE"] = None
        self.prog = M4Program(SOURCES, INCLUDE_DIRS, defines=defines, cpu=cpu)
        self.state_bytes = self.prog.call("bitear_frontend_state_size", counting=None).ret
        self.state = self.prog.alloc(self.state_bytes)
        self.hop_buf = self.prog.alloc(2 * HOP)
        self.out_buf = self.prog.alloc(BINS)
        self.reset()

    def reset(self) -> None:
        status = self.prog.call("bitear_frontend_init", self.state, counting=None).ret
        if status != 0:
            raise RuntimeError(f"bitear_frontend_init returned {status}")

    def push(self, hop: np.ndarray, counting: str | None = "block", profile: bool = False) -> tuple[np.ndarray, int | None]:
        """Push one hop; (frame (40,) int8, instructions); profile: per-function counts in self.prog.last_profile."""
        self.prog.write(self.hop_buf, np.ascontiguousarray(hop, dtype=np.int16))
        status, n = self.prog.call("bitear_frontend_push", self.state, self.hop_buf, self.out_buf, counting=counting,
                                   profile=profile)
        if status != 0:
            raise RuntimeError(f"bitear_frontend_push returned {status}")
        return self.prog.get(self.out_buf, np.int8, BINS), n

    def features(self, clips: np.ndarray, batch: int = 64) -> np.ndarray:
        """(N, 16000) int16 -> (N, 49, 40) int8 through bitear_frontend_clips on the M4 (not counted)."""
        clips = np.ascontiguousarray(clips, dtype=np.int16).reshape(-1, CLIP)
        out = np.empty((len(clips), FRAMES, BINS), np.int8)
        for s in range(0, len(clips), batch):
            part = clips[s:s + batch]
            src = self.prog.put(part)
            dst = self.prog.alloc(part.shape[0] * FRAMES * BINS)
            status = self.prog.call("bitear_frontend_clips", self.state, src, len(part), dst, counting=None).ret
            if status != 0:
                raise RuntimeError(f"bitear_frontend_clips returned {status}")
            out[s:s + len(part)] = self.prog.get(dst, np.int8, part.size // CLIP * FRAMES * BINS).reshape(-1, FRAMES, BINS)
            self.prog.free_all()
            self.state, self.hop_buf, self.out_buf = (self.prog.alloc(self.state_bytes), self.prog.alloc(2 * HOP),
                                                      self.prog.alloc(BINS))
        self.reset()
        return out

    def close(self) -> None:
        self.prog.close()

    def __enter__(self) -> "M4Frontend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def bench_audio(seed: int = 0) -> dict[str, np.ndarray]:
    """Deterministic test audio of 6 hops each (the first hop primes the history)."""
    rng = np.random.default_rng(seed)
    n = 6 * HOP
    t = np.arange(n) / SAMPLE_RATE
    chirp = 6000 * np.sin(2 * np.pi * (150 * t + 2500 * t ** 2)) * (1 + 0.8 * np.sin(2 * np.pi * 4 * t))
    clip = lambda x: np.clip(np.round(x), -32768, 32767).astype(np.int16)  # noqa: E731
    return {
        "silence": np.zeros(n, np.int16),
        "tone_1k": clip(8000 * np.sin(2 * np.pi * 1000 * t)),
        "white_noise": clip(rng.normal(0, 3000, n)),
        "clipped_noise": clip(rng.normal(0, 40000, n)),
        "speech_like": clip(chirp + rng.normal(0, 30, n)),
    }


def measure(dsp: bool = True, cpu: str = "m4") -> dict[str, int]:
    """Instructions of bitear_frontend_push per kind of audio (max over its hops after the first),
    on the Cortex-M4 (DSP path or plain C) or the Cortex-M0+ (cpu="m0plus", plain C)."""
    counts: dict[str, int] = {}
    with M4Frontend(dsp=dsp, cpu=cpu) as fe:
        for name, audio in bench_audio().items():
            fe.reset()
            per_hop = [fe.push(audio[i * HOP:(i + 1) * HOP])[1] for i in range(len(audio) // HOP)]
            counts[name] = max(per_hop[1:])
        counts["stack_bytes"] = fe.prog.last_stack_bytes
    return counts


def stages(dsp: bool = True, cpu: str = "m4") -> dict[str, int]:
    """Instructions per stage of the dearest hop (PROFILE_KIND, after its first hop), profiling build."""
    audio = bench_audio()[PROFILE_KIND]
    with M4Frontend(dsp=dsp, cpu=cpu, profile=True) as fe:
        totals: list[tuple[int, dict[str, int]]] = []
        for i in range(len(audio) // HOP):
            n = fe.push(audio[i * HOP:(i + 1) * HOP], profile=True)[1]
            totals.append((n, dict(fe.prog.last_profile)))
    profile = max(totals[1:], key=lambda t: t[0])[1]
    unknown = sorted(set(profile) - set(STAGES))
    if unknown:
        raise RuntimeError(f"bench_frontend: no stage for function(s) {', '.join(unknown)}: add them to STAGES")
    by_stage: dict[str, int] = {}
    for fn, n in profile.items():
        by_stage[STAGES[fn]] = by_stage.get(STAGES[fn], 0) + n
    return dict(sorted(by_stage.items(), key=lambda kv: -kv[1]))


def stage_table() -> dict[str, dict[str, int]]:
    """Per-stage instructions of one hop: Cortex-M4 DSP path, Cortex-M4 plain C, Cortex-M0+."""
    return {"cortex_m4": stages(dsp=True), "cortex_m4_plain_c": stages(dsp=False), "cortex_m0plus": stages(cpu="m0plus")}


def main() -> int:
    dsp = measure(dsp=True)
    plain = measure(dsp=False)
    m0 = measure(cpu="m0plus")
    kinds = [k for k in dsp if k != "stack_bytes"]
    by_stage = stage_table()
    result = {
        "frontend_instructions_per_hop": max(dsp[k] for k in kinds),
        "frontend_instructions_per_hop_plain_c": max(plain[k] for k in kinds),
        "frontend_instructions_per_hop_cortex_m0plus": max(m0[k] for k in kinds),
        "frontend_instructions_per_hop_by_audio": {k: dsp[k] for k in kinds},
        "frontend_instructions_per_hop_by_stage": by_stage,
        "frontend_stack_bytes": dsp["stack_bytes"],
        "frontend_budget": BUDGET_M4,
    }
    for k in kinds:
        print(f"{k:>14}: {dsp[k]:6d} instructions/hop (plain C {plain[k]:6d}; Cortex-M0+ {m0[k]:6d})", file=sys.stderr)
    print_stages(by_stage)
    print(json.dumps(result))
    return 0


def print_stages(by_stage: dict[str, dict[str, int]], out=sys.stderr) -> None:
    """The per-stage table (stage | M4 DSP | M4 plain C | M0+), one hop of PROFILE_KIND audio."""
    cols = list(by_stage)
    names = list(dict.fromkeys(name for table in by_stage.values() for name in table))
    print(f"front end per hop by stage ({PROFILE_KIND}, profiling build): " + " | ".join(cols), file=out)
    for name in names:
        cells = " | ".join(f"{by_stage[c].get(name, 0):6d}" for c in cols)
        print(f"  {name:>34}: {cells}", file=out)


if __name__ == "__main__":
    sys.exit(main())
