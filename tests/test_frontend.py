"""The integer C front end: host binding, float reference, streaming, API errors, and the Cortex-M4 build.

Tolerance against the float reference (model/frontend_reference.py), in int8 codes (1 code =
1/6 octave of energy = 0.5 dB), measured per channel against the loudest channel of the same
frame ("depth"):

* |C - reference| <= 1 wherever the channel is within 40 dB (80 codes) of its frame's loudest
  channel — for tones within 60 dB (120 codes). One code, because both land on either side of a
  rounding boundary whenever they differ at all: the window (Q15), twiddles (Q14), mel weights
  (Q15) and the log2 table (7 mantissa bits, error <= 0.006 octave = 0.04 code) are quantized.
* 40-50 dB below the frame's loudest channel: <= 4 codes; deeper channels stay at least 40 dB
  (80 codes) below the loudest. The FFT runs on 16-bit data normalised to the frame's peak
  (block floating point) and rounds after each radix-4 stage, so its rounding noise is a floor
  about 45-50 dB under the frame's peak for speech (deeper for pure tones): channels near that
  floor show it instead of the true (much lower) energy.
* The frame's loudest channel agrees within 1 code, at every input level (the block-floating-
  point shift is compensated in the log domain, so quiet audio keeps its precision).

Bit-exactness: the Cortex-M4 builds (DSP path and plain C, flags of the firmware, run in unicorn)
give byte-identical features to the host build on tones, noise, silence, full-scale clipping,
clicks, DC and espeak-ng speech.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess

import numpy as np
import pytest

from codegen import frontend_tables
from model import frontend as F
from model import frontend_reference as R
from model.audio import fit_to_one_second, read_wav, resample, to_mono
from model.errors import BitearError

SR = 16000
T = np.arange(SR) / SR
CODES_PER_DB = 2  # 6 codes per doubling of energy (3.01 dB)


def as_int16(x) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def tone(freq: float, amp: float, phase: float = 0.3) -> np.ndarray:
    return as_int16(amp * np.sin(2 * np.pi * freq * T + phase))


def noise(sigma: float, seed: int) -> np.ndarray:
    return as_int16(np.random.default_rng(int(seed)).normal(0, sigma, SR))


# ---------------------------------------------------------------- speech (espeak-ng, temp dir)
WORDS = [("yes", "en-us"), ("seven", "en-gb+f3"), ("stop", "en-us+m3"), ("left", "en-us+f2"), ("house", "de"),
         ("zero", "fr-fr")]


@pytest.fixture(scope="session")
def speech(tmp_path_factory) -> list[np.ndarray]:
    """1 s int16 clips of espeak-ng words, generated into a temp dir (espeak-ng is a declared dependency)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("espeak-ng is not installed but is a declared dependency (apt-get install espeak-ng)")
        pytest.skip("espeak-ng not installed")
    folder = tmp_path_factory.mktemp("espeak")
    clips = []
    for i, (word, voice) in enumerate(WORDS):
        wav = folder / f"{i}.wav"
        subprocess.run([exe, "-v", voice, "-w", str(wav), word], check=True, capture_output=True)
        x, rate = read_wav(wav)
        clips.append(fit_to_one_second(resample(to_mono(x), rate, SR), align="center"))
    return clips


def speech_at_levels(speech) -> list[np.ndarray]:
    """Each word at 1/100, 1/10, 1 and 4x (clipping) its synthesized level."""
    return [as_int16(c.astype(np.float64) * g) for c in speech for g in (0.01, 0.1, 1.0, 4.0)]


# ---------------------------------------------------------------- comparison with the float reference
def check_against_reference(audio: np.ndarray, exact_codes: int = 80, loose_codes: int = 100,
                            loose_tol: int = 4, deep_codes: int = 80) -> None:
    c = F.compute_features(audio).astype(int)
    ref = R.reference_codes(audio)                                    # unrounded, -inf for E = 0
    ref_q = R.quantize((ref - R.LOG_OFFSET) / R.LOG_SCALE).astype(int)
    frame_max = ref_q.max(axis=1, keepdims=True)
    depth = frame_max - np.where(np.isfinite(ref), ref, -np.inf)
    diff = np.abs(c - ref_q)
    assert np.abs(c.max(axis=1) - frame_max[:, 0]).max() <= 1, "loudest channel of a frame differs"
    exact = depth <= exact_codes
    assert diff[exact].max(initial=0) <= 1, f"max |C - ref| {diff[exact].max()} within {exact_codes} codes of the frame max"
    loose = (depth > exact_codes) & (depth <= loose_codes)
    assert diff[loose].max(initial=0) <= loose_tol
    deep = depth > loose_codes
    limit = np.maximum(frame_max - deep_codes, -128)
    assert np.all(c[deep] <= np.broadcast_to(limit, c.shape)[deep]), "a deep channel rose above the noise-floor bound"


@pytest.mark.parametrize("freq", [150, 440, 1000, 2500, 5000, 7300])
@pytest.mark.parametrize("amp", [3, 300, 32767])
def test_tones_close_to_reference(freq, amp):
    check_against_reference(tone(freq, amp), exact_codes=120)


@pytest.mark.parametrize("sigma", [1, 30, 3000, 20000, 60000])
def test_white_noise_close_to_reference(sigma):
    audio = noise(sigma, seed=sigma)
    check_against_reference(audio)
    diff = np.abs(F.compute_features(audio).astype(int) - R.reference_features(audio))
    assert diff.max() <= 1  # a flat spectrum has no deep channels


def test_speech_close_to_reference(speech):
    for clip in speech_at_levels(speech):
        check_against_reference(clip)


def test_silence_is_floor_and_quiet_audio_is_not():
    assert np.all(F.compute_features(np.zeros(SR, np.int16)) == -128)
    quiet = F.compute_features(tone(1000, 2))                        # a 2-LSB tone
    assert quiet.max() > -80 and np.abs(quiet.max() - R.reference_features(tone(1000, 2)).max()) <= 1


def test_level_doubling_adds_twelve_codes():
    """Amplitude x2 = energy x4 = +2 octaves = +12 codes, from 4 LSB to full scale (block floating point)."""
    peaks = [int(F.compute_features(tone(1000, 4 * 2 ** k)).max()) for k in range(13)]
    steps = np.diff(peaks)
    assert np.all(np.abs(steps - 12) <= 1), peaks


def test_full_scale_never_saturates():
    """By Parseval no int16 input exceeds code 123 (see frontend_reference): clipping audio stays below 127."""
    square = as_int16(np.where(np.sin(2 * np.pi * 1000 * T) >= 0, 32767, -32768))
    worst = max(F.compute_features(x).max() for x in (square, noise(1e6, 1), tone(4000, 40000), noise(2e4, 2)))
    assert 100 < worst <= 123


def test_tone_peaks_in_the_channel_that_contains_it():
    """A tone at an FFT bin centre peaks in the channel with the largest mel weight at that bin."""
    m = R.mel_matrix()
    for k in (10, 32, 96, 192):                       # 312.5, 1000, 3000, 6000 Hz
        w = np.sort(m[k])[::-1]
        assert w[0] - w[1] > 0.2, "pick a bin that one channel clearly dominates"
        feats = F.compute_features(tone(k * SR / R.FFT_SIZE, 10000))
        assert np.all(np.argmax(feats, axis=1) == int(np.argmax(m[k])))


# ---------------------------------------------------------------- API, binding, streaming
def test_shapes_dtypes_and_errors():
    assert F.compute_features(noise(100, 0)).shape == (49, 40)
    batch = np.stack([noise(100, 0), tone(500, 1000), np.zeros(SR, np.int16)])
    out = F.compute_features(batch)
    assert out.shape == (3, 49, 40) and out.dtype == np.int8
    assert np.array_equal(out[1], F.compute_features(batch[1]))
    assert F.compute_features(np.zeros((0, SR), np.int16)).shape == (0, 49, 40)
    with pytest.raises(ValueError, match="int16.*float64"):
        F.compute_features(np.zeros(SR))
    with pytest.raises(ValueError, match=r"\(16000,\) or \(N, 16000\).*\(8000,\)"):
        F.compute_features(np.zeros(8000, np.int16))
    with pytest.raises(ValueError, match="numpy array"):
        F.compute_features([0] * SR)
    fe = F.StreamingFrontend()
    with pytest.raises(ValueError, match=r"\(320,\) int16.*\(160,\)"):
        fe.push(np.zeros(160, np.int16))


def test_streaming_equals_clip_and_continues(speech):
    clip = speech[0]
    fe = F.StreamingFrontend()
    frames = fe.push_many(clip)
    assert fe.hops == 50
    assert np.array_equal(frames[1:], F.compute_features(clip))
    # the stream continues: frame of the next hop covers the clip's last 160 samples + the new hop
    nxt = fe.push(speech[1][:320])
    joined = np.concatenate([clip[-160:], speech[1][:320]])
    assert np.abs(nxt.astype(int) - R.quantize(R.log2_energy(joined[None].astype(float)))[0]).max() <= 4
    fe.reset()
    assert np.array_equal(fe.push_many(clip)[1:], frames[1:])


def test_null_pointers_and_uninitialised_state_give_status_codes():
    lib = F.library()
    state = F.FrontendState()
    hop = np.zeros(320, np.int16)
    out = np.full(40, 7, np.int8)
    hp = hop.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))
    op = out.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
    null = F.STATUS_NAMES
    assert null[-1].startswith("BITEAR_ERR_NULL") and null[0].startswith("BITEAR_OK")
    assert lib.bitear_frontend_init(None) == -1
    assert lib.bitear_frontend_push(ctypes.byref(state), hp, op) == -4  # never initialised: BITEAR_ERR_STATE
    assert np.all(out == 7)
    assert lib.bitear_frontend_init(ctypes.byref(state)) == 0
    assert lib.bitear_frontend_push(None, hp, op) == -1
    assert lib.bitear_frontend_push(ctypes.byref(state), None, op) == -1
    assert lib.bitear_frontend_push(ctypes.byref(state), hp, None) == -1
    assert lib.bitear_frontend_clip(ctypes.byref(state), None, op) == -1
    assert lib.bitear_frontend_clips(ctypes.byref(state), hp, 1, None) == -1
    assert lib.bitear_frontend_push(ctypes.byref(state), hp, op) == 0
    with pytest.raises(BitearError, match="BITEAR_ERR_STATE"):
        F.check_status(-4, "push")


def test_params_come_from_the_c_and_match_the_reference():
    p = F.FRONTEND_PARAMS
    assert (p["sample_rate"], p["window"], p["hop"], p["fft_size"], p["bins"], p["frames"]) == \
        (R.SAMPLE_RATE, R.WINDOW, R.HOP, R.FFT_SIZE, R.BINS, R.FRAMES) == (16000, 480, 320, 512, 40, 49)
    assert (p["fmin_hz"], p["fmax_hz"], p["log_scale"], p["log_offset"]) == (R.FMIN_HZ, R.FMAX_HZ, R.LOG_SCALE, R.LOG_OFFSET)
    assert len(p["source_hash"]) == 64


def test_generated_tables_are_up_to_date():
    assert frontend_tables.HEADER.read_text() == frontend_tables.render(), \
        "run .venv/bin/python -m codegen.frontend_tables"


def test_dsp_tables_give_the_plain_paths_integers():
    """The DSP path's generated rows and log steps reproduce the plain path's formulas exactly (Python
    model of SMLAD / SSAT on every used bin with extreme and random FFT values, every log input)."""
    first, _, starts, rise, split = frontend_tables.mel_tables()
    rows = frontend_tables.mel_dsp_rows(split, rise, first)
    half = lambda w, hi: ((w >> 16) if hi else w & 0xFFFF).astype(np.int64) - (((w >> (31 if hi else 15)) & 1) << 16)  # noqa: E731
    rng = np.random.default_rng(1)
    lim = 23170  # |Z| < 2^14 sqrt(2)
    for i, k in enumerate(range(first, first + len(rows))):
        z = rng.integers(-lim, lim + 1, (200, 4))
        z[:4] = [[lim, lim, -lim, -lim], [-lim, lim, lim, -lim], [lim, -lim, lim, lim], [-lim, -lim, -lim, lim]]
        ar, ai, br, bi = z.T
        if k == 128:
            br, bi = ar, ai                                              # Z[k] = Z[256 - k]
        c, s = split[i]
        xr = ((ar + br) * 16384 + 8192 + c * (ai + bi) - s * (ar - br)) >> 14   # fe_bin_power
        xi = ((ai - bi) * 16384 + 8192 - c * (ar - br) - s * (ai + bi)) >> 14
        w = rows[i]
        dual = lambda x, y, ww: x * half(ww, 0) + y * half(ww, 1)        # noqa: E731  SMLAD
        assert np.array_equal((dual(ar, ai, w[0]) + dual(br, bi, w[1]) + 8192) >> 14, xr), k
        assert np.array_equal((dual(ar, ai, w[2]) + dual(br, bi, w[3]) + 8192) >> 14, xi), k
        assert (w[4], w[5]) == (rise[i], 32768 - rise[i])
    assert np.array_equal(np.diff(np.concatenate([[0], 6 * (starts[1:] - first)])) > 0, np.ones(R.BINS + 1, bool))
    frac = frontend_tables.log2_frac_q8()
    step = (R.LOG_SCALE * frac + 128) >> 8
    x = np.arange(-40, 70)[:, None]                                       # msb - 35 + 2 rs
    l8 = 256 * x + frac[None, :]
    plain = np.where(l8 < 0, -128, np.clip(((R.LOG_SCALE * l8 + 128) >> 8) + R.LOG_OFFSET, -128, 127))
    assert np.array_equal(np.clip(R.LOG_SCALE * x + step[None, :] + R.LOG_OFFSET, -128, 127), plain)


def test_other_builds_give_identical_bytes(speech, monkeypatch):
    """Portable count-leading-zeros fallback, and clang with -pedantic, compute the same bytes."""
    audio = np.stack([speech[2], noise(3000, 5), tone(700, 50)])
    expected = F.compute_features(audio)
    builds = [("-DBITEAR_FRONTEND_PORTABLE_CLZ",)]
    for flags in builds:
        lib = F.load_library(F.build_library(flags))
        out = np.empty_like(expected)
        state = F.FrontendState()
        assert lib.bitear_frontend_clips(ctypes.byref(state), audio.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)),
                                         len(audio), out.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))) == 0
        assert np.array_equal(out, expected)
    if shutil.which("clang"):
        monkeypatch.setenv("CC", "clang")
        lib = F.load_library(F.build_library(("-pedantic",)))
        out = np.empty_like(expected)
        state = F.FrontendState()
        lib.bitear_frontend_clips(ctypes.byref(state), audio.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)),
                                  len(audio), out.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)))
        assert np.array_equal(out, expected)


def test_missing_compiler_and_compile_errors_are_clear(monkeypatch):
    monkeypatch.setenv("CC", "no-such-cc-bitear")
    with pytest.raises(BitearError, match="no-such-cc-bitear.*not found"):
        F.build_library(("-DX",))
    monkeypatch.setenv("CC", "gcc")
    with pytest.raises(BitearError, match="compiling the C front end failed"):
        F.build_library(("-DBITEAR_FRONTEND_HOP=1",))


# ---------------------------------------------------------------- Cortex-M4 build (unicorn)
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None and os.environ.get("CI") != "true",
                               reason="arm-none-eabi-gcc not installed")


@pytest.fixture(scope="module", params=["dsp", "plain_c"])
def m4(request):
    from host.bench_frontend import M4Frontend

    with M4Frontend(dsp=request.param == "dsp") as fe:
        yield fe


def corpus(speech) -> np.ndarray:
    clicks = np.zeros(SR, np.int16)
    clicks[[100, 4321, 9000, 15999]] = [32767, -32768, 20000, -5]
    audio = [tone(f, a) for f, a in ((125, 3000), (440, 100), (1000, 32767), (3000, 5), (7400, 20000))]
    audio += [noise(s, s) for s in (1, 100, 8000, 1e6)]                          # 1e6: full-scale clipping
    audio += [np.zeros(SR, np.int16), clicks, as_int16(20000 + tone(300, 9000).astype(float)),
              as_int16(np.where(np.arange(SR) % 2, 32767, -32768)),              # Nyquist, full scale
              as_int16(np.where(np.sin(2 * np.pi * 1000 * T) >= 0, 32767, -32768))]
    audio += speech_at_levels(speech)
    return np.stack(audio)


@needs_arm
def test_m4_build_gives_identical_bytes(m4, speech):
    audio = corpus(speech)
    assert np.array_equal(m4.features(audio), F.compute_features(audio))


@needs_arm
def test_m4_streaming_push_matches_host(m4, speech):
    host = F.StreamingFrontend()
    m4.reset()
    stream = np.concatenate([speech[3], np.zeros(640, np.int16), tone(2000, 30000)[:1600]])
    for i in range(len(stream) // 320):
        hop = stream[i * 320:(i + 1) * 320]
        frame, _ = m4.push(hop, counting=None)
        assert np.array_equal(frame, host.push(hop)), f"hop {i}"


@needs_arm
def test_m4_null_pointers(m4):
    prog = m4.prog
    assert prog.call("bitear_frontend_push", 0, m4.hop_buf, m4.out_buf).ret == -1
    assert prog.call("bitear_frontend_push", m4.state, 0, m4.out_buf).ret == -1
    assert prog.call("bitear_frontend_push", m4.state, m4.hop_buf, 0).ret == -1
    assert prog.call("bitear_frontend_init", 0).ret == -1
    assert m4.state_bytes == ctypes.sizeof(F.FrontendState)


@needs_arm
def test_m4_instructions_per_hop(m4, speech):
    """Deterministic instruction count of bitear_frontend_push on the Cortex-M4: DSP path within
    host.bench_frontend.BUDGET_M4 (18 000), plain C within 60 000."""
    from host.bench_frontend import BUDGET_M4

    m4.reset()
    counts = []
    for clip in (speech[1], noise(5000, 3), tone(1000, 30000)):
        for i in range(8):
            counts.append(m4.push(clip[4000 + i * 320:4000 + (i + 1) * 320])[1])
    # same state + same hop -> same count
    m4.reset()
    hop = speech[1][6000:6320]
    a = (m4.push(hop)[1], m4.push(hop)[1])
    m4.reset()
    assert (m4.push(hop)[1], m4.push(hop)[1]) == a
    print(f"\nCortex-M4 instructions per hop ({'DSP path' if m4.dsp else 'plain C'}): "
          f"min {min(counts)}, max {max(counts)}, stack {m4.prog.last_stack_bytes} bytes")
    assert max(counts) <= (BUDGET_M4 if m4.dsp else 60_000)


@needs_arm
def test_m4_bench_figure_within_budget():
    """The figure `make bench` reports (max over host.bench_frontend's audio kinds) and its stages."""
    from host.bench_frontend import BUDGET_M4, measure, stages

    counts = measure(dsp=True)
    assert max(v for k, v in counts.items() if k != "stack_bytes") <= BUDGET_M4
    by_stage = stages(dsp=True)
    assert {"FFT stages 1-3", "split + power + mel", "window + FFT stage 0", "log"} <= set(by_stage)
    assert max(counts.values()) <= sum(by_stage.values()) <= max(counts.values()) + 600  # + out-of-line calls
