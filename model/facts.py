"""The fixed facts of bitear in one place: the label order, and what the hand-written C owns,
read from its headers. This is the one Python module that parses C; everyone else imports from it.

    from model.facts import SAMPLE_RATE, HOP, LABELS, default_period, STATUS_NAMES, DETECTOR_DEFAULTS

Typed here (a Python fact): `LABELS`, the 12-class order of docs/architecture.md (the teacher's
outputs, the datasets' class indices, the student's default config); `KEYWORDS` = LABELS[2:].

Read from the C (so Python cannot drift from what the firmware compiles):
- front end (`bitear_frontend_tables.h`, generated from model/frontend_reference.py, and
  `bitear_frontend.h`): SAMPLE_RATE, WINDOW, HOP, FFT_SIZE, BINS, CLIP_SAMPLES, FRAMES, FMIN_HZ,
  FMAX_HZ, LOG_SCALE, LOG_OFFSET, FLOOR;
- status codes (`bitear_status.h`, BITEAR_STATUS_LIST): STATUS_NAMES, STATUS_TEXT, status_name();
- protocol (`bitear_protocol.h`): PROTO_VERSION, AUDIO_SAMPLES, MAX_CLASSES, EXIT_ALL,
  THRESHOLD_NEVER, RESET_STATS, RESET_STREAM, MAX_PAYLOAD, MAX_FRAME, COST_UNITS, RESYNC_HOPS,
  HOP_MAX, MESSAGE_TYPES (BITEAR_PROTO_MESSAGE_LIST), DECODER_COUNTERS, STATS_FIELDS, PERIOD_LIMITS
  (the range of SET_PERIOD.infer_every);
- detector (`bitear_detector.h`): DETECTOR_MAX_CLASSES, DETECTOR_CAPACITY, DETECTOR_DEFAULTS,
  DETECTOR_LIMITS (the range of each setting: its field's C type, min_count 1..CAPACITY);
- stream (`bitear_stream.h`): PERIOD_WINDOW, PERIOD_STREAMING (default inference periods in hops of the
  window and the streaming runtime), default_period(streamable);
- application (`firmware/src/app.h`): QUEUE_HOPS, DETECTOR_MIN_SPAN_MS (the detector's minimum count as a
  time span);
- the emulated board (`firmware/lib/board/board_qemu_mps2.h`): QEMU_INSTRUCTIONS_PER_TICK.

How: object-like `#define NAME value` lines (continuations joined) whose value is integer
arithmetic over numbers and other such names (`u` suffixes dropped, C integer division), the
`X(...)` rows of X-macro lists, and the `uintN_t` type of a field of a `typedef struct`. A name or list that is missing or not such an expression raises
BitearError naming the header and the name, at import.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

from model.errors import BitearError
from model.paths import PLUGIN_DIR, REPO_ROOT

LABELS: tuple[str, ...] = ("_silence_", "_unknown_", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
KEYWORDS: tuple[str, ...] = LABELS[2:]
# Words that are not keywords (training's synthetic `_unknown_` words, the distractors of generated streams and
# benchmark clips): the other 25 Speech Commands v2 words first, then more.
OTHER_WORDS: tuple[str, ...] = (
    "bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine", "one", "seven", "sheila",
    "six", "three", "tree", "two", "wow", "zero", "backward", "forward", "follow", "learn", "visual", "hello", "yellow",
    "dune", "top", "oven", "ups", "town", "nope", "yesterday", "left-hand", "right now", "going", "stopping", "often",
    "under")

APP_HEADER = REPO_ROOT / "firmware" / "src" / "app.h"
QEMU_BOARD_HEADER = REPO_ROOT / "firmware" / "lib" / "board" / "board_qemu_mps2.h"


# ---- reading C headers ------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _text(path: Path) -> str:
    """The header with comments removed and backslash-continued lines joined."""
    try:
        text = path.read_text()
    except OSError as err:
        raise BitearError(f"{path}: cannot read this C header ({err.strerror})") from None
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return text.replace("\\\n", " ")


@lru_cache(maxsize=None)
def _defines(path: Path) -> dict[str, str]:
    """Object-like macros of a header: name -> replacement text (the last definition wins)."""
    return {m[1]: m[2].strip() for m in re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)(?![\w(])[ \t]*(.*)$",
                                                      _text(path), re.M)}


_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: int(a / b), ast.FloorDiv: lambda a, b: int(a / b), ast.Mod: lambda a, b: a % b,
        ast.LShift: lambda a, b: a << b, ast.RShift: lambda a, b: a >> b, ast.BitOr: lambda a, b: a | b,
        ast.BitAnd: lambda a, b: a & b}


def _evaluate(expr: str, lookup, where: str) -> int:
    """Integer value of a C constant expression; names are resolved with lookup(name)."""
    py = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", r"\1", expr)
    py = re.sub(r"\(\s*u?int\d+_t\s*\)", "", py)          # casts such as (uint32_t)

    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name):
            return lookup(node.id)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = value(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.left), value(node.right))
        raise BitearError(f"{where}: '{expr}' is not an integer constant expression")

    try:
        return value(ast.parse(py.strip(), mode="eval"))
    except SyntaxError:
        raise BitearError(f"{where}: '{expr}' is not an integer constant expression") from None


def define(path: Path, name: str) -> int:
    """The integer value of `#define name ...` in the header at path (names it uses are looked up
    in the same header, then in the headers it includes from the same folder)."""
    defines = _visible_defines(path)
    if name not in defines:
        raise BitearError(f"{path}: no #define {name} (expected an integer constant)")
    return _evaluate(defines[name], lambda other: define(path, other), f"{path}: #define {name}")


@lru_cache(maxsize=None)
def _visible_defines(path: Path) -> dict[str, str]:
    """The defines of a header and of the headers it includes with "..." from the same folder or
    from the plugin folder."""
    out: dict[str, str] = {}
    for inc in re.findall(r'^[ \t]*#[ \t]*include[ \t]+"([^"]+)"', _text(path), re.M):
        for folder in (path.parent, PLUGIN_DIR):
            if (folder / inc).is_file():
                out.update(_visible_defines(folder / inc))
                break
    out.update(_defines(path))
    return out


def x_list(path: Path, macro: str) -> list[tuple[str, ...]]:
    """The rows of an X-macro list `#define macro(X) X(a, b, ...) X(...)`: each row's arguments as
    stripped strings (string literals keep their quotes)."""
    m = re.search(rf"^[ \t]*#[ \t]*define[ \t]+{macro}\(X\)(.*)$", _text(path), re.M)
    if not m:
        raise BitearError(f"{path}: no X-macro list {macro}(X)")
    rows = []
    for call in re.finditer(r"\bX\(", m[1]):
        args, depth, current, i, body = [], 0, "", call.end(), m[1]
        while i < len(body):
            c = body[i]
            if c == '"':
                end = body.index('"', i + 1)
                while body[end - 1] == "\\":
                    end = body.index('"', end + 1)
                current += body[i:end + 1]
                i = end + 1
                continue
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            if c == "," and depth == 0:
                args.append(current.strip())
                current = ""
            else:
                current += c
            i += 1
        args.append(current.strip())
        rows.append(tuple(args))
    if not rows:
        raise BitearError(f"{path}: the X-macro list {macro}(X) has no rows")
    return rows


_UINT_BITS = {"uint8_t": 8, "uint16_t": 16, "uint32_t": 32}


def field_max(path: Path, struct: str, field: str) -> int:
    """The largest value of `field` in `typedef struct { ... } struct;` of the header at path,
    from its unsigned fixed-width type (uint8_t -> 255, uint16_t -> 65535, uint32_t)."""
    m = re.search(rf"typedef\s+struct\s*\{{([^{{}}]*)\}}\s*{struct}\s*;", _text(path))
    if not m:
        raise BitearError(f"{path}: no typedef struct {{...}} {struct};")
    f = re.search(rf"\b(\w+)\s+{field}\s*;", m[1])
    if not f or f[1] not in _UINT_BITS:
        raise BitearError(f"{path}: {struct}.{field} is not a field of type {', '.join(_UINT_BITS)}")
    return (1 << _UINT_BITS[f[1]]) - 1


def _string(literal: str) -> str:
    return ast.literal_eval(literal)


# ---- front end --------------------------------------------------------------------------------------

_FE = PLUGIN_DIR / "bitear_frontend.h"
SAMPLE_RATE: int = define(_FE, "BITEAR_SAMPLE_RATE")
WINDOW: int = define(_FE, "BITEAR_FRONTEND_WINDOW")
HOP: int = define(_FE, "BITEAR_FRONTEND_HOP")                  # samples per hop (20 ms)
FFT_SIZE: int = define(_FE, "BITEAR_FRONTEND_FFT_SIZE")
BINS: int = define(_FE, "BITEAR_FRONTEND_BINS")
CLIP_SAMPLES: int = define(_FE, "BITEAR_FRONTEND_CLIP_SAMPLES")
FRAMES: int = define(_FE, "BITEAR_FRONTEND_FRAMES")
FMIN_HZ: int = define(_FE, "BITEAR_FRONTEND_FMIN_HZ")
FMAX_HZ: int = define(_FE, "BITEAR_FRONTEND_FMAX_HZ")
LOG_SCALE: int = define(_FE, "BITEAR_FRONTEND_LOG_SCALE")
LOG_OFFSET: int = define(_FE, "BITEAR_FRONTEND_LOG_OFFSET")
FLOOR: int = define(_FE, "BITEAR_FRONTEND_FLOOR")
HOP_MS: int = HOP * 1000 // SAMPLE_RATE

# ---- status codes -----------------------------------------------------------------------------------

_STATUS = PLUGIN_DIR / "bitear_status.h"
STATUS_NAMES: dict[int, str] = {}
STATUS_TEXT: dict[int, str] = {}
for _name, _value, _text_literal in x_list(_STATUS, "BITEAR_STATUS_LIST"):
    _code = _evaluate(_value, lambda n: define(_STATUS, n), f"{_STATUS}: {_name}")
    STATUS_NAMES[_code], STATUS_TEXT[_code] = _name, _string(_text_literal)


def status_name(status: int) -> str:
    """'BITEAR_ERR_ARG' for -2; 'status N' for a code the C does not list."""
    return STATUS_NAMES.get(status, f"status {status}")


# ---- protocol ---------------------------------------------------------------------------------------

_PROTO = PLUGIN_DIR / "bitear_protocol.h"
PROTO_VERSION: int = define(_PROTO, "BITEAR_PROTO_VERSION")
AUDIO_SAMPLES: int = define(_PROTO, "BITEAR_PROTO_AUDIO_SAMPLES")
MAX_CLASSES: int = define(_PROTO, "BITEAR_PROTO_MAX_CLASSES")
MAX_BODY: int = define(_PROTO, "BITEAR_PROTO_MAX_BODY")
MAX_PAYLOAD: int = define(_PROTO, "BITEAR_PROTO_MAX_PAYLOAD")
MAX_FRAME: int = define(_PROTO, "BITEAR_PROTO_MAX_FRAME")
HEADER_BYTES: int = define(_PROTO, "BITEAR_PROTO_HEADER_BYTES")
CRC_BYTES: int = define(_PROTO, "BITEAR_PROTO_CRC_BYTES")
EXIT_ALL: int = define(_PROTO, "BITEAR_PROTO_EXIT_ALL")
THRESHOLD_NEVER: int = define(_PROTO, "BITEAR_PROTO_THRESHOLD_NEVER")
RESET_STATS: int = define(_PROTO, "BITEAR_PROTO_RESET_STATS")
RESET_STREAM: int = define(_PROTO, "BITEAR_PROTO_RESET_STREAM")
MAX_LABEL_CHARS: int = define(_PROTO, "BITEAR_PROTO_MAX_LABEL_CHARS")       # one label in the READY banner
MAX_BOARD_CHARS: int = define(_PROTO, "BITEAR_PROTO_MAX_BOARD_CHARS")
MAX_MODEL_CHARS: int = define(_PROTO, "BITEAR_PROTO_MAX_MODEL_CHARS")
READY_FIXED: int = define(_PROTO, "BITEAR_PROTO_READY_FIXED")               # READY body bytes before the strings
RESYNC_HOPS: int = define(_PROTO, "BITEAR_PROTO_RESYNC_HOPS")  # farther AUDIO hops are "far off" (§4)
HOP_MAX: int = define(_PROTO, "BITEAR_PROTO_HOP_MAX")          # the largest stream position
# READY.cost_unit -> "instructions", "cycles", "microseconds" (BITEAR_PROTO_COST_*)
COST_UNITS: dict[int, str] = {define(_PROTO, name): name[len("BITEAR_PROTO_COST_"):].lower()
                              for name in _defines(_PROTO) if name.startswith("BITEAR_PROTO_COST_")}
# name -> (code, min_body, max_body), in the order of BITEAR_PROTO_MESSAGE_LIST
MESSAGE_TYPES: dict[str, tuple[int, int, int]] = {
    row[0]: tuple(_evaluate(v, lambda n: define(_PROTO, n), f"{_PROTO}: message {row[0]}") for v in row[1:4])
    for row in x_list(_PROTO, "BITEAR_PROTO_MESSAGE_LIST")}
DECODER_COUNTERS: tuple[str, ...] = tuple(row[0] for row in x_list(_PROTO, "BITEAR_PROTO_DECODER_COUNTERS"))
STATS_FIELDS: tuple[str, ...] = tuple(row[0] for row in x_list(_PROTO, "BITEAR_PROTO_STATS_LIST"))
# SET_PERIOD.infer_every: 1 .. the largest value of its field (0 is refused with BITEAR_ERR_ARG)
PERIOD_LIMITS: tuple[int, int] = (1, field_max(_PROTO, "bitear_proto_set_period_t", "infer_every"))

# ---- detector ---------------------------------------------------------------------------------------

_DET = PLUGIN_DIR / "bitear_detector.h"
DETECTOR_MAX_CLASSES: int = define(_DET, "BITEAR_DETECTOR_MAX_CLASSES")
DETECTOR_CAPACITY: int = define(_DET, "BITEAR_DETECTOR_CAPACITY")
# window_ms, threshold_q15, suppression_ms, min_count of bitear_detector_t after init
DETECTOR_DEFAULTS: dict[str, int] = {
    key: define(_DET, f"BITEAR_DETECTOR_DEFAULT_{key.upper()}")
    for key in ("window_ms", "threshold_q15", "suppression_ms", "min_count")}
# setting -> (smallest, largest) the C takes: ms from the field types of bitear_detector_params_t,
# min_count 1 .. DETECTOR_CAPACITY (bitear_detector_set_params refuses others)
DETECTOR_LIMITS: dict[str, tuple[int, int]] = {
    "window_ms": (0, field_max(_DET, "bitear_detector_params_t", "window_ms")),
    "suppression_ms": (0, field_max(_DET, "bitear_detector_params_t", "suppression_ms")),
    "min_count": (1, min(DETECTOR_CAPACITY, field_max(_DET, "bitear_detector_params_t", "min_count")))}

# ---- stream: default inference periods (hops) of the two runtimes --------------------------------------

PERIOD_WINDOW: int = define(PLUGIN_DIR / "bitear_stream.h", "BITEAR_STREAM_PERIOD_WINDOW")
PERIOD_STREAMING: int = define(PLUGIN_DIR / "bitear_stream.h", "BITEAR_STREAM_PERIOD_STREAMING")


def default_period(streamable: bool) -> int:
    """The firmware's default inference period (APP_INFER_EVERY) for a model: streamable ("valid"
    padding, the manifest's `streamable`) runs the streaming runtime, others the window runtime."""
    return PERIOD_STREAMING if streamable else PERIOD_WINDOW


# ---- application ------------------------------------------------------------------------------------

# the detector's minimum count as a time span, kept at every period (host.detector.min_count_for_period)
DETECTOR_MIN_SPAN_MS: int = define(APP_HEADER, "APP_DETECTOR_MIN_SPAN_MS")
QUEUE_HOPS: int = define(APP_HEADER, "APP_QUEUE_HOPS")         # CREDIT.capacity of a board without microphone

# ---- the emulated board ----------------------------------------------------------------------------

# SysTick ticks -> instructions under QEMU -icount shift=0 (what bitear_board_cost multiplies by)
QEMU_INSTRUCTIONS_PER_TICK: int = define(QEMU_BOARD_HEADER, "BITEAR_QEMU_INSTRUCTIONS_PER_TICK")

del _name, _value, _text_literal, _code
