"""The serial protocol, C (firmware/lib/bitear/bitear_protocol.c) against Python (host/protocol.py).

The C decoder runs in tests/test_protocol_driver.c, built here with the host gcc (once plainly with
-Werror, once under -fsanitize=address,undefined): it decodes byte streams, re-encodes every
message it decodes, and names the counter of every frame it rejects. host.protocol.FrameDecoder
does the same in Python; the two transcripts must be identical, on the shared example vectors,
on hand-made malformed frames, and on seeded fuzz streams (every case different).
"""
from __future__ import annotations

import random
import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from host import protocol as P
from model.toolchain import SANITIZE
from tests.c_build import build_driver
from tests.scripts import load_script
from model.paths import PLUGIN_DIR

ROOT = Path(__file__).resolve().parent.parent
C_DIR = PLUGIN_DIR
DRIVER = Path(__file__).with_name("test_protocol_driver.c")
VECTORS_H = ROOT / "firmware" / "test" / "test_protocol" / "vectors.h"
V = load_script(VECTORS_H.with_name("make_vectors.py"))     # example_messages(), c_vectors_header()


def _build(out: Path, flags: list[str]) -> Path:
    return build_driver(out, DRIVER, ["bitear_protocol.c"], flags)


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("proto") / "driver", ["-O2"])


@pytest.fixture(scope="module")
def driver_asan(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("proto_asan") / "driver", SANITIZE)


def run_c(exe: Path, cases: list[bytes]) -> list[str]:
    """The C transcript; byte-by-byte feed and bulk feed_bytes must give the same one."""
    blob = b"".join(struct.pack("<I", len(c)) + c for c in cases)
    outputs = []
    for mode in ([], ["--bulk"]):
        res = subprocess.run([str(exe), *mode], input=blob, capture_output=True, timeout=120)
        assert res.returncode == 0, res.stderr.decode()[-3000:]
        assert res.stderr == b"", res.stderr.decode()[-3000:]
        outputs.append(res.stdout.decode().splitlines())
    assert outputs[0] == outputs[1], "bitear_proto_decoder_feed_bytes differs from bitear_proto_decoder_feed"
    return outputs[0]


def run_python(cases: list[bytes]) -> list[str]:
    lines = []
    for i, data in enumerate(cases):
        lines.append(f"case {i}")
        dec = P.FrameDecoder()
        for b in data:
            event = dec.feed_byte(b)
            if isinstance(event, P.Message):
                lines.append("M " + P.encode(event).hex())
            elif event is not None:
                err = dec.last_error
                lines.append(f"E {event} 0x{err.type or 0:02x} {err.seq or 0}")
        lines.append("C " + " ".join(f"{k}={v}" for k, v in dec.counters.items()))
    return lines


def frame_of(payload_without_crc: bytes) -> bytes:
    """COBS frame of a payload with a correct CRC appended (for hand-made bad frames)."""
    return P.cobs_encode(payload_without_crc + struct.pack(">H", P.crc16(payload_without_crc))) + b"\0"


# ---- definitions agree -----------------------------------------------------------------------------

def test_crc_and_cobs_known_values():
    assert P.crc16(b"123456789") == 0x29B1                      # CRC-16/CCITT-FALSE check value
    assert P.cobs_encode(b"\x11\x22\x00\x33") == b"\x03\x11\x22\x02\x33"
    assert P.cobs_encode(b"\x00") == b"\x01\x01"
    assert P.cobs_encode(bytes(range(1, 255))) == b"\xff" + bytes(range(1, 255))   # no trailing 0x01
    assert P.cobs_encode(bytes(range(1, 255)) + b"\x00") == b"\xff" + bytes(range(1, 255)) + b"\x01\x01"
    assert P.encode(P.Hello(seq=0)) == bytes.fromhex("03 01 01 01 03 c5 44 00")
    rng = random.Random(3)
    for n in (1, 253, 254, 255, 508, 509, 650):
        for zeros in (0.0, 0.1, 0.9):
            data = bytes(0 if rng.random() < zeros else rng.randrange(1, 256) for _ in range(n))
            assert P.cobs_decode(P.cobs_encode(data)) == data
    with pytest.raises(P.ProtocolError, match="cobs_errors"):
        P.cobs_decode(b"\x05\x01\x02")


def test_python_types_limits_and_names_match_the_c_header(driver):
    out = subprocess.run([str(driver), "--types"], capture_output=True, text=True, check=True).stdout
    c_types = {name: (int(code), int(lo), int(hi)) for name, code, lo, hi in (l.split() for l in out.splitlines())}
    py_types = {t.name: (int(t), *P.BODY_LIMITS[t]) for t in P.MsgType}
    assert c_types == py_types
    assert set(P.MESSAGE_CLASSES) == set(P.MsgType)
    assert len(P.STATS_FIELDS) == 16 and P.STATS_FIELDS[0] == "frames_received" and P.STATS_FIELDS[-1] == "results_dropped"
    assert P.STATUS_NAMES[-7] == "BITEAR_ERR_CRC" and P.status_name(-2) == "BITEAR_ERR_ARG"
    # the other constants are checked against the compiled C in tests/test_facts.py


def test_docs_examples_are_what_the_encoder_writes():
    """Every frame example in docs/protocol.md (lines "    NAME  hex bytes") is an example message."""
    doc = (ROOT / "docs" / "protocol.md").read_text()
    examples = re.findall(r"^    ([A-Z_]+)\s+((?:[0-9a-f]{2} )+[0-9a-f]{2})$", doc, re.M)
    encoded = {(m.TYPE.name, P.encode(m).hex(" ")) for m in V.example_messages()}
    assert len(examples) >= 8
    for name, hexbytes in examples:
        assert (name, hexbytes) in encoded, f"docs/protocol.md example {name} is not what host/protocol.py encodes"


def test_unity_vectors_header_is_up_to_date():
    assert VECTORS_H.read_text() == V.c_vectors_header(), \
        "regenerate: python firmware/test/test_protocol/make_vectors.py"


# ---- the same bytes on both sides -------------------------------------------------------------------

def test_examples_decode_and_reencode_identically_in_c_and_python(driver):
    frames = [P.encode(m) for m in V.example_messages()]
    c = run_c(driver, [b"".join(frames)])
    assert c == run_python([b"".join(frames)])
    assert [l[2:] for l in c if l.startswith("M ")] == [f[:].hex() for f in frames]
    assert c[-1].startswith(f"C frames={len(frames)} cobs_errors=0")
    for m, f in zip(V.example_messages(), frames):
        assert P.decode(f) == m


def random_message(rng: random.Random) -> P.Message:
    t = rng.choice(list(P.MsgType))
    u16, u32 = (lambda: rng.randrange(1 << 16)), (lambda: rng.randrange(1 << 32))
    seq = u16()
    text = lambda n: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_0123456789") for _ in range(rng.randrange(n)))
    if t == P.MsgType.AUDIO:
        zeros = rng.random() < 0.3
        pcm = bytes(640) if zeros else bytes(rng.randrange(256) for _ in range(640))
        return P.Audio(u32(), pcm, seq)
    if t == P.MsgType.SET_THRESHOLD:
        return P.SetThreshold(rng.randrange(256), rng.randrange(-(1 << 31), 1 << 31), seq)
    if t == P.MsgType.SET_DETECTOR:
        return P.SetDetector(u16(), u16(), u16(), rng.randrange(256), seq)
    if t == P.MsgType.RESET:
        return P.Reset(rng.randrange(256), seq)
    if t == P.MsgType.SET_PERIOD:
        return P.SetPeriod(rng.randrange(256), seq)
    if t == P.MsgType.READY:
        labels = tuple(text(12) for _ in range(rng.randrange(0, 40)))
        return P.Ready(u32(), u16(), rng.randrange(256), rng.randrange(256), rng.randrange(256),
                       text(20), text(65), labels, seq)
    if t == P.MsgType.RESULT:
        scores = tuple(u16() for _ in range(rng.randrange(P.MAX_CLASSES + 1)))
        return P.Result(u32(), rng.randrange(256), rng.randrange(256), u16(), u32(), u32(), scores, seq)
    if t == P.MsgType.DETECTION:
        return P.Detection(u32(), rng.randrange(256), u16(), seq)
    if t == P.MsgType.STATS:
        return P.Stats(tuple(u32() for _ in P.STATS_FIELDS), seq)
    if t == P.MsgType.ACK:
        return P.Ack(u16(), rng.randrange(256), rng.randrange(-(1 << 15), 1 << 15), seq)
    if t == P.MsgType.CREDIT:
        return P.Credit(u32(), u16(), seq)
    return P.MESSAGE_CLASSES[t](seq=seq)


def test_random_messages_roundtrip_through_c(driver):
    rng = random.Random(7)
    msgs = [random_message(rng) for _ in range(400)]
    frames = [P.encode(m) for m in msgs]
    c = run_c(driver, [b"".join(frames)])
    assert [l[2:] for l in c if l.startswith("M ")] == [f.hex() for f in frames]
    assert [P.decode(f) for f in frames] == msgs


# ---- malformed input: counted, resynchronised, same on both sides -------------------------------------

GOOD = P.encode(P.Ack(1, P.MsgType.RESET, 0, seq=9))
HEADER = struct.pack("<BBH", P.VERSION, P.MsgType.HELLO, 3)

MALFORMED = {
    # name: (bytes, expected events before the GOOD frame that follows every case)
    "zero-length frames": (b"\0\0", ["empty_frames", "empty_frames"]),
    "garbage then a delimiter": (bytes([0x55, 0xAA, 0x13, 0x37]) + b"\0", ["cobs_errors"]),
    "truncated frame": (P.encode(P.Credit(5, 8))[:5] + b"\0", ["cobs_errors"]),
    "frame cut after a whole block": (P.cobs_encode(b"\x01\x86")[:3] + b"\0", ["short_frames"]),
    "short frame": (P.cobs_encode(b"\x01\x01\x00\x00\x12") + b"\0", ["short_frames"]),
    "bad CRC": (P.cobs_encode(P.payload_of(P.Credit(5, 8))[:-1] + b"\x99") + b"\0", ["crc_errors"]),
    "flipped bit": (P.cobs_encode(bytes([0x01, 0x86, 0x00, 0x00, 0x05 ^ 0x10, 0, 0, 0, 8, 0]) +
                                  P.payload_of(P.Credit(5, 8))[-2:]) + b"\0", ["crc_errors"]),
    "oversize run": (bytes([0x42]) * 3000 + b"\0", ["oversize"]),
    "oversize valid-looking frame": (frame_of(struct.pack("<BBH", 1, 2, 0) + bytes(P.MAX_BODY + 1)), ["oversize"]),
    "unknown type": (frame_of(struct.pack("<BBH", 1, 0x42, 77)), ["unknown_type"]),
    "board type 0x87": (frame_of(struct.pack("<BBH", 1, 0x87, 78) + b"xyz"), ["unknown_type"]),
    "wrong version": (frame_of(struct.pack("<BBH", 2, 0x01, 79)), ["bad_version"]),
    "body on HELLO": (frame_of(HEADER + b"\x01"), ["bad_length"]),
    "SET_PERIOD with two bytes": (frame_of(struct.pack("<BBHBB", 1, P.MsgType.SET_PERIOD, 8, 2, 0)), ["bad_length"]),
    "audio one sample short": (frame_of(struct.pack("<BBHI", 1, 2, 4, 0) + bytes(638)), ["bad_length"]),
    "READY missing a label": (frame_of(struct.pack("<BBHIHBBBB", 1, 0x81, 5, 16000, 320, 1, 3, 1, 0)
                                       + b"b\0m\0x\0y\0"), ["bad_length"]),
    "READY not NUL-terminated": (frame_of(struct.pack("<BBHIHBBBB", 1, 0x81, 5, 16000, 320, 1, 0, 1, 0)
                                          + b"b\0m"), ["bad_length"]),
    "RESULT too many scores": (frame_of(struct.pack("<BBHIBBHIIB", 1, 0x82, 6, 0, 0, 0, 0, 0, 0, 33)
                                        + bytes(66)), ["bad_length"]),
    "STATS count mismatch": (frame_of(struct.pack("<BBHB", 1, 0x84, 7, 3) + bytes(8)), ["bad_length"]),
    "frame inside garbage without delimiter merges": (b"\x07\x01" + GOOD, ["crc_errors"]),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_frame_is_counted_once_and_the_next_frame_decodes(name, driver):
    data, expected = MALFORMED[name]
    case = data + GOOD
    py = run_python([case])
    assert [l.split()[1] for l in py if l.startswith("E ")] == expected
    assert [l for l in py if l.startswith("M ")][-1:] == ["M " + GOOD.hex()]
    assert run_c(driver, [case]) == py
    with pytest.raises(P.ProtocolError) as err:
        P.decode(data.split(b"\0")[0])
    assert err.value.kind == expected[0]


def test_rejected_commands_carry_type_and_seq_for_a_nack(driver):
    case = MALFORMED["unknown type"][0] + MALFORMED["body on HELLO"][0]
    lines = run_c(driver, [case])
    assert lines[1:3] == ["E unknown_type 0x42 77", "E bad_length 0x01 3"]
    assert run_python([case]) == lines


def test_stats_from_a_newer_or_older_board_keep_the_known_fields(driver):
    n = len(P.STATS_FIELDS)
    newer = frame_of(struct.pack(f"<BBHB{n + 3}I", 1, 0x84, 1, n + 3, *range(100, 103 + n)))
    older = frame_of(struct.pack("<BBHB2I", 1, 0x84, 2, 2, 5, 6))
    s_new, s_old = P.decode(newer), P.decode(older)
    assert s_new.values == tuple(range(100, 100 + n)) and s_new.frames_received == 100
    assert s_old.frames_received == 5 and s_old.crc_errors == 6 and s_old.stack_size == 0
    assert run_c(driver, [newer + older]) == run_python([newer + older])


def fuzz_case(rng: random.Random, kind: int) -> bytes:
    """One fuzz input of a kind: 0 random bytes, 1 sparse zeros (long frames, oversize),
    2 mutated valid frames, 3 frames with a correct CRC but random type/version/body
    (structure-aware), 4 garbage between valid frames."""
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 2000))
    if kind == 1:
        p0 = rng.choice([0.0005, 0.003, 0.02, 0.2])
        return bytes(0 if rng.random() < p0 else rng.randrange(1, 256) for _ in range(rng.randrange(3000)))
    if kind == 2:
        data = bytearray(b"".join(P.encode(random_message(rng)) for _ in range(rng.randrange(1, 6))))
        for _ in range(rng.randrange(0, 6)):
            op, pos = rng.randrange(5), rng.randrange(len(data) + 1)
            if op == 0 and pos < len(data):
                data[pos] ^= 1 << rng.randrange(8)                      # bit flip
            elif op == 1:
                del data[pos:pos + rng.randrange(1, 40)]                # deletion
            elif op == 2:
                data[pos:pos] = rng.randbytes(rng.randrange(1, 20))     # inserted garbage
            elif op == 3:
                data[pos:pos] = b"\0" * rng.randrange(1, 3)             # extra delimiters
            else:
                del data[pos:]                                          # cut off the end
        return bytes(data)
    if kind == 3:
        frames = []
        for _ in range(rng.randrange(1, 8)):
            t = rng.choice([*list(P.MsgType)] * 3 + [0x00, 0x08, 0x80, 0x87, 0xFF])
            lo, hi = P.BODY_LIMITS.get(t, (0, 8))
            n = rng.choice([lo, hi, max(0, lo - 1), hi + 1, rng.randrange(0, max(hi, 1) + 2)])
            body = bytearray(rng.randbytes(n))
            if t == P.MsgType.READY and n >= 10 and rng.random() < 0.5:
                body[7] = rng.randrange(4)                              # few labels: sometimes valid
            if t == P.MsgType.STATS and n >= 1 and (n - 1) % 4 == 0 and rng.random() < 0.5:
                body[0] = (n - 1) // 4                                  # consistent count
            if t == P.MsgType.RESULT and n >= 17 and rng.random() < 0.5:
                body[16] = (n - 17) // 2
            version = 1 if rng.random() < 0.9 else rng.randrange(256)
            frames.append(frame_of(struct.pack("<BBH", version, t, rng.randrange(1 << 16)) + bytes(body)))
        return b"".join(frames)
    parts = []
    for _ in range(rng.randrange(1, 6)):
        parts.append(rng.randbytes(rng.randrange(0, 30)))
        parts.append(P.encode(random_message(rng)))
    return b"".join(parts)


def fuzz_cases(seed: int, count: int) -> list[bytes]:
    """count different seeded inputs, cycling through the kinds of fuzz_case."""
    rng = random.Random(seed)
    cases: list[bytes] = []
    seen: set[bytes] = set()
    while len(cases) < count:
        case = fuzz_case(rng, len(cases) % 5)
        if case not in seen:
            seen.add(case)
            cases.append(case)
    return cases


def test_fuzz_c_and_python_agree_event_by_event(driver):
    cases = fuzz_cases(seed=2024, count=300)
    py = run_python(cases)
    assert run_c(driver, cases) == py
    counters = {k: 0 for k in P.COUNTERS}
    for line in py:
        if line.startswith("C "):
            for kv in line[2:].split():
                k, v = kv.split("=")
                counters[k] += int(v)
    assert all(v > 0 for v in counters.values()), counters   # every kind of damage was exercised


def test_fuzz_under_address_and_undefined_behaviour_sanitizers(driver_asan):
    cases = fuzz_cases(seed=99, count=200) + [MALFORMED[k][0] + GOOD for k in sorted(MALFORMED)]
    assert run_c(driver_asan, cases) == run_python(cases)


def test_python_decoder_survives_any_bytes_in_any_chunking():
    rng = random.Random(5)
    for case in fuzz_cases(seed=11, count=60):
        whole = P.FrameDecoder()
        msgs = whole.feed(case)
        pieces = P.FrameDecoder()
        got, i = [], 0
        while i < len(case):
            n = rng.randrange(1, 50)
            got += pieces.feed(case[i:i + n])
            i += n
        assert got == msgs and pieces.counters == whole.counters


# ---- encoder argument checks -----------------------------------------------------------------------

def test_encoder_rejects_what_the_decoder_would_reject():
    with pytest.raises(ValueError):
        P.encode(P.Audio(0, bytes(638)))
    with pytest.raises(ValueError):
        P.encode(P.Result(0, 0, 0, 0, 0, 0, tuple(range(P.MAX_CLASSES + 1))))
    with pytest.raises(ValueError):
        P.encode(P.Ready(16000, 320, 1, 1, 0, "a\0b", "m", ()))
    with pytest.raises(ValueError):
        P.encode(P.Ready(16000, 320, 1, 1, 0, "b", "m", ("x" * 700,)))
    with pytest.raises(ValueError):
        P.encode(P.Ack(1, 1, 40000))
    samples = (np.arange(320) * 97 - 15000).astype(np.int16)
    frame = P.encode(P.Audio(12, samples.astype("<i2").tobytes(), seq=3))
    msg = P.decode(frame)
    assert msg.hop == 12 and msg.seq == 3 and np.array_equal(msg.samples, samples)
    assert len(frame) <= P.MAX_FRAME
    worst = P.encode(P.Audio(0xFFFFFFFF, b"\x01" * 640, 0xFFFF))   # no zero at all: longest COBS
    assert len(worst) <= P.MAX_FRAME


# ---- cost on the Cortex-M4 (unicorn, exact instruction counts) ----------------------------------------

M4_HELPER = r"""
#include "bitear_protocol.h"
__attribute__((noipa, used)) int feed_bytes(bitear_proto_decoder_t *dec, const uint8_t *data, uint32_t n,
                                            bitear_proto_msg_t *msg)
{
    int messages = 0;
    for (uint32_t i = 0; i < n; i++) {
        messages += bitear_proto_decoder_feed(dec, data[i], msg) == BITEAR_PROTO_MESSAGE;
    }
    return messages;
}
__attribute__((noipa, used)) int feed_run(bitear_proto_decoder_t *dec, const uint8_t *data, uint32_t n,
                                          bitear_proto_msg_t *msg)
{
    int messages = 0;
    size_t used = 0;
    for (uint32_t i = 0; i < n; i += used) {
        messages += bitear_proto_decoder_feed_bytes(dec, data + i, n - i, &used, msg) == BITEAR_PROTO_MESSAGE;
    }
    return messages;
}
__attribute__((noipa, used)) int encode_msg(const bitear_proto_msg_t *msg, uint8_t *out, uint32_t cap)
{
    size_t len = 0;
    const bitear_status_t st = bitear_proto_encode(msg, out, cap, &len);
    return st < 0 ? (int)st : (int)len;
}
"""


def test_cortex_m4_decodes_an_audio_frame_and_encodes_a_result_cheaply(tmp_path):
    from model.m4run import M4Program

    helper = tmp_path / "proto_cost.c"
    helper.write_text(M4_HELPER)
    with M4Program([C_DIR / "bitear_protocol.c", helper], [C_DIR]) as prog:
        dec, msg, out = prog.alloc(1024), prog.alloc(256), prog.alloc(P.MAX_FRAME)
        assert prog.call("bitear_proto_decoder_init", dec).ret == 0
        audio = P.encode(V.example_messages()[2])            # ramp: 653 bytes, few zero bytes
        silence = P.encode(V.example_messages()[1])          # 640 zero bytes: a COBS block per byte
        n, byte_instr = prog.call("feed_bytes", dec, prog.put(audio), len(audio), msg)
        assert n == 1
        n, audio_instr = prog.call("feed_run", dec, prog.put(audio), len(audio), msg)
        assert n == 1
        n, silence_instr = prog.call("feed_run", dec, prog.put(silence), len(silence), msg)
        assert n == 1
        result = P.encode(V.example_messages()[9])           # RESULT with 12 scores
        assert prog.call("feed_run", dec, prog.put(result), len(result), msg).ret == 1
        length, result_instr = prog.call("encode_msg", msg, out, P.MAX_FRAME)
        assert prog.read(out, length) == result
    # measured: feed_bytes ~ 17.5 instructions per byte of an AUDIO frame (10 of them the CRC),
    # ~ 39 for all-zero audio; byte by byte ~ 55. The front end of one hop costs ~ 27 k.
    assert audio_instr <= 13_000, audio_instr
    assert silence_instr <= 28_000, silence_instr
    assert byte_instr <= 40_000, byte_instr
    assert result_instr <= 2500, result_instr           # ~ 36 per byte written (COBS + CRC as it goes)
    print(f"\nM4: AUDIO frame of {len(audio)} B decoded in {audio_instr} instructions with feed_bytes "
          f"({silence_instr} for silence), {byte_instr} byte by byte; RESULT encoded in {result_instr}")
