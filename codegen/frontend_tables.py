"""Generate firmware/lib/bitear/bitear_frontend_tables.h: the constant tables of the integer front end.

    .venv/bin/python -m codegen.frontend_tables            # (re)write the header
    .venv/bin/python -m codegen.frontend_tables --check    # exit 1 if the committed header is stale

Every number comes from `model/frontend_reference.py` (the float reference and the one home of
the front-end parameters), quantized here:

  window      periodic Hann, Q15 in int16 (32768 = 1.0; the peak w[240] = 1.0 is stored as 32767)
  digit_rev   base-4 digit reversal of 0..255 (input order of the radix-4 decimation-in-time FFT)
  twiddle     exp(-2 pi i k / 256) in Q14 (16384 = 1.0) for radix-4 stages 1..3, stored in the
              order the FFT walks them: for each stage, for each j, (W^j, W^2j, W^3j) as (re, im)
  split       (cos, sin)(pi k / 256) in Q14 for the bins k the mel filters use (real-FFT split)
  mel         band start bins (BINS + 2) and the rising weight of every used bin in Q15
              (falling weight = 32768 - rising)
  log2        frac table: round(256 * log2(1 + (m + 0.5) / 128)), m = 7 mantissa bits after the
              leading one

  DSP path (Cortex-M4, the __ARM_FEATURE_DSP part of bitear_frontend.c):
  mel_dsp     per used bin k, with (c, s) its split twiddle and r its rising weight, six words:
              four pairs of Q14 coefficients packed (lo | hi << 16): (2^14 - s, c), (2^14 + s, c),
              (-c, 2^14 - s), (c, -2^14 - s), then r and 32768 - r. Two dual multiply-accumulates
              on Z[k] and Z[256 - k] give the real and the imaginary part of the split bin times
              2^14. 2^14 + s = 2^15 does not fit int16: it occurs at k = 128 only, where
              Z[k] = Z[256 - k], and the real part's weights there are (2^14, 0) for both.
  band_end    per band j (0..BINS), the word offset in mel_dsp where its bins end
  log_step    round-half-up(LOG_SCALE * frac / 256) of the log2 frac table below: the code is
              LOG_SCALE * (msb - 35 + 2 rs) + log_step[m] + LOG_OFFSET, exactly the plain path's
              floor((LOG_SCALE * l8 + 128) / 256) + LOG_OFFSET as LOG_SCALE * 256 * (msb - 35 + 2 rs)
              is a multiple of 256
The parameter #defines are emitted too and the public header includes them, so C never repeats a
Python constant by hand.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from model import frontend_reference as ref
from model.paths import PLUGIN_DIR

HEADER = PLUGIN_DIR / "bitear_frontend_tables.h"
FFT_COMPLEX = ref.FFT_SIZE // 2          # 256-point complex FFT
Q14 = 1 << 14
Q15 = 1 << 15
LOG2_MANTISSA_BITS = 7


def window_q15() -> np.ndarray:
    """Q15 in int16: the peak 1.0 becomes 32767 (so int16 x int16 multiplies, SMULBB, work)."""
    return np.minimum(np.round(ref.hann_window() * Q15), Q15 - 1).astype(np.int64)


def digit_reverse() -> np.ndarray:
    i = np.arange(FFT_COMPLEX)
    d = [(i >> s) & 3 for s in (0, 2, 4, 6)]
    return (d[0] << 6) | (d[1] << 4) | (d[2] << 2) | d[3]


def twiddles_q14() -> np.ndarray:
    """(n, 2) int Q14 (re, im) of exp(-2 pi i k/256), for stages with span 16, 64, 256."""
    rows = []
    span = 16
    while span <= FFT_COMPLEX:
        quarter = span // 4
        step = FFT_COMPLEX // span
        for j in range(quarter):
            for mult in (1, 2, 3):
                k = mult * j * step
                w = np.exp(-2j * np.pi * k / FFT_COMPLEX)
                rows.append((w.real, w.imag))
        span *= 4
    return np.round(np.array(rows) * Q14).astype(np.int64)


def mel_tables() -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """(first bin, last bin, band starts (BINS+2), rising weights Q15 per used bin, split twiddles Q14)."""
    band, rise = ref.mel_bands()
    m = ref.mel_matrix()
    used = np.nonzero(m.sum(axis=1) > 0)[0]          # bins with a non-zero weight somewhere
    first, last = int(used[0]), int(used[-1])
    if not np.array_equal(used, np.arange(first, last + 1)):
        raise AssertionError("the used FFT bins are not contiguous")
    if (m > 0).sum(axis=0).min() < 1:
        raise AssertionError("a mel channel has no FFT bin")
    used_band = band[first:last + 1]
    if np.any(np.diff(used_band) < 0) or used_band.min() < 0:
        raise AssertionError("mel bands of the used bins are not monotone")
    # band j = bins [starts[j], starts[j+1]); an empty band has starts[j] == starts[j+1]
    starts = first + np.array([np.count_nonzero(used_band < j) for j in range(ref.BINS + 2)], dtype=np.int64)
    if np.any(np.diff(starts) == 0):
        raise AssertionError("an empty mel band (the DSP path's band loop needs at least one bin per band)")
    rise_q15 = np.round(rise[first:last + 1] * Q15).astype(np.int64)
    k = np.arange(first, last + 1)
    split = np.round(np.stack([np.cos(np.pi * k / FFT_COMPLEX), np.sin(np.pi * k / FFT_COMPLEX)], axis=1) * Q14)
    return first, last, starts, rise_q15, split.astype(np.int64)


def mel_dsp_rows(split: np.ndarray, rise: np.ndarray, first: int) -> np.ndarray:
    """(bins, 6) uint32: the DSP path's row per used bin (see the module docstring)."""
    c, s = split[:, 0], split[:, 1]
    k = first + np.arange(len(split))
    a_re, b_re = Q14 - s, Q14 + s
    # bin 128: Z[k] = Z[256 - k], so the weight 2^15 of its real part is split evenly
    a_re, b_re = np.where(k == FFT_COMPLEX // 2, Q14, a_re), np.where(k == FFT_COMPLEX // 2, Q14, b_re)
    pairs = np.stack([np.stack([a_re, c], 1), np.stack([b_re, c], 1),
                      np.stack([-c, Q14 - s], 1), np.stack([c, -Q14 - s], 1)], axis=1)
    if pairs.min() < -(1 << 15) or pairs.max() >= 1 << 15:
        raise AssertionError("a DSP split coefficient does not fit int16")
    packed = (pairs[..., 0] & 0xFFFF) | ((pairs[..., 1] & 0xFFFF) << 16)
    return np.concatenate([packed, rise[:, None], Q15 - rise[:, None]], axis=1)


def log2_frac_q8() -> np.ndarray:
    m = np.arange(1 << LOG2_MANTISSA_BITS)
    return np.round(256 * np.log2(1 + (m + 0.5) / (1 << LOG2_MANTISSA_BITS))).astype(np.int64)


def _c_array(ctype: str, name: str, values, per_line: int = 12, suffix: str = "") -> str:
    vals = [f"{int(v)}{suffix}" for v in np.asarray(values).ravel()]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{len(vals)}] = {{\n    {body}\n}};\n"


def render() -> str:
    win = window_q15()
    rev = digit_reverse()
    tw = twiddles_q14()
    first, last, starts, rise, split = mel_tables()
    logt = log2_frac_q8()
    assert win.max() <= 0x7FFF and win.min() >= 0
    assert np.abs(tw).max() <= Q14 and np.abs(split).max() <= Q14
    assert rise.min() >= 0 and rise.max() <= Q15 and logt.max() <= 255
    out = [
        "/* bitear_frontend_tables.h — generated by codegen/frontend_tables.py from",
        " * model/frontend_reference.py. Do not edit: run `.venv/bin/python -m codegen.frontend_tables`. */",
        "#ifndef BITEAR_FRONTEND_TABLES_H",
        "#define BITEAR_FRONTEND_TABLES_H",
        "",
        "/* Parameters (see bitear_frontend.h for what they mean). */",
        f"#define BITEAR_SAMPLE_RATE {ref.SAMPLE_RATE}",
        f"#define BITEAR_FRONTEND_WINDOW {ref.WINDOW}",
        f"#define BITEAR_FRONTEND_HOP {ref.HOP}",
        f"#define BITEAR_FRONTEND_BINS {ref.BINS}",
        f"#define BITEAR_FRONTEND_FFT_SIZE {ref.FFT_SIZE}",
        f"#define BITEAR_FRONTEND_CLIP_SAMPLES {ref.CLIP_SAMPLES}",
        f"#define BITEAR_FRONTEND_FMIN_HZ {int(ref.FMIN_HZ)}",
        f"#define BITEAR_FRONTEND_FMAX_HZ {int(ref.FMAX_HZ)}",
        f"#define BITEAR_FRONTEND_LOG_SCALE {ref.LOG_SCALE}",
        f"#define BITEAR_FRONTEND_LOG_OFFSET ({ref.LOG_OFFSET})",
        "",
        "/* FFT bins the mel filters use: BITEAR_FE_MEL_FIRST_BIN..BITEAR_FE_MEL_LAST_BIN (bin k is k * 16000 / 512 Hz). */",
        f"#define BITEAR_FE_MEL_FIRST_BIN {first}",
        f"#define BITEAR_FE_MEL_LAST_BIN {last}",
        f"#define BITEAR_FE_MEL_NUM_BINS {last - first + 1}",
        f"#define BITEAR_FE_LOG2_MANTISSA_BITS {LOG2_MANTISSA_BITS}",
        "",
        "#ifdef BITEAR_FRONTEND_TABLES_DEFINE  /* the tables themselves: defined where this is set */",
        "#include <stdint.h>",
        "",
        f"/* Periodic Hann window, Q15 (32768 = 1.0), max {int(win.max())}. */",
        _c_array("int16_t", "bitear_fe_window_q15", win),
        "/* Base-4 digit reversal of 0..255: complex input n goes to position bitear_fe_digit_rev[n]. */",
        _c_array("uint8_t", "bitear_fe_digit_rev", rev, 16),
        "/* Radix-4 twiddles exp(-2 pi i k / 256), Q14, per stage (span 16, 64, 256), per j: re/im of W^j, W^2j, W^3j. */",
        _c_array("int16_t", "bitear_fe_twiddle_q14", tw.ravel()),
        "#ifdef BITEAR_FRONTEND_DSP_TABLES  /* the Cortex-M4 DSP path */",
        "/* Per used bin k (c, s = cos, sin(pi k / 256) in Q14, r its rising weight in Q15), lo | hi << 16 pairs:",
        " * (2^14 - s, c), (2^14 + s, c) (both (2^14, 0) at k = 128), (-c, 2^14 - s), (c, -2^14 - s), then r, 32768 - r. */",
        _c_array("uint32_t", "bitear_fe_mel_dsp", mel_dsp_rows(split, rise, first).ravel(), 6, "u"),
        "/* Per band j (0..BINS): the word offset in bitear_fe_mel_dsp where its bins end. */",
        _c_array("uint16_t", "bitear_fe_mel_dsp_band_end", 6 * (starts[1:] - first), 14),
        f"/* ({ref.LOG_SCALE} * bitear_fe_log2_frac_q8[m] + 128) >> 8: the log code's step of the 7 mantissa bits m. */",
        _c_array("uint8_t", "bitear_fe_log_step", (ref.LOG_SCALE * logt + 128) >> 8, 16),
        "#else  /* the plain-C path */",
        "/* Real-FFT split twiddles (cos, sin)(pi k / 256), Q14, for k = BITEAR_FE_MEL_FIRST_BIN..BITEAR_FE_MEL_LAST_BIN. */",
        _c_array("int16_t", "bitear_fe_split_q14", split.ravel()),
        "/* Rising weight (Q15) of bins BITEAR_FE_MEL_FIRST_BIN..BITEAR_FE_MEL_LAST_BIN; falling weight = 32768 - rising. */",
        _c_array("uint16_t", "bitear_fe_mel_rise_q15", rise),
        "/* Mel band j (0..BINS) = bins [start[j], start[j+1]): rising slope of channel j, falling slope of channel j-1. */",
        _c_array("uint16_t", "bitear_fe_mel_band_start", starts),
        "/* round(256 * log2(1 + (m + 0.5) / 128)): fractional log2 (Q8) of the 7 mantissa bits m below the leading one. */",
        _c_array("uint8_t", "bitear_fe_log2_frac_q8", logt, 16),
        "#endif /* BITEAR_FRONTEND_DSP_TABLES */",
        "#endif /* BITEAR_FRONTEND_TABLES_DEFINE */",
        "",
        "#endif /* BITEAR_FRONTEND_TABLES_H */",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the header on disk differs from what would be generated")
    parser.add_argument("--output", type=Path, default=HEADER)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text() if args.output.is_file() else ""
        if current != text:
            print(f"{args.output} is stale: run .venv/bin/python -m codegen.frontend_tables", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
