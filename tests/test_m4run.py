"""model/m4run.py: Cortex-M4 build cache, calls in unicorn, memory helpers, faults, instruction counting.

The instruction counter is checked against hand-written assembly whose count is known exactly
(including IT instructions, which a per-instruction hook misses) and against a per-instruction
hook on compiled C without IT.
"""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from model.errors import BitearError

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None and os.environ.get("CI") != "true",
                                reason="arm-none-eabi-gcc not installed")

from model.m4run import M4Fault, M4Program, _thumb_lengths, build_elf  # noqa: E402

C_SOURCE = r"""
#include <stdint.h>
#include <string.h>

/* n iterations of: subs, it, addne, bne -> exact count 2 + 4 n + 1 (bx) for n >= 1 */
__attribute__((naked, noipa, used)) int32_t asm_loop(int32_t n __attribute__((unused)))
{
    __asm__ volatile(
        "movs r1, #0\n"
        "mov r2, r0\n"
        "1:\n"
        "subs r2, r2, #1\n"
        "it ne\n"
        "addne r1, r1, #3\n"
        "bne 1b\n"
        "mov r0, r1\n"
        "bx lr\n");
}

__attribute__((noipa, used)) uint32_t mix(uint32_t a, uint32_t b)
{
    uint32_t x = a;
    for (int i = 0; i < 16; i++) x = x * 1664525u + b;
    return x;
}

__attribute__((noipa, used)) int32_t six(int32_t a, int32_t b, int32_t c, int32_t d, int32_t e, int32_t f)
{
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f;
}

__attribute__((noipa, used)) void scale16(int16_t *dst, const int16_t *src, int32_t n, int32_t k)
{
    for (int32_t i = 0; i < n; i++) dst[i] = (int16_t)(src[i] * k);
}

__attribute__((noipa, used)) int32_t uses_stack(int32_t n)
{
    volatile uint8_t buf[512];
    for (int32_t i = 0; i < 512; i++) buf[i] = (uint8_t)(i * n);
    return buf[n & 511];
}

__attribute__((noipa, used)) float fmadd(float a, float b)  /* hard-float: needs the FPU on */
{
    return a * b + 1.5f;
}

__attribute__((noipa, used)) int32_t fpu_via_int(int32_t a)
{
    volatile float x = (float)a;
    return (int32_t)(x * 2.5f);
}

int32_t counter;
__attribute__((noipa, used)) int32_t bump(void) { return ++counter; }

__attribute__((noipa, used)) int32_t read_addr(uint32_t addr) { return *(volatile int32_t *)addr; }
__attribute__((noipa, used)) void write_addr(uint32_t addr, int32_t v) { *(volatile int32_t *)addr = v; }
__attribute__((noipa, used)) void spin(void) { for (;;) { __asm__ volatile("nop"); } }
"""


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    src = tmp_path_factory.mktemp("m4src") / "t.c"
    src.write_text(C_SOURCE)
    with M4Program([src]) as p:
        yield p


def _it_count(prog, func: str) -> int:
    """Number of IT instructions in a function's code (0xBFxy with mask y != 0)."""
    start = prog.symbol(func) & ~1
    size = next(s for a, s, n in prog._functions if n == func)
    code = prog.read(start, size)
    n, off = 0, 0
    for length in _thumb_lengths(code):
        hw = code[off] | code[off + 1] << 8
        if length == 2 and hw >> 8 == 0xBF and hw & 0xF:
            n += 1
        off += length
    return n


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_block_count_is_exact_on_known_assembly(prog, n):
    ret, count = prog.call("asm_loop", n)
    assert ret == 3 * (n - 1)
    assert count == 2 + 4 * n + 2  # movs, mov; n x (subs, it, addne, bne); mov, bx
    _, code_count = prog.call("asm_loop", n, counting="code")
    assert code_count <= count  # the per-instruction hook misses (some) IT instructions


def test_block_count_matches_per_instruction_hook_without_it(prog):
    assert _it_count(prog, "mix") == 0
    r1, n_block = prog.call("mix", 123, 456)
    r2, n_code = prog.call("mix", 123, 456, counting="code")
    assert r1 == r2 and n_block == n_code > 16
    assert prog.call("mix", 123, 456).instructions == n_block  # deterministic


def test_arguments_on_stack_and_signed_return(prog):
    args = (1, -2, 3, -4, 5, -6000)
    assert prog.call("six", *args).ret == sum((i + 1) * a for i, a in enumerate(args))


def test_memory_helpers_roundtrip(prog):
    src = prog.put(np.arange(-50, 50, dtype=np.int16))
    dst = prog.alloc(200, align=16)
    assert dst % 16 == 0 and src % 8 == 0
    prog.call("scale16", dst, src, 100, 3)
    assert np.array_equal(prog.get(dst, np.int16, 100), np.arange(-50, 50, dtype=np.int16) * 3)
    prog.write(dst, b"\x01\x02")
    assert prog.read(dst, 2) == b"\x01\x02"
    mark = prog.heap_mark()
    scratch = prog.alloc(64)
    assert scratch >= mark
    prog.heap_release(mark)
    assert prog.alloc(64) == scratch
    with pytest.raises(ValueError):
        prog.heap_release(mark + 10**6)
    prog.free_all()
    assert prog.alloc(4) == prog.heap_start


def test_stack_usage_and_fpu(prog):
    prog.call("uses_stack", 3)
    assert 512 <= prog.last_stack_bytes < 1024
    assert prog.call("fpu_via_int", 4).ret == 10


def test_static_data_persists_until_reload(prog):
    assert prog.call("bump").ret == 1
    assert prog.call("bump").ret == 2
    prog.reload()
    assert prog.call("bump").ret == 1


def test_faults_and_runaways_raise(prog):
    with pytest.raises(M4Fault, match="read_addr"):
        prog.call("read_addr", 0x3000_0000)  # unmapped
    with pytest.raises(M4Fault, match="write_addr"):
        prog.call("write_addr", 0x100, 1)  # flash is read-only
    with pytest.raises(M4Fault, match="more than 1000 instructions"):
        prog.call("spin", max_instructions=1000)
    with pytest.raises(BitearError, match="no symbol 'nope'"):
        prog.call("nope")
    assert prog.call("six", 1, 1, 1, 1, 1, 1).ret == 21  # still usable afterwards


def test_profile_attributes_instructions_to_functions(prog):
    _, n = prog.call("mix", 1, 2, profile=True)
    assert prog.last_profile == {"mix": n}


def test_build_cache_reuses_and_rebuilds(tmp_path):
    src = tmp_path / "a.c"
    src.write_text("int f(int x) { return x + 1; }\n")
    elf = build_elf([src])
    mtime = elf.stat().st_mtime_ns
    assert build_elf([src]) == elf and elf.stat().st_mtime_ns == mtime
    src.write_text("int f(int x) { return x + 2; }\n")
    elf2 = build_elf([src])
    assert elf2 != elf
    with M4Program(elf=elf2) as p:
        assert p.call("f", 40).ret == 42
        assert p.size()["flash"] > 0


def test_build_error_is_reported(tmp_path):
    src = tmp_path / "bad.c"
    src.write_text("int f(void) { return undefined_thing; }\n")
    with pytest.raises(BitearError, match="undefined_thing"):
        build_elf([src])
