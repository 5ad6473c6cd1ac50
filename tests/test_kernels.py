"""The C runtime equals the integer reference exactly: host build (gcc) and Cortex-M4 builds (unicorn,
optimized and reference kernels) — every layer's bits, every exit's logits and entropy, the exit
decisions — for both time paddings ("valid", the default, and "same", the first kws12) and for
other network shapes (a 10-class, 4-block config through codegen with no other change), plus the
kernels alone on odd shapes (any pad / skip) and the public API's argument checks."""
from __future__ import annotations

import ctypes

import numpy as np
import pytest

from codegen import __main__ as cli
from codegen import generate, harness, intmodel as im, reference, streaming, testing
from codegen.generate import packed_block_weights
from model.student import DEFAULT_CONFIG, conv_pad, conv_skip

pytestmark = pytest.mark.timeout(300)
NEVER = im.THRESHOLD_NEVER
PADDINGS = ("valid", "same")


def _generate(tmp_path_factory, config: dict, seed: int, thresholds: list) -> tuple:
    """A random model generated into a temporary folder (the committed tables stay untouched)."""
    model, _ = cli.load(testing.cached_random_checkpoint(seed=seed, exit_thresholds=thresholds, config=config))
    out = tmp_path_factory.mktemp("gen")
    generate.write(model, out)
    return model, out


@pytest.fixture(scope="module", params=PADDINGS)
def gen(request, tmp_path_factory):
    """The default network shape with each time padding."""
    model, out = _generate(tmp_path_factory, dict(DEFAULT_CONFIG, time_padding=request.param), 0, [0.35, 0.35])
    assert model.time_padding == request.param
    return model, out


@pytest.fixture(scope="module")
def host(gen):
    with harness.open_runtime("host", gen[1]) as rt:
        yield rt


def _windows(n: int, seed: int) -> np.ndarray:
    return testing.random_features(np.random.default_rng(seed), n)


def _threshold_sets(model, tr) -> list[list[int]]:
    """Full depth, always-first, the checkpoint's defaults, and medians (about half stop early)."""
    n = len(model.heads) - 1
    med = [int(np.median(tr.entropy_q16[e])) for e in range(n)]
    return [[NEVER] * n, [im.Q16] * n, list(model.exit_thresholds_q16), med, [0] * n]


def _check_against_reference(model, rt, x: np.ndarray) -> None:
    tr = reference.trace(model, x)
    lay = generate.layout(model)
    for thresholds in _threshold_sets(model, tr):
        want = reference.decide(model, tr, thresholds)
        got = rt.run(x, thresholds)
        assert (got["status"] == 0).all()
        for key in ("label", "exit_index", "entropy_q16", "logits", "scores_q15"):
            assert np.array_equal(got[key], getattr(want, key)), (thresholds, key)
        for e in range(len(model.heads)):
            reached = got["reached"][:, e]
            assert np.array_equal(reached, want.exit_index >= e)
            assert np.array_equal(got["exit_logits"][reached, e], tr.logits[e][reached])
            assert np.array_equal(got["exit_entropy_q16"][reached, e], tr.entropy_q16[e][reached])
    # full depth: every layer's packed map in the arena, padding rows still zero
    got = rt.run(x, [NEVER] * (len(model.heads) - 1))
    act = got["act"]
    T, C = model.stem.out_len, model.stem.channels
    assert np.array_equal(act[:, lay.stem_out_offset:lay.stem_out_offset + T * C // 32],
                          reference.pack_bits(tr.stem_bits).reshape(len(x), -1))
    for i, b in enumerate(model.blocks):
        o = lay.block_out_offset[i]
        assert np.array_equal(act[:, o:o + b.out_len * b.channels // 32],
                              reference.pack_bits(tr.block_bits[i]).reshape(len(x), -1)), f"block {i}"
        pad = b.pad * b.cin // 32
        start = lay.block_in_offset[i]
        end = start + (b.in_len + 2 * b.pad) * b.cin // 32
        assert not act[:, start:start + pad].any() and not act[:, end - pad:end].any()


def test_host_build_equals_reference(gen, host):
    model, _ = gen
    _check_against_reference(model, host, _windows(240, seed=21))


@pytest.mark.parametrize("target", ["m4", "m4-ref"])
def test_cortex_m4_build_equals_reference(gen, target):
    model, out = gen
    with harness.open_runtime(target, out) as rt:
        _check_against_reference(model, rt, _windows(12, seed=22))


OTHER_CONFIG = {  # odd shapes: stride-1 stem with 5 taps, a block without exit, 96 channels, 7 taps
    "frames": 49, "bins": 40, "classes": 12, "time_padding": "same",
    "stem": {"kernel": 5, "stride": 1, "channels": 32},
    "blocks": [{"kernel": 3, "stride": 3, "channels": 64, "exit": True},
               {"kernel": 3, "stride": 1, "channels": 64, "exit": False},
               {"kernel": 7, "stride": 2, "channels": 96, "exit": True}],
}


def test_other_network_shape_host_and_m4(tmp_path):
    """The runtime is generic: another configuration, host and M4, equals its reference."""
    ckpt = testing.cached_random_checkpoint(seed=3, exit_thresholds=[0.5], config=OTHER_CONFIG)
    model, _ = cli.load(ckpt)
    generate.write(model, tmp_path)
    with harness.open_runtime("host", tmp_path) as rt:
        _check_against_reference(model, rt, _windows(64, seed=23))
    with harness.open_runtime("m4", tmp_path) as rt:
        _check_against_reference(model, rt, _windows(4, seed=24))


def test_ten_classes_four_blocks_valid_padding_host_and_m4(tmp_path):
    """A 10-class, 4-block, 2-early-exit config with valid padding goes through codegen and the C
    runtime (host and M4) bit-exact with its reference: sizes come from the generated macros."""
    ckpt = testing.cached_random_checkpoint(seed=4, exit_thresholds=[0.5, 0.6], config=testing.TEN_CLASS_CONFIG)
    model, _ = cli.load(ckpt)
    assert model.classes == 10 and len(model.blocks) == 4 and len(model.heads) == 3
    # valid padding: every layer ends on its last input frame; some layers skip old frames
    assert all(b.pad == 0 for b in model.blocks) and model.stem.pad == 0
    assert [b.skip for b in model.blocks] == [1, 1, 0, 1]
    assert [b.out_len for b in model.blocks] == [14, 6, 4, 2] and model.stem.out_len == 45
    generate.write(model, tmp_path)
    with harness.open_runtime("host", tmp_path) as rt:
        assert (rt.classes, rt.exits) == (10, 3)
        _check_against_reference(model, rt, _windows(64, seed=25))
    with harness.open_runtime("m4", tmp_path) as rt:
        _check_against_reference(model, rt, _windows(4, seed=26))


def test_model_state_size_matches_size_table(gen):
    """bitear_model_t on the M4 is exactly what the size table says."""
    from codegen import sizes
    model, out = gen
    with harness.open_runtime("m4", out) as rt:
        assert rt.prog.call("harness_model_size", counting=None).ret == sum(sizes.ram_bytes(model).values())


# ---- kernels alone ---------------------------------------------------------------------------------

BCONV_SHAPES = [  # in_len, in_words, kernel, stride, cout
    (25, 2, 5, 2, 64), (13, 4, 3, 2, 128), (9, 1, 1, 1, 32), (7, 1, 7, 3, 32),
    (6, 3, 3, 1, 32), (11, 8, 5, 2, 64),  # 40 words per patch: more than one 30-word chunk
    (4, 2, 9, 1, 32), (10, 5, 7, 2, 32), (12, 2, 3, 5, 32),
]


def _pad_skip(in_len: int, kernel: int, stride: int) -> list[tuple[int, int]]:
    """(pad, skip) of both time paddings (valid only where an output fits), and one mix of both
    that no student makes (the C runtime is generic)."""
    cases = [(conv_pad(kernel, "same"), conv_skip(in_len, kernel, stride, "same"))]
    if in_len >= kernel:
        cases.append((conv_pad(kernel, "valid"), conv_skip(in_len, kernel, stride, "valid")))
    if in_len + 1 >= kernel:
        cases.append((1, 1))
    return cases


def _random_bconv(rng, in_len, in_words, kernel, stride, cout, pad, skip):
    cin = 32 * in_words
    out_len = (in_len - skip + 2 * pad - kernel) // stride + 1
    K = kernel * cin
    signs = rng.choice(np.array([-1, 1], np.int8), (cout, kernel, cin))
    thr = rng.integers(-1, K + 1, cout)
    thr[:2] = [-1, K]
    block = im.BlockInt(0, in_len, cin, kernel, stride, out_len, cout, signs, thr.astype(np.int32),
                        rng.integers(0, 2, cout).astype(np.uint8), None, pad, skip)
    bits = rng.integers(0, 2, (1, in_len, cin)).astype(np.uint8)
    bits[0, 0] = 1  # an all -1 step next to the padding
    _, out = reference.block_forward(block, bits)
    # the input region: pad rows of +1, the map, pad rows of +1; the skipped rows are part of the map
    args = ([in_len, in_words, kernel, stride, out_len, cout // 32, pad, skip], packed_block_weights(block).reshape(-1),
            block.thresholds.astype(np.int16), reference.pack_bits(block.flips),
            reference.pack_bits(np.pad(bits[0], ((pad, pad), (0, 0)))).reshape(-1), out_len * cout // 32)
    return args, reference.pack_bits(out[0]).reshape(-1)


def _bconv_cases():
    for in_len, in_words, kernel, stride, cout in BCONV_SHAPES:
        for pad, skip in _pad_skip(in_len, kernel, stride):
            yield (in_len, in_words, kernel, stride, cout, pad, skip)


def test_bconv_reference_skip_and_pad_by_definition():
    """block_forward follows the definition: output t reads input rows skip + t*stride - pad + j."""
    rng = np.random.default_rng(30)
    for in_len, in_words, kernel, stride, cout, pad, skip in _bconv_cases():
        cin = 32 * in_words
        out_len = (in_len - skip + 2 * pad - kernel) // stride + 1
        signs = rng.choice(np.array([-1, 1], np.int8), (cout, kernel, cin))
        block = im.BlockInt(0, in_len, cin, kernel, stride, out_len, cout, signs, np.zeros(cout, np.int32),
                            np.zeros(cout, np.uint8), None, pad, skip)
        x = rng.choice(np.array([-1, 1]), (in_len, cin))
        P, _ = reference.block_forward(block, (x < 0).astype(np.uint8)[None])
        for t in range(out_len):
            rows = [skip + t * stride - pad + j for j in range(kernel)]
            patch = np.stack([x[r] if 0 <= r < in_len else np.ones(cin, np.int64) for r in rows])  # +1 padding
            dot = (patch[None] * signs).sum(axis=(1, 2))
            assert np.array_equal(kernel * cin - 2 * P[0, t], dot), (in_len, kernel, stride, pad, skip, t)


def test_bconv_kernels_on_host(host):
    rng = np.random.default_rng(31)
    for case in _bconv_cases():
        args, want = _random_bconv(rng, *case)
        for variant in ("ref", "opt"):
            assert np.array_equal(host.bconv(variant, *args), want), (variant, case)


STEM_SHAPES = [  # frames, bins, kernel, stride, channels
    (49, 40, 3, 2, 64), (20, 8, 5, 1, 32), (17, 12, 1, 3, 32), (9, 4, 7, 2, 64), (10, 6, 3, 2, 32),  # 6 bins: fallback
    (49, 40, 5, 3, 32),
]


def _stem_cases():
    for frames, bins, kernel, stride, channels in STEM_SHAPES:
        for pad, skip in _pad_skip(frames, kernel, stride):
            yield (frames, bins, kernel, stride, channels, pad, skip)


def _random_stem(rng, frames, bins, kernel, stride, channels, pad, skip):
    out_len = (frames - skip + 2 * pad - kernel) // stride + 1
    w = rng.integers(-127, 128, (channels, kernel, bins)).astype(np.int8)
    x = rng.integers(-128, 128, (1, frames, bins)).astype(np.int8)
    stem = im.StemInt(frames, bins, kernel, stride, out_len, channels, w, np.zeros(channels, np.int32),
                      rng.integers(0, 2, channels).astype(np.uint8), np.ones(channels, np.float32), pad, skip)
    acc, _ = reference.stem_forward(stem, x)
    # by definition: acc[t] = sum_j w[:, j] . x[skip + t*stride - pad + j] (zero outside)
    for t in range(out_len):
        rows = [skip + t * stride - pad + j for j in range(kernel)]
        want = sum(w[:, j].astype(np.int64) @ x[0, r].astype(np.int64) for j, r in enumerate(rows) if 0 <= r < frames)
        assert np.array_equal(acc[0, t], np.broadcast_to(want, (channels,))), (frames, kernel, pad, skip, t)
    thr = acc[0, rng.integers(0, out_len, channels), np.arange(channels)] + rng.integers(-1, 2, channels)
    thr[0] = im.INT32_MIN
    stem.thresholds = thr.astype(np.int32)
    _, bits = reference.stem_forward(stem, x)
    args = ([frames, bins, kernel, stride, out_len, channels, pad, skip], w.reshape(-1), stem.thresholds,
            reference.pack_bits(stem.flips), x.reshape(-1), out_len * channels // 32)
    return args, reference.pack_bits(bits[0]).reshape(-1)


def test_stem_kernel_on_host(host):
    rng = np.random.default_rng(32)
    for case in _stem_cases():
        args, want = _random_stem(rng, *case)
        assert np.array_equal(host.stem("ref", *args), want), case


def test_head_kernels_on_host(host):
    """Reference and byte-lane head on odd lengths (more than 255 steps: the lanes are flushed)."""
    rng = np.random.default_rng(34)
    for length, channels, classes, frac in ((13, 64, 12, 8), (1, 32, 2, 0), (300, 96, 5, 3), (7, 128, 12, 8)):
        h = im.HeadInt(0, 0, length, channels, rng.integers(-127, 128, (classes, channels)).astype(np.int8),
                       np.zeros(classes, np.int64), rng.integers(-10**6, 10**6, classes), 1.0, frac, 0, 0)
        bits = rng.integers(0, 2, (1, length, channels)).astype(np.uint8)
        want = reference.head_forward(h, bits)[0]
        args = ([length, channels, classes, frac + 1], h.weights.reshape(-1), h.bias_folded.astype(np.int32),
                reference.pack_bits(bits[0]).reshape(-1), classes)
        for variant in ("ref", "opt"):
            assert np.array_equal(host.head(variant, *args), want), (variant, length, channels)


def test_kernels_on_cortex_m4(gen):
    """Both binary conv kernels and both stem kernels on the M4, and the optimized ones are faster."""
    if gen[0].time_padding != PADDINGS[0]:
        pytest.skip("the kernels alone do not depend on the model: run once")
    rng = np.random.default_rng(33)
    with harness.open_runtime("m4", gen[1]) as rt:
        for case in _bconv_cases():
            if case[:5] not in BCONV_SHAPES[:6] and case[:5] != BCONV_SHAPES[-1]:
                continue
            args, want = _random_bconv(rng, *case)
            counts = {}
            for variant in ("ref", "opt"):
                got, counts[variant] = rt.bconv(variant, *args, with_count=True)
                assert np.array_equal(got, want), (variant, case)
            assert counts["opt"] < counts["ref"] / 2, (case, counts)
        for case in _stem_cases():
            args, want = _random_stem(rng, *case)
            for variant in ("ref", "opt"):
                assert np.array_equal(rt.stem(variant, *args), want), (variant, case)


# ---- public API --------------------------------------------------------------------------------------

BITEAR_OK, BITEAR_ERR_NULL, BITEAR_ERR_ARG, BITEAR_ERR_STATE = 0, -1, -2, -4


def test_api_arguments_and_stats(gen, host):
    model, _ = gen
    L = host.lib
    m = ctypes.create_string_buffer(len(host.model))
    x = np.ascontiguousarray(_windows(3, seed=41))
    res = ctypes.create_string_buffer(256)
    L.bitear_model_infer.argtypes = [ctypes.c_void_p] * 3
    L.bitear_model_get_threshold.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    L.bitear_model_exit_output.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    L.bitear_model_get_stats.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    L.bitear_model_label.restype = ctypes.c_char_p
    L.bitear_model_label.argtypes = [ctypes.c_int]
    # not initialised
    assert L.bitear_model_infer(m, x.ctypes.data, res) == BITEAR_ERR_STATE
    assert L.bitear_model_set_threshold(m, 0, 100) == BITEAR_ERR_STATE
    assert L.bitear_model_init(None) == BITEAR_ERR_NULL
    assert L.bitear_model_init(m) == BITEAR_OK
    assert L.bitear_model_infer(m, None, res) == BITEAR_ERR_NULL
    assert L.bitear_model_infer(m, x.ctypes.data, None) == BITEAR_ERR_NULL
    logits = np.zeros(model.classes, np.int32)
    ent = ctypes.c_uint32()
    assert L.bitear_model_exit_output(m, 0, logits.ctypes.data, ctypes.byref(ent)) == BITEAR_ERR_STATE
    # thresholds: defaults from the checkpoint, range checks, all / one / full depth
    t = ctypes.c_int32()
    for e, want in enumerate(model.exit_thresholds_q16):
        assert L.bitear_model_get_threshold(m, e, ctypes.byref(t)) == BITEAR_OK and t.value == want
    for e, v in ((0, 65537), (0, -2), (2, 100), (-2, 100)):
        assert L.bitear_model_set_threshold(m, e, v) == BITEAR_ERR_ARG
    assert L.bitear_model_set_threshold(m, -1, 65536) == BITEAR_OK  # all exits: always the first
    for _ in range(2):
        assert L.bitear_model_infer(m, x.ctypes.data, res) == BITEAR_OK
    assert L.bitear_model_exit_output(m, 1, logits.ctypes.data, ctypes.byref(ent)) == BITEAR_ERR_STATE
    assert L.bitear_model_exit_output(m, 0, logits.ctypes.data, ctypes.byref(ent)) == BITEAR_OK
    assert L.bitear_model_set_full_depth(m) == BITEAR_OK
    assert L.bitear_model_infer(m, x[1].ctypes.data, res) == BITEAR_OK
    assert L.bitear_model_get_threshold(m, 1, ctypes.byref(t)) == BITEAR_OK and t.value == NEVER
    stats = np.zeros(8, np.uint32)
    assert L.bitear_model_get_stats(m, stats.ctypes.data) == BITEAR_OK
    macs = [b.out_len * b.k_bits * b.channels for b in model.blocks]
    assert list(stats[:4]) == [3, 2, 0, 1]  # inferences, exits[0..2]
    assert int(stats[4]) | int(stats[5]) << 32 == 2 * macs[0] + sum(macs)
    assert L.bitear_model_reset_stats(m) == BITEAR_OK
    assert L.bitear_model_get_stats(m, stats.ctypes.data) == BITEAR_OK and not stats[:6].any()
    assert L.bitear_model_label(2) == b"yes" and L.bitear_model_label(99) == b""


# ---- streaming -----------------------------------------------------------------------------------------

def _stream_audio(seconds: float, seed: int) -> np.ndarray:
    """Speech-like audio: chirpy harmonic bursts over noise (deterministic)."""
    rng = np.random.default_rng(seed)
    n = int(16000 * seconds)
    t = np.arange(n) / 16000
    f0 = 120 + 80 * np.sin(2 * np.pi * 0.7 * t)
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 1.3 * t) ** 2
    x = 5000 * env * np.sin(2 * np.pi * np.cumsum(f0) / 16000 * 3) + rng.normal(0, 200, n)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _stream_reference(model, audio: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """(hops, full-depth final logits) the stream must report, from the streaming front end's frames:
    the last 49 frames' full-window logits for the window runtime ("same"), the streaming reference
    (codegen/streaming.py) for a streamable model."""
    from model.frontend import StreamingFrontend
    frames = StreamingFrontend().push_many(audio)
    hops = np.arange(model.stem.frames, len(frames) + 1, period)
    if model.streamable:
        return hops, streaming.stream_results(model, frames, list(hops), [NEVER] * (len(model.heads) - 1)).logits
    windows = np.stack([frames[h - model.stem.frames:h] for h in hops])
    return hops, reference.trace(model, windows).logits[-1]


@pytest.mark.parametrize("target", ["host", "m4"])
def test_stream_equals_reference(gen, host, target):
    """A 1 s clip gives, on its 50th hop, the inference on bitear_frontend_clip's features (the window
    runtime; the streaming runtime gives the streaming reference's result there, which is that
    inference only on aligned hops: tests/test_model_dir.py); longer audio gives a result every
    `period` hops; chunking does not matter."""
    from model.frontend import compute_features
    model, out = gen
    clip = _stream_audio(1.0, seed=51)
    audio = _stream_audio(2.5 if target == "host" else 1.3, seed=52)

    def check(rt):
        rows = rt.stream(clip, period=1, chunk=320)
        assert list(rows[:, 0]) == [49, 50]
        if model.streamable:
            assert np.array_equal(rows[:, 2:], _stream_reference(model, clip, 1)[1])
        else:
            assert np.array_equal(rows[1, 2:], reference.trace(model, compute_features(clip)).logits[-1][0])
        for period in (1, 3):
            hops, logits = _stream_reference(model, audio, period)
            for chunk in (320, 77, 1000):
                rows = rt.stream(audio, period=period, chunk=chunk)
                assert np.array_equal(rows[:, 0], hops), (period, chunk)
                assert (rows[:, 1] == len(model.heads) - 1).all()
                assert np.array_equal(rows[:, 2:], logits), (period, chunk)

    if target == "host":
        check(host)
    else:
        with harness.open_runtime("m4", out) as rt:
            check(rt)
