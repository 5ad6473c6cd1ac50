"""Code generator: exact batch-norm folding, the integer reference against the tinygrad student (both
time paddings), fixed-point entropy, deterministic output, the manifest, clear errors, the size
table, stale committed tables."""
from __future__ import annotations

import json
import math
import struct
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from codegen import __main__ as cli
from codegen import generate, intmodel as im, manifest, reference, sizes, testing
from model.errors import BitearError
from model.paths import REPO_ROOT, data_dir
from model.student import DEFAULT_CONFIG
from model.paths import PLUGIN_DIR

VALID_CONFIG = dict(DEFAULT_CONFIG, time_padding="valid")  # the shipped shape, streamable

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def ckpt() -> Path:
    return testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35], config=VALID_CONFIG)


@pytest.fixture(scope="module")
def model(ckpt):
    m, _ = cli.load(ckpt)
    return m


@pytest.fixture(scope="module")
def student(ckpt):
    from model.checkpoint import load_checkpoint
    return load_checkpoint(ckpt)[0]


AGREEMENT_CONFIGS = {  # name: (seed, config, exit thresholds)
    "valid": (0, VALID_CONFIG, [0.35, 0.35]),
    "same": (0, dict(DEFAULT_CONFIG, time_padding="same"), [0.35, 0.35]),
    "10 classes": (4, testing.TEN_CLASS_CONFIG, [0.5, 0.6]),
    "even context": (5, dict(VALID_CONFIG, context="even"), [0.35, 0.35]),
}


@pytest.fixture(scope="module", params=list(AGREEMENT_CONFIGS))
def padded(request):
    """(integer model, tinygrad student): the default shape with each time padding, and a
    10-class, 4-block valid-padding network."""
    from model.checkpoint import load_checkpoint
    seed, config, thresholds = AGREEMENT_CONFIGS[request.param]
    path = testing.cached_random_checkpoint(seed=seed, exit_thresholds=thresholds, config=config)
    m, _ = cli.load(path)
    assert m.time_padding == config["time_padding"]
    return m, load_checkpoint(path)[0]


FLOAT_BATCH = 256  # one batch shape for every tinygrad call: its kernels compile once per session


def _float_trace(student, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The tinygrad student in eval mode, one realize: (+-1 maps of every layer as 0/1 (N, T, C)
    with 1 = -1, logits of every exit)."""
    from tinygrad import Tensor
    from model.student import binarize_ste
    n = len(x)
    pad = np.zeros(((FLOAT_BATCH - n % FLOAT_BATCH) % FLOAT_BATCH, *x.shape[1:]), np.int8)
    xs = np.concatenate([x, pad]).astype(np.float32)
    maps_all, logits_all = [], []
    for i in range(0, len(xs), FLOAT_BATCH):
        a = binarize_ste(student.stem(Tensor(xs[i:i + FLOAT_BATCH]).permute(0, 2, 1).unsqueeze(2)))
        maps, logits, heads = [a], [], iter(student.heads)
        for block, spec in zip(student.blocks, student.config["blocks"]):
            a = binarize_ste(block(a))
            maps.append(a)
            if spec.get("exit"):
                logits.append(next(heads)(a))
        Tensor.realize(*maps, *logits)
        maps_all.append([(m.numpy()[:, :, 0, :].transpose(0, 2, 1) < 0).astype(np.uint8) for m in maps])
        logits_all.append([t.numpy() for t in logits])
    maps = [np.concatenate(parts)[:n] for parts in zip(*maps_all)]
    logits = [np.concatenate(parts)[:n] for parts in zip(*logits_all)]
    return maps, logits


def _check_agreement(model, student, x: np.ndarray, what: str) -> None:
    """Argmax of every exit agrees on >= 99.5 %; each layer, fed the float model's own input bits,
    gives the same bits up to batch-norm float ties (< 1e-4 of the bits); logits agree closely in
    every window without such a tie (>= 97 % of them)."""
    maps, float_logits = _float_trace(student, x)
    tr = reference.trace(model, x)
    # a float tie at a threshold flips one bit and moves that window's logits: compare logits
    # closely only where every layer's float bits are the integer model's
    tie = (maps[0] != tr.stem_bits).reshape(len(x), -1).any(axis=1)
    for i, block in enumerate(model.blocks):
        tie |= (reference.block_forward(block, maps[i])[1] != maps[i + 1]).reshape(len(x), -1).any(axis=1)
    same = ~tie
    assert same.mean() >= 0.97, f"{what}: float threshold ties in {int(tie.sum())} of {len(x)} windows"
    for e, (o, L) in enumerate(zip(float_logits, tr.logits)):
        agree = (o.argmax(1) == L.argmax(1)).mean()
        assert agree >= 0.995, f"{what}, exit {e}: argmax agreement {agree:.4f} on {len(x)} windows"
        np.testing.assert_allclose(reference.real_logits(model, e, L)[same], o[same], atol=2e-3)
    assert (maps[0] != tr.stem_bits).mean() < 1e-4, f"{what}: stem"
    for i, block in enumerate(model.blocks):
        _, bits = reference.block_forward(block, maps[i])
        assert (bits != maps[i + 1]).mean() < 1e-4, f"{what}: block {i}"


# ---- batch norm + sign folding ---------------------------------------------------------------

def _bn_float64(acc, s, gamma, beta, mean, v):
    return gamma * (acc * s - mean) / math.sqrt(v) + beta


@pytest.mark.parametrize("seed", range(3))
def test_bn_thresholds_exact_on_every_accumulator(seed):
    """Every channel kind (gamma > 0, < 0, = 0 with beta of both signs and 0) gives the exact sign
    of batch norm for every accumulator value in range; float64 agrees except within 1e-9 of 0."""
    rng = np.random.default_rng(seed)
    C, lo, hi = 40, -300, 300
    gamma = rng.normal(0, 1, C).astype(np.float32)
    gamma[:4] = 0.0
    beta = rng.normal(0, 1, C).astype(np.float32)
    beta[:3] = [0.5, -0.5, 0.0]
    beta[3] = -0.0
    mean = rng.normal(0, 40, C).astype(np.float32)
    var = rng.uniform(1e-4, 900, C).astype(np.float32)
    v = (var + np.float32(1e-3)).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, C).astype(np.float32)
    rules = im.bn_sign_thresholds(gamma, beta, mean, v, scale, lo, hi)
    kinds = {r[0] for r in rules}
    assert kinds == {"ge", "le", "const"}
    for c, (kind, t) in enumerate(rules):
        for acc in range(lo, hi + 1):
            got = (acc >= t) if kind == "ge" else (acc <= t) if kind == "le" else t > 0
            exact = im._bn_nonneg(acc, *(Fraction(float(a[c])) for a in (scale, mean, gamma, beta, v)))
            assert got == exact, (c, kind, t, acc)
            y = _bn_float64(acc, float(scale[c]), float(gamma[c]), float(beta[c]), float(mean[c]), float(v[c]))
            if abs(y) > 1e-9:
                assert got == (y >= 0)
    assert rules[0] == ("const", 1) and rules[1] == ("const", -1)
    assert rules[2] == ("const", 1) and rules[3] == ("const", 1)  # beta = +0 and -0: sign(0) = +1


def test_binary_thresholds_in_popcount_domain(model):
    """bit = (P > thr) ^ flip reproduces the exact batch-norm sign for every popcount P."""
    from model.checkpoint import read_checkpoint
    tensors, _ = read_checkpoint(testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35], config=VALID_CONFIG))
    for b in model.blocks:
        gamma, beta, mean, v = im._bn_params(tensors, f"blocks.{b.index}")
        K = b.k_bits
        assert b.flips.sum() > 0 and (b.flips == 0).sum() > 0
        for c in range(0, b.channels, 7):
            params = [Fraction(float(a[c])) for a in (mean, gamma, beta, v)]
            for P in range(K + 1):
                want_minus = not im._bn_nonneg(K - 2 * P, Fraction(1), *params)
                got_minus = bool((P > b.thresholds[c]) ^ b.flips[c])
                assert got_minus == want_minus, (b.index, c, P)


# ---- integer reference vs the tinygrad student -------------------------------------------------

def test_reference_agrees_with_tinygrad_on_generated_inputs(padded):
    model, student = padded
    x = testing.random_features(np.random.default_rng(11), 2 * FLOAT_BATCH, frames=model.stem.frames)
    _check_agreement(model, student, x, f"generated inputs, {model.time_padding}")


def test_padding_and_skip_follow_the_student():
    """pad / skip of every layer: "same" pads kernel // 2 and skips nothing; "valid" pads nothing and
    skips the (L - k) % stride oldest frames, so the last output ends on the last input frame."""
    model, _ = cli.load(testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35], config=VALID_CONFIG))
    assert model.time_padding == "valid"
    s = model.stem
    assert (s.pad, s.skip, s.out_len) == (0, (49 - 3) % 2, (49 - 3) // 2 + 1)
    lengths = [(b.in_len, b.pad, b.skip, b.out_len) for b in model.blocks]
    assert lengths == [(24, 0, (24 - 5) % 2, (24 - 5) // 2 + 1), (10, 0, 0, 6), (6, 0, (6 - 3) % 2, (6 - 3) // 2 + 1)]
    for layer in [s, *model.blocks]:  # last input frame read = last frame
        length = layer.frames if layer is s else layer.in_len
        assert layer.skip + (layer.out_len - 1) * layer.stride + layer.kernel - 1 == length - 1
    lay = generate.layout(model)  # no padding rows: the arena is the maps, back to back
    assert lay.act_words == s.out_len * s.channels // 32 + sum(b.out_len * b.channels // 32 for b in model.blocks)
    assert lay.stem_out_offset == lay.block_in_offset[0] == 0
    same, _ = cli.load(testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35],
                                                        config=dict(DEFAULT_CONFIG, time_padding="same")))
    assert [(b.pad, b.skip, b.out_len) for b in same.blocks] == [(2, 0, 13), (2, 0, 13), (1, 0, 7)]
    assert (same.stem.pad, same.stem.skip, same.stem.out_len) == (1, 0, 25)


def _real_clips(n: int) -> np.ndarray | None:
    root = data_dir()
    if root is None:
        return None
    for name in ("speech_commands_v2_dev", "speech_commands_v1_sample"):
        files = sorted((root / name).rglob("*.wav")) if (root / name).is_dir() else []
        if files:
            from model.audio import fit_to_one_second, load_clip
            step = max(1, len(files) // n)
            clips = [fit_to_one_second(load_clip(f)) for f in files[::step][:n]]
            return np.stack(clips)
    return None


def test_reference_agrees_with_tinygrad_on_real_clips(model, student):
    """Same agreement on the C front end's features of real speech (skips without shared data)."""
    clips = _real_clips(FLOAT_BATCH)
    if clips is None:
        pytest.skip("no shared data (model.paths.data_dir() has no Speech Commands folder)")
    from model.frontend import compute_features
    _check_agreement(model, student, compute_features(clips), "real clips")


def test_trained_checkpoint_agrees_on_real_clips():
    """The shipped checkpoint (when it exists) on real clips (when the shared data exists)."""
    from model.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip(f"{DEFAULT_CHECKPOINT.name} does not exist yet (training has not shipped it)")
    clips = _real_clips(FLOAT_BATCH)
    if clips is None:
        pytest.skip("no shared data (model.paths.data_dir() has no Speech Commands folder)")
    from model.frontend import compute_features
    m, _ = cli.load(DEFAULT_CHECKPOINT)
    _check_agreement(m, load_checkpoint(DEFAULT_CHECKPOINT)[0], compute_features(clips), "kws12, real clips")


def test_int8_quantization_matches_tinygrad():
    from tinygrad import Tensor
    from model.student import int8_scale, quantize_int8_ste
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((16, 40, 1, 3)) * rng.uniform(1e-3, 3, (16, 1, 1, 1))).astype(np.float32)
    w[0] = 0.0  # all-zero channel: scale 1e-8/127, q = 0
    t = Tensor(w)
    for axis in ((1, 2, 3), None):
        q_ref, s_ref = quantize_int8_ste(t, int8_scale(t, axis)).numpy(), int8_scale(t, axis).numpy()
        q, s = im.int8_quantize(w, axis)
        assert np.array_equal(q, q_ref) and np.array_equal(s.reshape(s_ref.shape), s_ref)


def test_head_folding_equals_definition(model):
    """L = bias_folded - 2^(F+1) q.m equals 2^F (sum_c q (2 n_plus - T)) + b_int."""
    rng = np.random.default_rng(4)
    for h in model.heads:
        bits = rng.integers(0, 2, (50, h.length, h.channels)).astype(np.uint8)
        n_plus = h.length - bits.sum(axis=1).astype(np.int64)
        want = ((2 * n_plus - h.length) @ h.weights.astype(np.int64).T << h.frac_bits) + h.bias_int
        assert np.array_equal(reference.head_forward(h, bits), want)


def test_entropy_fixed_point_close_to_float(model):
    rng = np.random.default_rng(5)
    for h in model.heads:
        real = np.concatenate([rng.normal(0, s, (300, model.classes)) for s in (0.01, 1, 3, 10, 40)])
        real[0] = 0.0           # uniform: h = 1
        real[1, 3] = 1000.0     # one certain class: h ~ 0
        L = np.round(real * h.length * (1 << h.frac_bits) / h.scale).astype(np.int64)
        got = reference.entropy_q16(model, h, L) / 65536
        x = reference.real_logits(model, h.index, L)
        p = np.exp(x - x.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        want = -(p * np.log(np.maximum(p, 1e-300))).sum(1) / math.log(model.classes)
        assert np.abs(got - want).max() < 2e-3
        assert got[0] == 1.0 and got[1] < 1e-3
        scores = reference.softmax_q15(model, h, L) / 32768
        assert np.abs(scores - p).max() < 1e-3


def test_threshold_values():
    assert im.threshold_q16(None) == im.threshold_q16(-0.5) == im.THRESHOLD_NEVER
    assert im.threshold_q16(0) == 0 and im.threshold_q16(0.5) == 32768
    assert im.threshold_q16(1.0) == im.threshold_q16(3.0) == im.Q16


def test_exit_decisions(model):
    rng = np.random.default_rng(6)
    tr = reference.trace(model, testing.random_features(rng, 200))
    n_early = len(model.heads) - 1
    full = reference.decide(model, tr, [im.THRESHOLD_NEVER] * n_early)
    assert (full.exit_index == n_early).all()
    first = reference.decide(model, tr, [im.Q16] * n_early)
    assert (first.exit_index == 0).all()
    assert np.array_equal(first.label, tr.logits[0].argmax(1))
    mid = reference.decide(model, tr, [int(np.median(tr.entropy_q16[0]))] + [im.THRESHOLD_NEVER] * (n_early - 1))
    stop0 = tr.entropy_q16[0] <= int(np.median(tr.entropy_q16[0]))
    assert np.array_equal(mid.exit_index == 0, stop0) and 0 < stop0.mean() < 1


# ---- generator output ----------------------------------------------------------------------------

def test_generate_is_byte_identical_and_stamped(ckpt, tmp_path, capsys):
    assert cli.main([str(ckpt), "-o", str(tmp_path / "a")]) == 0
    assert cli.main([str(ckpt), "-o", str(tmp_path / "b"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "binary MACs" in out and "flash (model tables)" in out and "RAM" in out
    import hashlib
    sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    for name in (generate.HEADER_NAME, generate.SOURCE_NAME, manifest.MANIFEST_NAME):
        a, b = (tmp_path / "a" / name).read_bytes(), (tmp_path / "b" / name).read_bytes()
        assert a == b
        text = a.decode("ascii")
        assert "generated by python -m codegen; do not edit" in text
        assert sha in text and im.CODEGEN_VERSION in text
    assert (tmp_path / "a" / generate.ARRAYS_NAME).read_bytes() == (tmp_path / "b" / generate.ARRAYS_NAME).read_bytes()
    header = (tmp_path / "a" / generate.HEADER_NAME).read_text()
    assert "channel 33 -> word 1, 0x00000002u" in header
    assert '[BITEAR_MODEL_CLASS_YES] = "yes"' in (tmp_path / "a" / generate.SOURCE_NAME).read_text()


def test_generated_c_compiles_warning_free(ckpt, tmp_path):
    """Tables + runtime with -Wall -Wextra -Werror -std=c99 -pedantic, host gcc, Cortex-M4 and Cortex-M0+."""
    from codegen.harness import assemble
    from model.m4run import CPUS
    cli.main([str(ckpt), "-o", str(tmp_path), "--quiet"])
    lib = assemble(tmp_path)  # the runtime next to these tables (see harness.assemble)
    srcs = [lib / generate.SOURCE_NAME, lib / "bitear_model.c", lib / "bitear_kernels.c", lib / "bitear_stream.c"]
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wshadow", "-Wconversion",
             "-Wno-sign-conversion", f"-I{lib}", "-c"]
    m4, m0plus = CPUS["m4"].flags, CPUS["m0plus"].flags
    for cc in (["gcc"], ["arm-none-eabi-gcc", *m4], ["arm-none-eabi-gcc", *m4, "-DBITEAR_REFERENCE_KERNELS"],
               ["arm-none-eabi-gcc", *m0plus]):
        for src in srcs:
            proc = subprocess.run([*cc, *flags, str(src), "-o", str(tmp_path / "x.o")], capture_output=True, text=True)
            assert proc.returncode == 0, f"{' '.join(cc)} {src.name}:\n{proc.stderr}"


def test_size_table_matches_student_costs(model):
    """The table's MACs and weight bits (the student's layer_costs) equal out_len * kernel * Cin * Cout
    and kernel * Cin * Cout * bits of the integer model's shapes (which come from the tensors)."""
    s = model.stem
    want = {"stem": (s.out_len * s.kernel * s.bins * s.channels, 8 * s.weights.size)}
    for b in model.blocks:
        want[f"block{b.index}"] = (b.out_len * b.kernel * b.cin * b.channels, b.signs.size)
    for h in model.heads:
        want[f"exit{h.index}"] = (h.channels * model.classes, 8 * h.weights.size)
    assert {r.name: (r.macs, r.weight_bits) for r in sizes.rows(model)} == want
    assert sizes.weights_bytes(model) == sum(bits for _, bits in want.values()) // 8


def test_manifest_states_the_model(ckpt, tmp_path):
    """bitear_model_manifest.json: labels, layers (kernel, stride, pad, skip, MACs), exits and
    thresholds, front end, checkpoint and table hashes, equal to the integer model and the C tables."""
    import hashlib

    from model.facts import define
    model, _ = cli.load(ckpt)
    generate.write(model, tmp_path)
    m = manifest.read(tmp_path)
    assert m["labels"] == model.labels and m["classes"] == 12 and m["time_padding"] == "valid"
    assert m["checkpoint_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert m["frontend"] == model.frontend and m["config"] == model.config
    layers = {layer["name"]: layer for layer in m["layers"]}
    assert list(layers) == ["stem", "block0", "exit0", "block1", "exit1", "block2", "exit2"]
    for b in model.blocks:
        got = layers[f"block{b.index}"]
        assert (got["kernel"], got["stride"], got["pad"], got["skip"], got["in_len"], got["out_len"]) == \
            (b.kernel, b.stride, b.pad, b.skip, b.in_len, b.out_len)
        assert got["macs"] == b.out_len * b.kernel * b.cin * b.channels
    full = define(tmp_path / generate.HEADER_NAME, "BITEAR_MODEL_FULL_BINARY_MACS")
    assert m["binary_macs_full"] == full == sum(layers[f"block{i}"]["macs"] for i in range(3))
    assert [e["binary_macs_to_exit"] for e in m["exits"]] == list(np.cumsum([layers[f"block{i}"]["macs"] for i in range(3)]))
    assert [e["threshold"] for e in m["exits"]] == [0.35, 0.35, None]
    assert [e["threshold_q16"] for e in m["exits"]] == [round(0.35 * 65536)] * 2 + [None]
    assert m["tables_sha256"] == {name: hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
                                  for name in (generate.HEADER_NAME, generate.SOURCE_NAME, generate.ARRAYS_NAME)}


def test_arrays_sidecar_holds_the_model_arrays_deterministically(model, tmp_path):
    """bitear_model_arrays.npz: an ordinary .npz of the integer arrays, by their C names, with the C
    element types, built from the integer model; no time stamp in it (zip entries dated 1980-01-01),
    so the bytes depend on the arrays only."""
    import zipfile

    def pack_bits(bits):  # bit c % 32 of word c / 32, along the last axis (independent of codegen.reference)
        bits = np.asarray(bits, np.uint64)
        return (bits.reshape(*bits.shape[:-1], -1, 32) << np.arange(32, dtype=np.uint64)).sum(-1)

    generate.write(model, tmp_path)
    path = tmp_path / generate.ARRAYS_NAME
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    want = {"stem_weights": (np.int8, model.stem.weights), "stem_thresholds": (np.int32, model.stem.thresholds),
            "stem_flips": (np.uint32, pack_bits(model.stem.flips)),
            "entropy_exp_hi": (np.uint32, model.tables["exp_hi"]), "entropy_exp_lo": (np.uint32, model.tables["exp_lo"]),
            "entropy_ln": (np.uint16, model.tables["ln"])}
    for b in model.blocks:
        want[f"block{b.index}_weights"] = (np.uint32, pack_bits(b.signs < 0))   # [cout][tap][cin / 32] words
        want[f"block{b.index}_thresholds"] = (np.int16, b.thresholds)
        want[f"block{b.index}_flips"] = (np.uint32, pack_bits(b.flips))
    for h in model.heads:
        want[f"head{h.index}_weights"] = (np.int8, h.weights)
        want[f"head{h.index}_bias"] = (np.int32, h.bias_folded)
    assert sorted(arrays) == sorted(want)
    for name, (dtype, values) in want.items():
        assert arrays[name].dtype == dtype and arrays[name].ndim == 1, name
        assert np.array_equal(arrays[name], np.asarray(values).reshape(-1)), name
    # the same arrays written again, later, give the same bytes; other values give other bytes
    assert generate.arrays_npz(generate.model_arrays(model)) == path.read_bytes()
    arrays["head0_bias"] = arrays["head0_bias"] + 1
    assert generate.arrays_npz(arrays) != path.read_bytes()


def test_an_array_value_the_c_type_cannot_hold_is_refused(model):
    import dataclasses
    heads = list(model.heads)
    bias = heads[0].bias_folded.copy()
    bias[3] = 2**31
    heads[0] = dataclasses.replace(heads[0], bias_folded=bias)
    with pytest.raises(BitearError, match=r"head0_bias holds values in \[.*, 2147483648\], outside int32_t"):
        generate.model_arrays(dataclasses.replace(model, heads=heads))


def test_manifest_errors_are_one_line(ckpt, tmp_path):
    model, _ = cli.load(ckpt)
    generate.write(model, tmp_path)
    with (tmp_path / generate.SOURCE_NAME).open("a") as f:
        f.write("/* edited */\n")
    with pytest.raises(BitearError, match="describes other tables"):
        manifest.read(tmp_path)
    (tmp_path / manifest.MANIFEST_NAME).write_text("{not json")
    with pytest.raises(BitearError, match="not valid JSON"):
        manifest.read(tmp_path)
    (tmp_path / manifest.MANIFEST_NAME).unlink()
    with pytest.raises(BitearError, match="cannot read the model manifest"):
        manifest.read(tmp_path)


def test_check_finds_a_stale_manifest(ckpt, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main([str(ckpt), "-o", str(out), "--quiet"]) == 0
    assert cli.main([str(ckpt), "-o", str(out), "--check"]) == 0
    path = out / manifest.MANIFEST_NAME
    path.write_text(path.read_text().replace('"classes": 12', '"classes": 11'))
    assert cli.main([str(ckpt), "-o", str(out), "--check"]) == 1
    assert manifest.MANIFEST_NAME in capsys.readouterr().err


def test_check_covers_the_arrays_sidecar(ckpt, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main([str(ckpt), "-o", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([*manifest.TABLE_FILES, manifest.MANIFEST_NAME])
    assert generate.ARRAYS_NAME in manifest.TABLE_FILES
    capsys.readouterr()
    (out / generate.ARRAYS_NAME).unlink()
    assert cli.main([str(ckpt), "-o", str(out), "--check"]) == 1
    assert generate.ARRAYS_NAME in capsys.readouterr().err


# ---- errors ----------------------------------------------------------------------------------------

def _write_safetensors(path: Path, header: dict, data: bytes = b"") -> Path:
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


def _meta(ckpt: Path) -> tuple[dict, dict, bytes]:
    blob = ckpt.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    return header, json.loads(header["__metadata__"]["bitear"]), blob[8 + n:]


def _with_meta(ckpt: Path, path: Path, **changes) -> Path:
    header, meta, data = _meta(ckpt)
    meta.update(changes)
    header["__metadata__"] = {"bitear": json.dumps(meta)}
    return _write_safetensors(path, header, data)


def _bad_checkpoints(ckpt: Path, tmp: Path) -> dict[str, Path]:
    blob = ckpt.read_bytes()
    header, meta, data = _meta(ckpt)
    (tmp / "truncated.safetensors").write_bytes(blob[: len(blob) // 2])
    (tmp / "tiny.safetensors").write_bytes(b"abc")
    (tmp / "garbage.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    nan = bytearray(blob)
    info = header["stem.weight"]
    start = 8 + struct.unpack("<Q", blob[:8])[0] + info["data_offsets"][0]
    nan[start:start + 4] = struct.pack("<f", float("nan"))
    (tmp / "nan.safetensors").write_bytes(bytes(nan))
    fe = dict(meta["frontend"], hop=160)
    return {
        "missing": tmp / "does-not-exist.safetensors",
        "truncated": tmp / "truncated.safetensors",
        "tiny": tmp / "tiny.safetensors",
        "garbage": tmp / "garbage.safetensors",
        "not ours": _write_safetensors(tmp / "plain.safetensors", {"__metadata__": {"x": "y"}}),
        "version": _with_meta(ckpt, tmp / "version.safetensors", format_version=99),
        "labels": _with_meta(ckpt, tmp / "labels.safetensors", labels=["a", "b"]),
        "frontend": _with_meta(ckpt, tmp / "frontend.safetensors", frontend=fe),
        "thresholds": _with_meta(ckpt, tmp / "thr.safetensors", exit_thresholds=[0.2, "high"]),
        "threshold count": _with_meta(ckpt, tmp / "thr2.safetensors", exit_thresholds=[0.2]),
        "nan": tmp / "nan.safetensors",
    }


def test_bad_checkpoints_give_one_line_errors(ckpt, tmp_path, capsys):
    for what, path in _bad_checkpoints(ckpt, tmp_path).items():
        if what == "frontend" and cli.current_frontend() is None:
            continue
        rc = cli.main([str(path), "-o", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip()
        assert rc == 2, what
        assert err.startswith("codegen: error:") and "\n" not in err, (what, err)
    assert not (tmp_path / "out" / generate.HEADER_NAME).exists()


def test_cli_error_without_traceback(ckpt, tmp_path):
    bad = _bad_checkpoints(ckpt, tmp_path)["truncated"]
    proc = subprocess.run([sys.executable, "-m", "codegen", str(bad), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert "truncated" in proc.stderr


def test_frontend_check():
    cfg = {"bins": 40, "frames": 49}
    cur = {"hop": 320, "bins": 40, "source_hash": "aa"}
    assert cli.check_frontend({"hop": 320, "bins": 40, "source_hash": "aa"}, cfg, cur) == []
    assert cli.check_frontend({"hop": 320, "bins": 40, "source_hash": "bb"}, cfg, cur)  # warning only
    for bad in ({"hop": 160, "bins": 40}, {"bins": 40}, {"hop": 320, "bins": 32}):
        with pytest.raises(Exception) as e:
            cli.check_frontend(bad, cfg, cur)
        assert "front" in str(e.value)


# ---- committed tables ------------------------------------------------------------------------------

def test_committed_tables_are_fresh():
    """firmware/lib/bitear/bitear_model_tables.* must be what codegen makes of the shipped checkpoint."""
    from model.checkpoint import DEFAULT_CHECKPOINT
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip(f"{DEFAULT_CHECKPOINT} does not exist yet: the committed tables come from a random "
                    "placeholder student until training ships it")
    rc = cli.main([str(DEFAULT_CHECKPOINT), "--check"])
    assert rc == 0, f"stale tables: run .venv/bin/python -m codegen {DEFAULT_CHECKPOINT}"


def test_committed_vectors_match_committed_tables():
    """The on-board test vectors were generated with the committed tables (same checkpoint)."""
    vectors = cli.DEFAULT_VECTORS.read_text()
    sha = manifest.read(PLUGIN_DIR)["checkpoint_sha256"]
    assert f'VECTORS_MODEL_SHA256 "{sha}"' in vectors, "run: .venv/bin/python -m codegen CHECKPOINT"
