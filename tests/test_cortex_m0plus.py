"""The runtime built for the Cortex-M0+ (the pico's core; model/m4run.py cpu "m0plus": ARMv6-M, so the
plain-C kernels) and run in unicorn: the shipped model equals the integer reference bit for bit, a
streaming run equals the Python streaming reference, the front end equals the host's, the images hold
ARMv6-M instructions only (unicorn's Cortex-M0 model would run ARMv7-M ones, so m4run checks the ELF
by disassembly), an inference period fits the pico's clock, and host.stream_bench runs on the M0+."""
from __future__ import annotations

import json

import numpy as np
import pytest

from codegen import __main__ as cli
from codegen import generate, harness, testing
from codegen import intmodel as im
from host import bench
from codegen.tables import read_model
from host.evaluate import model_tables_dir
from model.m4run import CPUS, M4Program, armv6m_violations, build_elf
from model.errors import BitearError
from model.facts import HOP, PERIOD_WINDOW, SAMPLE_RATE
from tests.test_kernels import _check_against_reference
from tests.test_streaming_model import MODELS, _python_stream, random_stream
from model.paths import PLUGIN_DIR

pytestmark = pytest.mark.timeout(300)

ARMV7M = r"""
#include <stdint.h>
__attribute__((noipa, used)) uint32_t v6m(uint32_t a, uint32_t b) { return a * b + (a >> 3); }
#define ASM(name, ins) __attribute__((noipa, used)) uint32_t name(uint32_t a) \
    { uint32_t r; __asm__ volatile(".syntax unified\n.cpu cortex-m4\n.thumb\n" ins : "=r"(r) : "r"(a)); return r; }
ASM(v7m_wide, "rbit %0, %1")
ASM(v7m_it, "cmp %1, #0\n ite eq\n moveq %0, #1\n movne %0, #2")
ASM(v7m_cbz, "movs %0, #0\n cbz %1, 1f\n movs %0, #1\n1:")
"""


def test_armv6m_only_images(tmp_path):
    """An image holding ARMv7-M instructions (32-bit MLA and RBIT, IT, CBZ) is refused for the M0+,
    naming them; the same plain C built for the M0+ has none; the harness image (runtime + shipped tables + libc/libgcc) has none."""
    src = tmp_path / "v7m.c"
    src.write_text(ARMV7M)
    elf = build_elf([src], cpu="m4")
    with M4Program(elf=elf, cpu="m0plus") as prog:  # why the check: unicorn's Cortex-M0 model runs RBIT
        assert prog.call("v7m_wide", 3, counting=None).ret == -(1 << 30)
    bad = armv6m_violations(elf)
    for mnemonic in ("mla", "rbit", "ite", "cbz"):  # mla: the M4 compiles a * b + c to it
        assert sum(f" {mnemonic} " in line for line in bad) == 1, (mnemonic, bad)
    assert len(bad) == 4, bad
    with pytest.raises(BitearError, match="ARMv6-M does not have"):
        build_elf([src], cpu="m0plus")
    (tmp_path / "v6m.c").write_text(ARMV7M.split("#define")[0])
    assert armv6m_violations(build_elf([tmp_path / "v6m.c"], cpu="m0plus")) == []
    with harness.open_runtime("m0plus") as rt:
        assert rt.prog.cpu.armv6m and armv6m_violations(rt.prog.elf_path) == []


@pytest.fixture(scope="module")
def shipped():
    with harness.open_runtime("m0plus") as rt:
        yield read_model(model_tables_dir()), rt


def test_shipped_model_on_cortex_m0plus_equals_reference(shipped):
    """Eight windows (two at the extremes) through every threshold set: all fields, every exit's
    logits and entropy, every layer's bits, equal codegen.reference."""
    model, rt = shipped
    _check_against_reference(model, rt, testing.random_features(np.random.default_rng(31), 8))


def test_cortex_m0plus_full_depth_fits_the_pico_in_real_time(shipped):
    """Budget (deterministic count): the front end on PERIOD_WINDOW hops plus one full-depth inference
    must fit one inference period of the pico's 133 MHz core at 1.5 cycles per instruction (loads and
    taken branches take 2 cycles on the M0+, most others 1). Measured 4.96 M + 4 x 91 k = 5.32 M of 7.09 M."""
    model, rt = shipped
    rt.set_thresholds([im.THRESHOLD_NEVER] * (len(model.heads) - 1))
    full = max(bench.infer_count(rt, w)[0] for w in testing.random_features(np.random.default_rng(32), 2))
    from host.bench_frontend import measure
    fe = max(v for k, v in measure(cpu="m0plus").items() if k != "stack_bytes")
    per_period = PERIOD_WINDOW * fe + full
    assert per_period == pytest.approx(bench.instructions_per_second_of_audio(fe, full) * PERIOD_WINDOW * HOP / SAMPLE_RATE)
    assert per_period <= CPUS["m0plus"].clock_mhz * 1e6 * PERIOD_WINDOW * HOP / SAMPLE_RATE / 1.5


@pytest.mark.parametrize("name", ["default valid", "even context"])
def test_stream_on_cortex_m0plus_equals_python_stream(tmp_path, name):
    """A short stream of the random valid network (shipped shape, and with even context) with an
    inference after every frame, thresholds switching between exit 0, full depth and medians
    (catch-ups), a reset: every result and the layer-output statistics equal codegen.streaming."""
    seed, config, thresholds = MODELS[name]
    model, _ = cli.load(testing.cached_random_checkpoint(seed=seed, exit_thresholds=thresholds, config=config))
    generate.write(model, tmp_path)
    F, n_early = model.stem.frames, len(model.heads) - 1
    stream = random_stream(np.random.default_rng(33), F + 80)
    always0, never = [im.Q16] + [im.THRESHOLD_NEVER] * (n_early - 1), [im.THRESHOLD_NEVER] * n_early
    thr = np.array([always0] * (F + 30) + [never] * 20 + [[int(0.7 * im.Q16)] * n_early] * 30, np.int64)
    flags = np.full(len(stream), 1 | 4, np.uint8)
    flags[F + 60] |= 2  # reset: fewer than a window afterwards, so the last inferences are refused
    want = _python_stream(model, stream, flags, thr)
    with harness.open_runtime("m0plus", tmp_path) as rt:
        got = rt.stream_model(stream, flags, thr)
    assert np.array_equal(got["status"], want["status"])
    asked = [i for i, s in enumerate(want["status"]) if s == 0]
    assert len(asked) >= 50
    for k in ("label", "exit_index", "entropy_q16", "logits", "scores_q15"):
        assert np.array_equal(got[k][asked], np.array([want[k][i] for i in asked])), k
    for k in ("layer_outputs", "catch_ups", "window_recomputes"):
        assert np.array_equal(got[k], np.array(want[k])), k
    assert want["catch_ups"][F + 59] >= 1 and len(set(got["exit_index"][asked])) >= 2


def test_stream_bench_on_a_model_dir_for_the_cortex_m0plus(tmp_path, capsys):
    """`python -m host.stream_bench --cpu m0plus --model-dir DIR` benches the tables in DIR on the
    M0+ (a short stream): the table's rows, then JSON; a "same"-padded model dir is refused."""
    from host import stream_bench
    seed, config, thresholds = MODELS["default valid"]
    model, _ = cli.load(testing.cached_random_checkpoint(seed=seed, exit_thresholds=thresholds, config=config))
    generate.write(model, tmp_path)
    args = ["--cpu", "m0plus", "--model-dir", str(tmp_path), "--frames", "16", "--period", "4", "--full-depth"]
    assert stream_bench.main(args) == 0
    out = capsys.readouterr().out.splitlines()
    got = json.loads(out[-1])
    assert got["cpu"] == "m0plus" and got["clock_mhz"] == 133 and got["model"] == str(tmp_path)
    run = got["runs"]["full depth"]
    assert run["stream_period_4"]["per_inference_mean"] < run["full_window"]["per_inference_mean"] / 3
    assert any(line.startswith("| full window, full depth, every 4 hops |") for line in out)
    assert any(line.startswith("| streaming, full depth, every 4 hops |") for line in out)
    with pytest.raises(SystemExit):
        stream_bench.main(["--cpu", "m0plus", "--model-dir", str(PLUGIN_DIR)])  # kws12: "same" padding
    assert "streaming needs a 'valid'-padded model" in capsys.readouterr().err


def test_frontend_on_cortex_m0plus_gives_identical_bytes():
    """The front end built for the M0+ (plain C, 64-bit products through libgcc) equals the host's on
    a tone, noise, clipped full-scale noise and silence."""
    from host.bench_frontend import M4Frontend
    from model.frontend import compute_features
    rng = np.random.default_rng(34)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    clips = np.stack([np.round(9000 * np.sin(2 * np.pi * 440 * t)), rng.normal(0, 2000, SAMPLE_RATE),
                      np.clip(rng.normal(0, 40000, SAMPLE_RATE), -32768, 32767), np.zeros(SAMPLE_RATE)]).astype(np.int16)
    with M4Frontend(cpu="m0plus") as fe:
        assert np.array_equal(fe.features(clips), compute_features(clips))
