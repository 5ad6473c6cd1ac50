"""Streaming reference (codegen/streaming.py): fed one frame at a time, it equals the full-window
integer reference (codegen/reference.py) exactly at every aligned step — at full depth, with early
exits and lazy catch-up after long stretches at exit 0, across resets — and computes only the
outputs that are new (counts checked against the layers' strides)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from codegen import __main__ as cli
from codegen import intmodel as im, reference, streaming, testing
from model.facts import STATUS_NAMES
from model.student import DEFAULT_CONFIG

pytestmark = pytest.mark.timeout(300)
NEVER = im.THRESHOLD_NEVER
STATUS = {name: code for code, name in STATUS_NAMES.items()}  # bitear_status.h
VALID_CONFIG = dict(DEFAULT_CONFIG, time_padding="valid")
MODELS = {"default valid": (0, VALID_CONFIG, [0.35, 0.35]),
          "even context": (5, dict(VALID_CONFIG, context="even"), [0.35, 0.35]),
          "10 classes, 4 blocks": (4, testing.TEN_CLASS_CONFIG, [0.5, 0.6])}


@pytest.fixture(scope="module", params=list(MODELS))
def model(request) -> im.IntModel:
    seed, config, thresholds = MODELS[request.param]
    m, _ = cli.load(testing.cached_random_checkpoint(seed=seed, exit_thresholds=thresholds, config=config))
    assert m.time_padding == "valid"
    return m


def random_stream(rng: np.random.Generator, n: int, bins: int = 40) -> np.ndarray:
    """n int8 frames: stretches of smooth 'spectrogram' with noise, some silence (-128) and extremes."""
    parts, left = [], n
    while left > 0:
        k = min(left, int(rng.integers(20, 90)))
        kind = rng.integers(0, 4)
        if kind == 0:
            seg = np.full((k, bins), -128)
        elif kind == 1:
            seg = rng.choice([-128, 127], size=(k, bins))
        else:
            seg = rng.integers(-110, 40, size=(1, bins)) + np.cumsum(rng.integers(-6, 7, size=(k, 1)), axis=0) \
                + rng.integers(-20, 21, size=(k, bins))
        parts.append(np.clip(seg, -128, 127))
        left -= k
    return np.concatenate(parts).astype(np.int8)


def grid_strides(model) -> list[int]:
    """R_l: product of the strides of the stem and blocks up to layer l (independent of the module)."""
    return list(np.cumprod([model.stem.stride] + [b.stride for b in model.blocks]))


def aligned(model, frames_fed: int) -> bool:
    F = model.stem.frames
    return frames_fed >= F and (frames_fed - F) % grid_strides(model)[-1] == 0


def windows(model, stream: np.ndarray) -> np.ndarray:
    """Every window of the stream (stem.frames long), window i ending at frame i + frames - 1."""
    F = model.stem.frames
    return np.lib.stride_tricks.sliding_window_view(stream, F, axis=0).transpose(0, 2, 1)


def assert_same(got: reference.Result, want: reference.Result, i: int, what: str) -> None:
    for name in ("label", "exit_index", "logits", "entropy_q16", "scores_q15"):
        a, b = getattr(got, name), getattr(want, name)[i:i + 1]
        assert a.dtype.kind == b.dtype.kind and np.array_equal(a, b), f"{what}: {name} {a} != {b}"


def test_full_depth_equals_reference_at_every_aligned_step(model):
    """(a) >= 400 frames, infer after every frame; at aligned steps all fields equal reference.infer on
    the last 49 frames, and every layer's window equals reference.trace's map."""
    rng = np.random.default_rng(1)
    stream = random_stream(rng, 440)
    wins = windows(model, stream)
    never = [NEVER] * (len(model.heads) - 1)
    want = reference.infer(model, wins, never)
    tr = reference.trace(model, wins)
    sm = streaming.StreamingModel(model, never)
    F = model.stem.frames
    checked = 0
    for n, frame in enumerate(stream, start=1):
        sm.push_frame(frame)
        if n < F:
            with pytest.raises(ValueError, match="at least"):
                sm.infer()
            continue
        got = sm.infer()
        if aligned(model, n):
            assert_same(got, want, n - F, f"frame {n}")
            maps = [tr.stem_bits, *tr.block_bits]
            for layer in range(len(maps)):
                assert np.array_equal(sm.layer_map(layer), maps[layer][n - F]), (n, layer)
            checked += 1
    assert checked == (len(stream) - F) // grid_strides(model)[-1] + 1 and checked >= 30


def test_unaligned_exits_speak_for_their_blocks_newest_window(model):
    """Between aligned steps, exit e's logits are reference.trace's on the window ending at the newest
    frame on its block's grid (the documented contract)."""
    rng = np.random.default_rng(2)
    stream = random_stream(rng, 160)
    wins = windows(model, stream)
    tr = reference.trace(model, wins)
    never = [NEVER] * (len(model.heads) - 1)
    sm = streaming.StreamingModel(model, never)
    F, R = model.stem.frames, grid_strides(model)
    last = len(model.heads) - 1
    for n, frame in enumerate(stream, start=1):
        sm.push_frame(frame)
        if n < F:
            continue
        got = sm.infer()
        b = model.heads[last].block
        newest = n - (n - F) % R[b + 1]
        assert np.array_equal(got.logits[0], tr.logits[last][newest - F]), n


def _exit_schedule(model, stream: np.ndarray) -> list[list[int]]:
    """Per frame the thresholds: stretches of 'always exit 0' (> one window long), then full depth,
    then medians (mixed exits), then a short stretch at exit 0 (< one window)."""
    wins = windows(model, stream)
    tr = reference.trace(model, wins)
    n_early = len(model.heads) - 1
    med = [int(np.median(tr.entropy_q16[e])) for e in range(n_early)]
    always0 = [im.Q16] + [NEVER] * (n_early - 1)
    never = [NEVER] * n_early
    pattern = [(always0, 150), (never, 20), (med, 120), (always0, 17), (never, 9), (med, 100), (always0, 200), (never, 30)]
    sched = []
    for thr, k in pattern:
        sched += [thr] * k
    return sched


def test_early_exits_and_catch_up_equal_reference(model):
    """(b) long stretches at exit 0 followed by deep inferences (catch-up, window recomputes) and mixed
    exits: at every aligned step the result equals reference.infer with the thresholds in force."""
    rng = np.random.default_rng(3)
    stream = random_stream(rng, model.stem.frames - 1 + 646)  # 646 steps: the schedule's length
    sched = _exit_schedule(model, stream)
    assert len(sched) == len(windows(model, stream))
    wins = windows(model, stream)
    tr = reference.trace(model, wins)
    sm = streaming.StreamingModel(model)
    F = model.stem.frames
    exits = set()
    catch_ups_seen = 0
    for n, frame in enumerate(stream, start=1):
        sm.push_frame(frame)
        if n < F:
            continue
        thr = sched[n - F]
        sm.set_thresholds(thr)
        before = sm.stats.catch_ups
        got = sm.infer()
        if aligned(model, n):
            assert_same(got, reference.decide(model, tr, thr), n - F, f"frame {n}, thresholds {thr}")
            exits.add(int(got.exit_index[0]))
            catch_ups_seen += sm.stats.catch_ups > before
    assert exits == set(range(len(model.heads))), exits
    assert catch_ups_seen >= 1 and sm.stats.catch_ups >= 3 and sm.stats.window_recomputes >= 2


def test_reset_mid_stream(model):
    """(c) after reset the stream starts over: results equal reference.infer on windows of the new
    stream only, and infer needs 49 new frames again."""
    rng = np.random.default_rng(4)
    a, b = random_stream(rng, 130), random_stream(rng, 150)
    sm = streaming.StreamingModel(model, [NEVER] * (len(model.heads) - 1))
    for frame in a:
        sm.push_frame(frame)
    sm.infer()
    sm.reset()
    assert sm.stats.total_outputs == 0 and sm.frames_fed == 0
    with pytest.raises(ValueError):
        sm.infer()
    want = reference.infer(model, windows(model, b), [NEVER] * (len(model.heads) - 1))
    F = model.stem.frames
    for n, frame in enumerate(b, start=1):
        sm.push_frame(frame)
        if aligned(model, n):
            assert_same(sm.infer(), want, n - F, f"after reset, frame {n}")


def test_only_new_outputs_are_computed(model):
    """(d) at full depth, inferring after every frame, an aligned steady-state step computes exactly one
    output in every layer whose grid it reaches ((n - 49) % R_l == 0); the first window computes each
    layer's out_len; a catch-up after a long stretch at exit 0 is bounded by a full window."""
    rng = np.random.default_rng(5)
    stream = random_stream(rng, 400)
    n_early = len(model.heads) - 1
    sm = streaming.StreamingModel(model, [NEVER] * n_early)
    F, R = model.stem.frames, grid_strides(model)
    layers = [model.stem, *model.blocks]
    window = sum(layer.out_len for layer in layers)
    for n, frame in enumerate(stream[:F], start=1):
        sm.push_frame(frame)
    sm.infer()
    assert sm.stats.outputs == [layer.out_len for layer in layers]
    for n, frame in enumerate(stream[F:200], start=F + 1):
        before = sm.stats.total_outputs
        sm.push_frame(frame)
        sm.infer()
        want = sum((n - F) % r == 0 for r in R)
        assert sm.stats.total_outputs - before == want, n
    # exit 0 for more than a window, then one deep inference
    b0 = model.heads[0].block
    sm.set_thresholds([im.Q16] + [NEVER] * (n_early - 1))
    for n, frame in enumerate(stream[200:330], start=201):
        before = sm.stats.total_outputs
        sm.push_frame(frame)
        sm.infer()
        assert sm.stats.total_outputs - before == sum((n - F) % r == 0 for r in R[:b0 + 2]), n
    sm.set_thresholds([NEVER] * n_early)
    before, recomputes = sm.stats.total_outputs, sm.stats.window_recomputes
    n = 331
    sm.push_frame(stream[330])
    sm.infer()
    deep = sm.stats.total_outputs - before
    # layers up to the first exit are current: their new outputs; every deeper layer its whole window
    want = sum((n - F) % r == 0 for r in R[:b0 + 2]) + sum(layer.out_len for layer in layers[b0 + 2:])
    assert deep == want <= window
    assert sm.stats.window_recomputes - recomputes == len(layers) - (b0 + 2)


def test_catch_up_shorter_than_a_window_computes_only_missed_outputs(model):
    """A deep inference after a short stretch at exit 0 computes only the outputs missed (no recompute)."""
    rng = np.random.default_rng(6)
    stream = random_stream(rng, 120)
    n_early = len(model.heads) - 1
    sm = streaming.StreamingModel(model, [NEVER] * n_early)
    F, R = model.stem.frames, grid_strides(model)
    b0 = model.heads[0].block
    start = F + 2 * R[-1]  # aligned
    for frame in stream[:start]:
        sm.push_frame(frame)
    sm.infer()
    sm.set_thresholds([im.Q16] + [NEVER] * (n_early - 1))
    k = R[-1]  # one grid period at exit 0: every layer misses exactly one output per R_last / R_l
    for frame in stream[start:start + k - 1]:
        sm.push_frame(frame)
        sm.infer()
    sm.set_thresholds([NEVER] * n_early)
    sm.push_frame(stream[start + k - 1])
    before = list(sm.stats.outputs)
    catch_ups, recomputes = sm.stats.catch_ups, sm.stats.window_recomputes
    sm.infer()
    deeper = [g - b for g, b in zip(sm.stats.outputs, before)][b0 + 2:]
    assert deeper == [R[-1] // r for r in R[b0 + 2:]]
    assert sm.stats.catch_ups - catch_ups == sum(1 for r in R[b0 + 2:] if R[-1] // r > 1)
    assert sm.stats.window_recomputes == recomputes


def test_same_padding_is_refused():
    m, _ = cli.load(testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35],
                                                     config=dict(DEFAULT_CONFIG, time_padding="same")))
    with pytest.raises(ValueError, match="not streamable"):
        streaming.StreamingModel(m)


def test_bad_frames_and_thresholds(model):
    sm = streaming.StreamingModel(model)
    with pytest.raises(ValueError, match="features"):
        sm.push_frame(np.zeros(model.stem.bins + 1, np.int8))
    with pytest.raises(ValueError, match="int8"):
        sm.push_frame(np.full(model.stem.bins, 200))
    with pytest.raises(ValueError, match="thresholds"):
        sm.set_thresholds([0] * len(model.heads))
    with pytest.raises(ValueError, match="thresholds"):
        sm.set_thresholds([im.Q16 + 1] * (len(model.heads) - 1))
    assert math.prod(grid_strides(model)[-1:]) >= 1


# ---- the C runtime (firmware/lib/bitear/bitear_stream_model.c) against this reference ----------

def _c_schedule(model, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A long stream (>= 400 inferences) with an infer after every frame, the exit schedule of
    _exit_schedule (every exit, long stretches at exit 0 then catch-up), a reset in the middle."""
    F = model.stem.frames
    stream = random_stream(rng, F - 1 + 646)
    sched = [_exit_schedule(model, stream)[0]] * (F - 1) + _exit_schedule(model, stream)
    flags = np.full(len(stream), 1 | 4, np.uint8)
    flags[300] |= 2   # reset: the stream starts over at frame 300
    flags[400] = 4  # a frame pushed without an inference
    return stream, flags, np.array(sched, np.int64)


def _python_stream(model, stream, flags, thr) -> dict[str, list]:
    sm = streaming.StreamingModel(model)
    out: dict[str, list] = {k: [] for k in ("status", "label", "exit_index", "entropy_q16", "logits", "scores_q15",
                                            "layer_outputs", "catch_ups", "window_recomputes")}
    for i, frame in enumerate(stream):
        if flags[i] & 2:
            sm.reset()
        sm.push_frame(frame)
        sm.set_thresholds(thr[i])
        if flags[i] & 1 and sm.frames_fed >= model.stem.frames:
            r = sm.infer()
            out["status"].append(0)
            for k in ("label", "exit_index", "entropy_q16"):
                out[k].append(int(getattr(r, k)[0]))
            out["logits"].append(r.logits[0])
            out["scores_q15"].append(r.scores_q15[0])
        else:
            out["status"].append(STATUS["BITEAR_ERR_STATE"] if flags[i] & 1 else 1)  # fewer than 49 frames
            for k in ("label", "exit_index", "entropy_q16", "logits", "scores_q15"):
                out[k].append(None)
        out["layer_outputs"].append(list(sm.stats.outputs))
        out["catch_ups"].append(sm.stats.catch_ups)
        out["window_recomputes"].append(sm.stats.window_recomputes)
    return out


def _check_c_stream(model, got: dict, want: dict) -> None:
    assert np.array_equal(got["status"], want["status"])
    asked = [i for i, s in enumerate(want["status"]) if s == 0]
    assert len(asked) >= 400
    for k in ("label", "exit_index", "entropy_q16", "logits", "scores_q15"):
        w = np.array([want[k][i] for i in asked])
        assert np.array_equal(got[k][asked], w), k
    assert np.array_equal(got["layer_outputs"], np.array(want["layer_outputs"]))
    assert np.array_equal(got["catch_ups"], want["catch_ups"]) and np.array_equal(got["window_recomputes"], want["window_recomputes"])
    assert set(got["exit_index"][asked]) == set(range(len(model.heads)))
    assert want["catch_ups"][-1] >= 3 and want["window_recomputes"][-1] >= 2


@pytest.fixture(scope="module")
def gen_dir(model, tmp_path_factory):
    from codegen import generate
    out = tmp_path_factory.mktemp("gen")
    generate.write(model, out)
    return out


def test_c_stream_equals_python_stream_host(model, gen_dir):
    """Host build: every inference of a long stream (all exits, catch-ups, window recomputes, a reset,
    a step without inference) equals the Python streaming reference, statistics included; at every
    aligned step it also equals bitear_model_infer (the full-window C runtime) on that window."""
    from codegen import harness
    stream, flags, thr = _c_schedule(model, np.random.default_rng(7))
    want = _python_stream(model, stream, flags, thr)
    with harness.open_runtime("host", gen_dir) as rt:
        got = rt.stream_model(stream, flags, thr)
        _check_c_stream(model, got, want)
        F = model.stem.frames
        start = 300  # the reset
        steps = [i for i in range(start + F - 1, len(stream)) if aligned(model, i + 1 - start)]
        assert len(steps) >= 20
        wins = np.stack([stream[i + 1 - F:i + 1] for i in steps])
        for thresholds in {tuple(thr[i]) for i in steps}:
            sel = [j for j, i in enumerate(steps) if tuple(thr[i]) == thresholds]
            full = rt.run(wins[sel], list(thresholds))
            for k in ("label", "exit_index", "entropy_q16", "logits", "scores_q15"):
                assert np.array_equal(got[k][[steps[j] for j in sel]], full[k]), k


@pytest.mark.parametrize("target", ["m4", "m4-ref"])
def test_c_stream_equals_python_stream_cortex_m4(model, gen_dir, target):
    """The same stream on the Cortex-M4 builds in unicorn: optimized kernels (the one-output DSP stem
    bitear_stem_step_opt) and BITEAR_REFERENCE_KERNELS."""
    from codegen import harness
    stream, flags, thr = _c_schedule(model, np.random.default_rng(7))
    want = _python_stream(model, stream, flags, thr)
    with harness.open_runtime(target, gen_dir) as rt:
        _check_c_stream(model, rt.stream_model(stream, flags, thr), want)


def test_c_refuses_same_padding(tmp_path):
    from codegen import generate, harness
    m, _ = cli.load(testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35],
                                                     config=dict(DEFAULT_CONFIG, time_padding="same")))
    generate.write(m, tmp_path)
    with harness.open_runtime("host", tmp_path) as rt:
        assert rt.stream_model_init() == STATUS["BITEAR_ERR_UNSUPPORTED"]


def test_c_stream_model_compiles_warning_free(gen_dir):
    """-Wall -Wextra -Werror -std=c99 -pedantic -Wconversion, host gcc, Cortex-M4 (both kernel paths) and
    Cortex-M0+."""
    import subprocess
    from codegen.harness import assemble
    from model.m4run import CPUS
    lib = assemble(gen_dir)
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow", "-Wconversion",
             "-Wno-sign-conversion", f"-I{lib}", "-c", "-o", "/dev/null"]
    m4, m0plus = CPUS["m4"].flags, CPUS["m0plus"].flags
    # bitear_stream.c too: with these valid tables it takes its streaming branch (BITEAR_MODEL_STREAMABLE)
    assert "#define BITEAR_MODEL_STREAMABLE 1" in (lib / "bitear_model_tables.h").read_text()
    for source in ("bitear_stream_model.c", "bitear_stream.c"):
        for cc in (["gcc"], ["arm-none-eabi-gcc", *m4], ["arm-none-eabi-gcc", *m4, "-DBITEAR_REFERENCE_KERNELS"],
                   ["arm-none-eabi-gcc", *m0plus]):
            proc = subprocess.run([*cc, *flags, str(lib / source)], capture_output=True, text=True)
            assert proc.returncode == 0, f"{' '.join(cc)} {source}:\n{proc.stderr}"


def test_streaming_costs_less_than_full_windows_on_the_m4(tmp_path):
    """Instructions on the emulated Cortex-M4 (host.stream_bench), default valid shape at full
    depth: inferring every 4 frames, a streaming inference costs under a third of a full-window
    bitear_model_infer, and none (catch-ups included) costs more than one full window."""
    from codegen import generate
    from host import stream_bench
    seed, config, thresholds = MODELS["default valid"]
    m, _ = cli.load(testing.cached_random_checkpoint(seed=seed, exit_thresholds=thresholds, config=config))
    generate.write(m, tmp_path)
    stream = random_stream(np.random.default_rng(8), m.stem.frames + 64)
    got = stream_bench.measure(tmp_path, stream, [4], [NEVER] * (len(m.heads) - 1))
    full, s4 = got["full_window"], got["stream_period_4"]
    assert s4["per_inference_mean"] < full["per_inference_mean"] / 3
    assert s4["per_inference_max"] < full["per_inference_mean"]


@pytest.mark.parametrize("bins, kernel", [(40, 3), (40, 5), (36, 3), (38, 3)])
def test_one_output_dsp_stem_kernel_on_cortex_m4(gen_dir, bins, kernel):
    """bitear_stem_step_opt equals the reference stem on random layers and patches, with every
    accumulator near its threshold: patch bytes a multiple of 8, of 4 only, and not of 4 (the plain-C
    fallback); int8 extremes included."""
    from codegen import harness
    rng = np.random.default_rng(bins * 10 + kernel)
    channels = 64
    with harness.open_runtime("m4", gen_dir) as rt:
        for trial in range(6):
            w = rng.integers(-127, 128, (channels, kernel, bins)).astype(np.int8)
            x = rng.integers(-128, 128, (1, kernel, bins)).astype(np.int8)
            if trial == 0:
                x[:] = -128
                w[:] = -127
            stem = im.StemInt(kernel, bins, kernel, 1, 1, channels, w, np.zeros(channels, np.int32),
                              rng.integers(0, 2, channels).astype(np.uint8), np.ones(channels, np.float32), 0, 0)
            acc, _ = reference.stem_forward(stem, x)
            want_acc = np.einsum("ckb,kb->c", w.astype(np.int64), x[0].astype(np.int64))  # by definition
            assert np.array_equal(acc[0, 0], want_acc)
            stem.thresholds = (want_acc + rng.integers(-1, 2, channels)).astype(np.int32)
            _, bits = reference.stem_forward(stem, x)
            shape = np.array([kernel, bins, kernel, 1, 1, channels, 0, 0], np.uint16)
            got, _ = rt._kernel("harness_stem_step_kernel", "opt", [shape, w.reshape(-1), stem.thresholds,
                                                                    reference.pack_bits(stem.flips), x.reshape(-1)],
                                channels // 32)
            assert np.array_equal(got, reference.pack_bits(bits[0, 0])), (bins, kernel, trial)


def test_c_api_arguments(model, gen_dir):
    """NULL pointers, an uninitialised state, thresholds out of range, infer before the first window."""
    import ctypes

    from codegen import harness
    with harness.open_runtime("host", gen_dir) as rt:
        L = rt.lib
        for name in ("bitear_stream_model_init", "bitear_stream_model_reset", "bitear_stream_model_push_frame",
                     "bitear_stream_model_infer", "bitear_stream_model_set_threshold",
                     "bitear_stream_model_get_stats", "bitear_stream_model_set_full_depth"):
            getattr(L, name).restype = ctypes.c_int32
            getattr(L, name).argtypes = [ctypes.c_void_p] * (1 if name.endswith(("init", "reset", "depth")) else 2)
        L.bitear_stream_model_set_threshold.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int32]
        sm = ctypes.create_string_buffer(L.harness_stream_model_size())
        frame = np.zeros(40, np.int8)
        result = ctypes.create_string_buffer(256)
        stats = ctypes.create_string_buffer(256)
        S = STATUS
        assert L.bitear_stream_model_init(None) == S["BITEAR_ERR_NULL"]
        assert L.bitear_stream_model_push_frame(sm, frame.ctypes.data) == S["BITEAR_ERR_STATE"]  # not initialised
        assert L.bitear_stream_model_infer(sm, result) == S["BITEAR_ERR_STATE"]
        assert L.bitear_stream_model_reset(sm) == S["BITEAR_ERR_STATE"]
        assert L.bitear_stream_model_init(sm) == S["BITEAR_OK"]
        assert L.bitear_stream_model_push_frame(sm, None) == S["BITEAR_ERR_NULL"]
        assert L.bitear_stream_model_push_frame(None, frame.ctypes.data) == S["BITEAR_ERR_NULL"]
        assert L.bitear_stream_model_infer(sm, None) == S["BITEAR_ERR_NULL"]
        assert L.bitear_stream_model_get_stats(sm, None) == S["BITEAR_ERR_NULL"]
        n_early = int(rt.exits) - 1
        for e, t in ((0, im.Q16 + 1), (0, -2), (n_early, 0), (-2, 0)):
            assert L.bitear_stream_model_set_threshold(sm, e, t) == S["BITEAR_ERR_ARG"], (e, t)
        assert L.bitear_stream_model_set_threshold(sm, -1, im.Q16) == S["BITEAR_OK"]  # all exits
        assert L.bitear_stream_model_set_full_depth(sm) == S["BITEAR_OK"]
        F = model.stem.frames
        for i in range(F - 1):
            assert L.bitear_stream_model_push_frame(sm, frame.ctypes.data) == S["BITEAR_OK"]
            assert L.bitear_stream_model_infer(sm, result) == S["BITEAR_ERR_STATE"], i
        assert L.bitear_stream_model_push_frame(sm, frame.ctypes.data) == S["BITEAR_OK"]
        assert L.bitear_stream_model_infer(sm, result) == S["BITEAR_OK"]
        assert L.bitear_stream_model_get_stats(sm, stats) == S["BITEAR_OK"]
        frames, inferences = np.frombuffer(stats.raw[:8], np.uint32)
        assert (frames, inferences) == (F, 1)
