"""Build C for the Cortex-M4F like the firmware does, run single functions in unicorn, count instructions.

    from model.m4run import M4Program
    with M4Program(["firmware/lib/bitear/bitear_frontend.c"], ["firmware/lib/bitear"]) as prog:
        state = prog.alloc(2048)                       # bump allocator in the emulated RAM
        hop = prog.put(np.zeros(320, np.int16))        # alloc + write, returns the address
        out = prog.alloc(40)
        ret, n_instr = prog.call("bitear_frontend_push", state, hop, out)
        frame = prog.get(out, np.int8, 40)             # read back as a numpy array

Build: `arm-none-eabi-gcc` with the firmware's flags (CPUS["m4"] + COMMON_CFLAGS below, from model/toolchain.py: -mcpu=cortex-m4
-mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard -O2 -std=c99 -ffunction-sections -fdata-sections), linked
with newlib-nano (`--specs=nano.specs`, so memcpy & co. are the firmware's) and a minimal linker
script: code and constants at 0x00000000 (flash), data/bss at 0x20000000 (RAM), nothing else —
no start-up code, no vector table; `call` jumps straight into a function. The ELF is cached in
`cache_dir('m4')` under a hash of the compiler version, flags, sources, the headers in the
include dirs and the sources' folders, and the linker script, so a second run does not compile.
Functions you call should be `__attribute__((noipa, used))` if they are static or could be
inlined/cloned; extern functions are callable as they are.

`cpu="m0plus"` builds for the Cortex-M0+ instead (the pico's core: -mcpu=cortex-m0plus -mthumb
-mfloat-abi=soft: no DSP path, soft float) and runs it on unicorn's Cortex-M0 model (ARMv6-M, like
the M0+). That model does not fault on ARMv7-M instructions, so build_elf disassembles every M0+
image and refuses one holding an instruction ARMv6-M lacks (armv6m_violations): the counts are of
code a real M0+ runs. Everything else below is the same.

Run: unicorn (ARM, THUMB | MCLASS, CPU model Cortex-M4) with the FPU enabled (CPACR/FPEXC), flash
mapped read+execute (a stray write into it faults), RAM read+write. `call(sym, *args)` follows
the AAPCS for integer/pointer arguments (r0-r3, the rest on an 8-byte-aligned stack), sets LR to a
return address in a trap page and runs until the function returns there. It returns
`CallResult(ret, instructions)`: r0 as a signed 32-bit value and the number of instructions
executed (None when counting is off). Memory keeps its state between calls like a real board;
`reload()` restores the image. A fault (unmapped access, write to flash, undefined instruction)
raises M4Fault naming the function and pc; a function that does not return within
`max_instructions` (counting on) or `timeout_s` raises M4Fault too.

Counting instructions (DESIGN.md §7): a unicorn *block* hook adds, per executed translation block,
the number of instructions in it, found once per block by decoding Thumb-2 instruction lengths
from the code bytes (first halfword 0b11101/0b11110/0b11111... = 32-bit, else 16-bit). That counts
every instruction including IT (which QEMU folds into the next instructions, so a per-instruction
hook never sees it) and instructions skipped by their IT condition (they still execute, as NOPs),
as an Arm core retires them. `counting="code"` uses a per-instruction hook instead (≈ 5x slower,
misses IT) — tests/test_m4run.py checks both agree up to the IT instructions on small functions.
The count is deterministic: the same call on the same memory always gives the same number.
After each call, `last_stack_bytes` holds the stack depth the call used (the stack is filled with
a pattern before the call and scanned after).
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from model.errors import BitearError
from model.paths import REPO_ROOT, cache_dir
from model.toolchain import ARM_CC as CC
from model.toolchain import ARM_CFLAGS, ARM_LDFLAGS, CORTEX_M0PLUS, CORTEX_M4, WARNINGS, need


class Cpu(NamedTuple):
    """A core m4run builds for and emulates: compiler flags, unicorn CPU model, FPU, instruction set."""
    name: str
    flags: tuple[str, ...]       # -mcpu & co., for compiling and linking
    unicorn_model: str           # the name of the CPU model constant in unicorn.arm_const
    fpu: bool
    armv6m: bool                 # ARMv6-M only: build_elf disassembles the image and refuses anything else
    clock_mhz: int               # the clock of the real board with this core, for time estimates (host/bench.py)


CPUS: dict[str, Cpu] = {
    # the firmware's core (qemu_m4, nano33ble, nucleo_l476rg): DSP instructions, single-precision FPU
    "m4": Cpu("Cortex-M4F", CORTEX_M4, "UC_CPU_ARM_CORTEX_M4", True, False, 64),  # nano33ble: nRF52840 at 64 MHz
    # the pico's RP2040: ARMv6-M (Thumb-1 + six 32-bit instructions), no DSP, no FPU, soft float. unicorn
    # has no M0+ model, and its Cortex-M0 model executes Thumb-2, DSP and even VFP instructions (unicorn
    # 2.1.4, tests/test_cortex_m0plus.py): the instruction set is checked on the ELF instead
    "m0plus": Cpu("Cortex-M0+", CORTEX_M0PLUS, "UC_CPU_ARM_CORTEX_M0", False, True, 133),  # pico: RP2040 at 133 MHz
}
COMMON_CFLAGS = (*ARM_CFLAGS, "-g", *WARNINGS)
COMMON_LDFLAGS = (*ARM_LDFLAGS, "-nostartfiles", "-Wl,--no-warn-rwx-segments")
LIBS = ("-lc", "-lm", "-lgcc")


# The only 32-bit Thumb instructions of ARMv6-M (Armv6-M ARM, A5.5); of the 16-bit ones, Armv7-M
# added CBZ, CBNZ and IT (everything else, conditional branches included, is in both).
ARMV6M_WIDE = frozenset({"bl", "msr", "mrs", "dmb", "dsb", "isb", "udf.w"})
ARMV7M_NARROW = ("cbz", "cbnz", "it")


def armv6m_violations(elf: str | Path) -> list[str]:
    """The instructions of the ELF's code (arm-none-eabi-objdump -d) that ARMv6-M does not have, as
    objdump prints them ("addr: encoding mnemonic operands"); data in code (.word) is skipped."""
    out = subprocess.run([need("arm-none-eabi-objdump"), "-d", "-M", "force-thumb", str(elf)],
                         capture_output=True, text=True, check=True).stdout
    bad = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or not parts[0].strip().endswith(":") or parts[2].startswith("."):
            continue
        encoding, mnemonic = parts[1].split(), parts[2].strip()
        wide = len(encoding) == 2
        if (wide and mnemonic not in ARMV6M_WIDE) or (not wide and mnemonic.startswith(ARMV7M_NARROW)):
            bad.append(" ".join(p.strip() for p in parts))
    return bad


def _cpu(cpu: str) -> Cpu:
    try:
        return CPUS[cpu]
    except KeyError:
        raise ValueError(f"unknown cpu {cpu!r} (one of {', '.join(CPUS)})") from None


FLASH_BASE, FLASH_SIZE = 0x0000_0000, 4 << 20
RAM_BASE, RAM_SIZE = 0x2000_0000, 4 << 20
STACK_SIZE = 64 << 10                       # top of RAM; the bump allocator stops below it
TRAP_BASE = 0x1000_0000                     # one page holding the return trap
RETURN_ADDR = TRAP_BASE + 0x100             # LR points here (| 1 for Thumb)
STACK_FILL = 0xA5

LINKER_SCRIPT = f"""\
/* model/m4run.py: flash at 0, RAM at 0x20000000 (like QEMU mps2-an386); no start-up code. */
ENTRY(__m4run_no_entry)
MEMORY
{{
  FLASH (rx)  : ORIGIN = {FLASH_BASE:#x}, LENGTH = {FLASH_SIZE:#x}
  RAM   (rwx) : ORIGIN = {RAM_BASE:#x}, LENGTH = {RAM_SIZE - STACK_SIZE:#x}
}}
SECTIONS
{{
  .text : {{ *(.text .text.*) *(.rodata .rodata.*) . = ALIGN(8); }} > FLASH
  .ARM.extab : {{ *(.ARM.extab* .gnu.linkonce.armextab.*) }} > FLASH
  .ARM.exidx : {{ *(.ARM.exidx* .gnu.linkonce.armexidx.*) }} > FLASH
  .data : {{ *(.data .data.*) . = ALIGN(8); }} > RAM
  .bss (NOLOAD) : {{ __bss_start__ = .; *(.bss .bss.* COMMON) . = ALIGN(8); __bss_end__ = .; }} > RAM
  __m4run_heap_start = ALIGN(8);
  end = __m4run_heap_start;
}}
__m4run_no_entry = 0;
"""


class M4Fault(BitearError):
    """The emulated Cortex-M4 faulted, or a call did not return."""


class CallResult(NamedTuple):
    ret: int                    # r0, signed 32-bit
    instructions: int | None    # instructions executed (None when counting is off)


def _thumb_lengths(code: bytes) -> list[int]:
    """Lengths (2 or 4) of the Thumb-2 instructions that make up `code`."""
    out, i = [], 0
    while i + 1 < len(code):
        hw = code[i] | (code[i + 1] << 8)
        n = 4 if (hw >> 11) in (0b11101, 0b11110, 0b11111) else 2
        out.append(n)
        i += n
    return out


def _tool_version(cc: str) -> str:
    return subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def build_elf(sources: Sequence[str | Path], include_dirs: Sequence[str | Path] = (),
              cflags: Sequence[str] = (), defines: dict[str, object] | None = None, cpu: str = "m4") -> Path:
    """Compile and link `sources` for `cpu` (a key of CPUS; default the Cortex-M4F); return the cached ELF path."""
    cc = need(CC)
    core = _cpu(cpu)
    sources = [Path(s) if Path(s).is_absolute() else REPO_ROOT / s for s in sources]
    include_dirs = [Path(d) if Path(d).is_absolute() else REPO_ROOT / d for d in include_dirs]
    flags = [*core.flags, *COMMON_CFLAGS, *cflags,
             *(f"-D{k}" if v is None else f"-D{k}={v}" for k, v in (defines or {}).items())]
    ldflags = (*core.flags, *COMMON_LDFLAGS)
    h = hashlib.sha256()
    for part in (_tool_version(cc), " ".join(flags), " ".join(ldflags + LIBS), LINKER_SCRIPT):
        h.update(part.encode() + b"\0")
    for src in sources:
        if not src.is_file():
            raise BitearError(f"m4run: source {src} not found")
        h.update(src.name.encode() + b"\0" + src.read_bytes())
    for folder in sorted({*include_dirs, *(s.parent for s in sources)}):
        for header in sorted(folder.glob("*.h")):
            h.update(str(header).encode() + b"\0" + header.read_bytes())
    out_dir = cache_dir("m4", h.hexdigest()[:20])
    elf = out_dir / "program.elf"
    if elf.is_file():
        return elf
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        tmp = Path(tmp)
        (tmp / "link.ld").write_text(LINKER_SCRIPT)
        cmd = [cc, *flags, *(f"-I{d}" for d in include_dirs), *map(str, sources), *ldflags,
               f"-T{tmp / 'link.ld'}", "-o", str(tmp / "program.elf"), *LIBS]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BitearError(f"m4run: building for the {core.name} failed:\n$ {' '.join(cmd)}\n{proc.stderr.strip()}")
        bad = armv6m_violations(tmp / "program.elf") if core.armv6m else []
        if bad:
            raise BitearError(f"m4run: the {core.name} build holds {len(bad)} instructions ARMv6-M does not have, "
                              f"e.g.\n" + "\n".join(bad[:5]))
        os.replace(tmp / "program.elf", elf)
    return elf


@dataclass
class _Segment:
    addr: int
    data: bytes
    memsz: int


class M4Program:
    """A Cortex-M4 program in unicorn: build (or load) an ELF, then call its functions.

    M4Program(sources, include_dirs=(), cflags=(), defines=None) builds with build_elf() (relative
    paths are taken from the repository root; defines maps NAME -> value or None for -DNAME);
    M4Program.from_elf(path) runs an existing ELF (e.g. one built by PlatformIO) laid out in the
    same flash (0x0) / RAM (0x20000000) windows. cpu (a key of CPUS: "m4", the default, or
    "m0plus") chooses the compiler flags and the unicorn CPU model together.
    """

    def __init__(self, sources: Sequence[str | Path] = (), include_dirs: Sequence[str | Path] = (),
                 cflags: Sequence[str] = (), defines: dict[str, object] | None = None, *, elf: str | Path | None = None,
                 timeout_s: float = 120.0, cpu: str = "m4"):
        self.cpu = _cpu(cpu)
        if elf is None:
            if not sources:
                raise ValueError("M4Program needs C sources or an ELF")
            elf = build_elf(sources, include_dirs, cflags, defines, cpu)
        self.elf_path = Path(elf)
        self.timeout_s = timeout_s
        self.last_stack_bytes: int | None = None
        self.last_profile: dict[str, int] = {}
        self._read_elf()
        self._uc = None
        self._lengths: dict[int, tuple[int, int]] = {}
        self.reload()

    @classmethod
    def from_elf(cls, path: str | Path, **kw) -> "M4Program":
        return cls(elf=path, **kw)

    # ---- ELF ---------------------------------------------------------------------------------
    def _read_elf(self) -> None:
        from elftools.elf.elffile import ELFFile

        with open(self.elf_path, "rb") as f:
            elf = ELFFile(f)
            if elf["e_machine"] != "EM_ARM":
                raise BitearError(f"{self.elf_path}: not an Arm ELF ({elf['e_machine']})")
            self._segments = [
                _Segment(seg["p_vaddr"], seg.data(), seg["p_memsz"])
                for seg in elf.iter_segments() if seg["p_type"] == "PT_LOAD" and seg["p_memsz"] > 0
            ]
            self.symbols: dict[str, int] = {}
            self._functions: list[tuple[int, int, str]] = []
            symtab = elf.get_section_by_name(".symtab")
            for sym in symtab.iter_symbols() if symtab else ():
                if not sym.name or sym["st_info"]["type"] not in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
                    continue
                self.symbols.setdefault(sym.name, sym["st_value"])
                if sym["st_info"]["type"] == "STT_FUNC":
                    self._functions.append((sym["st_value"] & ~1, sym["st_size"], sym.name))
            self._functions.sort()
            self.sections = {s.name: (s["sh_addr"], s["sh_size"]) for s in elf.iter_sections() if s["sh_flags"] & 2}
        for seg in self._segments:
            if not (FLASH_BASE <= seg.addr < FLASH_BASE + FLASH_SIZE or RAM_BASE <= seg.addr < RAM_BASE + RAM_SIZE):
                raise BitearError(f"{self.elf_path}: segment at {seg.addr:#x} is outside flash/RAM")
        self.heap_start = self.symbols.get("__m4run_heap_start") or max(
            (s.addr + s.memsz for s in self._segments if s.addr >= RAM_BASE), default=RAM_BASE)
        self.heap_start = (self.heap_start + 7) & ~7

    def size(self) -> dict[str, int]:
        """Bytes of flash (text + rodata + data init) and static RAM (data + bss) of the image."""
        flash = sum(s.memsz for s in self._segments if s.addr < RAM_BASE)
        flash += sum(len(s.data) for s in self._segments if s.addr >= RAM_BASE)
        ram = sum(s.memsz for s in self._segments if s.addr >= RAM_BASE)
        return {"flash": flash, "ram": ram}

    def function_at(self, pc: int) -> str:
        pc &= ~1
        for start, size, name in reversed(self._functions):
            if start <= pc < start + max(size, 2):
                return f"{name}+{pc - start:#x}"
        return f"{pc:#x}"

    def symbol(self, name: str) -> int:
        try:
            return self.symbols[name]
        except KeyError:
            raise BitearError(f"m4run: no symbol '{name}' in {self.elf_path} (static? mark it "
                              "__attribute__((noipa, used)) or make it extern)") from None

    # ---- machine -----------------------------------------------------------------------------
    def reload(self) -> None:
        """(Re)create the machine: fresh RAM, image loaded, FPU on (if the core has one), heap empty."""
        from unicorn import UC_ARCH_ARM, UC_MODE_MCLASS, UC_MODE_THUMB, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE, Uc
        from unicorn import arm_const

        self.close()
        uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(getattr(arm_const, self.cpu.unicorn_model))
        uc.mem_map(FLASH_BASE, FLASH_SIZE, UC_PROT_READ | UC_PROT_EXEC)
        uc.mem_map(RAM_BASE, RAM_SIZE, UC_PROT_READ | UC_PROT_WRITE)
        uc.mem_map(TRAP_BASE, 0x1000, UC_PROT_READ | UC_PROT_EXEC)
        uc.mem_write(RETURN_ADDR, b"\xfe\xe7")  # b . (never executed: emulation stops here)
        for seg in self._segments:
            uc.mem_write(seg.addr, seg.data)
        self._uc = uc
        if self.cpu.fpu:
            self._enable_fpu()
        self._heap = self.heap_start
        self._lengths.clear()

    def _enable_fpu(self) -> None:
        from unicorn.arm_const import UC_ARM_REG_C1_C0_2, UC_ARM_REG_FPEXC

        # CPACR: full access to CP10/CP11 (what start-up code does at 0xE000ED88); FPEXC.EN.
        try:
            self._uc.reg_write(UC_ARM_REG_C1_C0_2, self._uc.reg_read(UC_ARM_REG_C1_C0_2) | (0xF << 20))
        except Exception:  # noqa: BLE001 - not every unicorn build exposes CPACR; FPEXC suffices there
            pass
        self._uc.reg_write(UC_ARM_REG_FPEXC, 0x4000_0000)

    def close(self) -> None:
        self._uc = None

    def __enter__(self) -> "M4Program":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- memory ------------------------------------------------------------------------------
    def alloc(self, n: int, align: int = 8) -> int:
        """Reserve n zeroed bytes of RAM (bump allocator, never freed until free_all/reload)."""
        addr = (self._heap + align - 1) & ~(align - 1)
        if addr + n > RAM_BASE + RAM_SIZE - STACK_SIZE:
            raise MemoryError(f"m4run: out of emulated RAM ({n} bytes asked, {RAM_BASE + RAM_SIZE - STACK_SIZE - addr} left)")
        self._uc.mem_write(addr, bytes(n))
        self._heap = addr + n
        return addr

    def heap_mark(self) -> int:
        """The allocator's current position: pass it to heap_release() to free what came after."""
        return self._heap

    def heap_release(self, mark: int) -> None:
        """Free every allocation made after heap_mark() returned `mark` (stack-like scratch use)."""
        if not self.heap_start <= mark <= self._heap:
            raise ValueError(f"m4run: heap mark {mark:#x} is not between {self.heap_start:#x} and {self._heap:#x}")
        self._heap = mark

    def free_all(self) -> None:
        """Forget every allocation (the memory is not cleared until allocated again)."""
        self._heap = self.heap_start

    def write(self, addr: int, data: bytes | bytearray | np.ndarray) -> None:
        """Write bytes anywhere mapped (RAM, or flash from the host side: patching code/constants)."""
        if isinstance(data, np.ndarray):
            data = np.ascontiguousarray(data).tobytes()
        self._uc.mem_write(addr, bytes(data))
        if addr < RAM_BASE:
            self._lengths.clear()  # code may have changed: decode blocks again (TBs are flushed per call)

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self._uc.mem_read(addr, n))

    def put(self, array: np.ndarray | bytes, align: int = 8) -> int:
        """alloc + write; returns the address."""
        data = np.ascontiguousarray(array).tobytes() if isinstance(array, np.ndarray) else bytes(array)
        addr = self.alloc(len(data), align)
        self.write(addr, data)
        return addr

    def get(self, addr: int, dtype, count: int) -> np.ndarray:
        dtype = np.dtype(dtype)
        return np.frombuffer(self.read(addr, dtype.itemsize * count), dtype=dtype).copy()

    # ---- calls -------------------------------------------------------------------------------
    def _block_instructions(self, address: int, size: int) -> int:
        hit = self._lengths.get(address)
        if hit is None or hit[0] != size:
            hit = (size, len(_thumb_lengths(self.read(address, size))))
            self._lengths[address] = hit
        return hit[1]

    def call(self, func: str | int, *args: int, counting: str | None = "block",
             max_instructions: int | None = None, profile: bool = False) -> CallResult:
        """Call a function with integer/pointer arguments; return CallResult(ret, instructions).

        counting: "block" (default, fast, exact incl. IT), "code" (per-instruction hook, slow,
        misses IT; for cross-checks) or None (fastest; instructions is None).
        max_instructions: stop with M4Fault when exceeded (needs counting).
        profile: with counting="block", also set `last_profile` to {function: instructions}.
        """
        from unicorn import UC_HOOK_BLOCK, UC_HOOK_CODE, UcError
        from unicorn.arm_const import (UC_ARM_REG_LR, UC_ARM_REG_PC, UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2,
                                       UC_ARM_REG_R3, UC_ARM_REG_SP)

        uc = self._uc
        if uc is None:
            raise BitearError("m4run: program is closed")
        addr = self.symbol(func) if isinstance(func, str) else int(func)
        name = func if isinstance(func, str) else self.function_at(addr)
        regs = (UC_ARM_REG_R0, UC_ARM_REG_R1, UC_ARM_REG_R2, UC_ARM_REG_R3)
        words = [int(a) & 0xFFFF_FFFF for a in args]
        top = RAM_BASE + RAM_SIZE
        stack_args = words[4:]
        sp = (top - 4 * len(stack_args) - 64) & ~7
        # fill the stack with a pattern to measure its use afterwards
        stack_low = top - STACK_SIZE
        uc.mem_write(stack_low, bytes([STACK_FILL]) * (sp - stack_low))
        uc.mem_write(sp, b"".join(w.to_bytes(4, "little") for w in stack_args) + bytes(top - sp - 4 * len(stack_args)))
        for reg, w in zip(regs, words[:4]):
            uc.reg_write(reg, w)
        uc.reg_write(UC_ARM_REG_SP, sp)
        uc.reg_write(UC_ARM_REG_LR, RETURN_ADDR | 1)

        count = [0]
        per_block: dict[int, int] = {}
        hook = None
        if counting == "block":
            lengths = self._block_instructions

            def on_block(_uc, address, size, _data):
                n = lengths(address, size)
                count[0] += n
                if profile:
                    per_block[address] = per_block.get(address, 0) + n
                if max_instructions is not None and count[0] > max_instructions:
                    _uc.emu_stop()

            hook = uc.hook_add(UC_HOOK_BLOCK, on_block)
        elif counting == "code":
            def on_code(_uc, address, size, _data):
                count[0] += 1
                if max_instructions is not None and count[0] > max_instructions:
                    _uc.emu_stop()

            hook = uc.hook_add(UC_HOOK_CODE, on_code)
        elif counting is not None:
            raise ValueError(f"counting must be 'block', 'code' or None, not {counting!r}")
        try:
            uc.ctl_flush_tb()  # hooks are compiled into translated blocks
            uc.emu_start(addr | 1, RETURN_ADDR, timeout=int(self.timeout_s * 1e6))
        except UcError as e:
            pc = uc.reg_read(UC_ARM_REG_PC)
            raise M4Fault(f"m4run: {name} faulted at pc={pc:#x} ({self.function_at(pc)}): {e}") from None
        finally:
            if hook is not None:
                uc.hook_del(hook)
        pc = uc.reg_read(UC_ARM_REG_PC)
        if pc & ~1 != RETURN_ADDR:
            why = (f"more than {max_instructions} instructions" if max_instructions is not None and count[0] > max_instructions
                   else f"no return within {self.timeout_s} s")
            raise M4Fault(f"m4run: {name} stopped at pc={pc:#x} ({self.function_at(pc)}): {why}")
        used = np.frombuffer(self.read(stack_low, sp - stack_low), np.uint8)
        touched = np.nonzero(used != STACK_FILL)[0]
        self.last_stack_bytes = int(sp - (stack_low + touched[0])) if len(touched) else 0
        if profile:
            prof: dict[str, int] = {}
            for address, n in per_block.items():
                fn = self.function_at(address).split("+")[0]
                prof[fn] = prof.get(fn, 0) + n
            self.last_profile = dict(sorted(prof.items(), key=lambda kv: -kv[1]))
        ret = uc.reg_read(UC_ARM_REG_R0)
        ret = ret - (1 << 32) if ret & 0x8000_0000 else ret
        return CallResult(ret, count[0] if counting else None)
