"""Checkpoint -> integer model: every number the C runtime uses, derived from the float checkpoint.

This is the one place where floats become integers. `codegen.reference` computes with what is built
here and `codegen.generate` writes the same arrays as C, so the numpy reference and the C tables
cannot disagree.

Numerics (the contract of `model/student.py`, evaluated exactly):

* Stem: per output channel int8 weights q = clip(round(w * (1/s)), -127, 127) with
  s = max(max|w_c|, 1e-8) * float32(1/127), computed in float32 exactly as tinygrad does (its
  division is a multiplication by the reciprocal; rounding is half to even), so q is the very
  integer tensor the float model used. The integer sum acc = sum q * x is exact in float32 too.
* Batch norm + sign of the stem and of every binary block become one integer comparison per
  channel. The float model outputs +1 where  gamma * (acc*s - mean) / sqrt(var + eps) + beta >= 0.
  We decide that inequality in *exact* rational arithmetic on the stored float32 values
  (var + eps is taken as the float32 sum the model computes; sqrt is handled by squaring, see
  `_bn_nonneg`), so the only differences with tinygrad are its float32 rounding on values that
  lie within a rounding error of the threshold ("BN ties").
    stem:    output bit = (acc < T) ^ flip            (bit 1 means -1)
    binary:  output bit = (P > thr) ^ flip  with P = popcount(a XOR w) over the K = k*Cin bits,
             acc = K - 2P
  gamma > 0: flip = 0; gamma < 0: flip = 1 (the comparison turns round); gamma = 0: the output is
  the constant sign(beta) (beta >= 0 -> +1), expressed with T = INT32_MIN / thr = K (never
  "below") plus the flip bit.
* Time: every conv layer reads input rows skip + t * stride - pad + j (j < kernel) for output t,
  with pad = model.student.conv_pad and skip = model.student.conv_skip of the checkpoint's
  time_padding ("same": pad kernel // 2, skip 0; "valid": pad 0, skip (L - k) % stride). Rows
  outside the input are padding: 0 for the stem, +1 (bit 0) for the binary convs.
* Heads: int8 weights with one scale per head (same rule as the stem, over the whole head);
  the real logits are (s/T) * z_k + bias_k with z_k = sum_c q_kc (2 n_plus_c - T), n_plus_c the
  number of +1 over the T most recent positions of the block's map (T = model.student.head_pool:
  all of them, or with "even" context those ending in the last second). The integer logits carry
  F extra fraction bits (F = 8, less if the logits would get near 2^30) so the bias loses almost
  nothing when it is quantized into the z domain, b_int = round(bias * T * 2^F / s), and folded with the constant part of z:
      L_k = bias_folded_k - 2^(F+1) * sum_c q_kc * m_c,  bias_folded_k = b_int_k + 2^F T sum_c q_kc,
  m_c = number of -1 (set bits) of channel c over time. Real logits ~ (s / T / 2^F) * L_k.
* Early exit: normalized entropy in Q16 (65536 = 1.0) computed in fixed point, see `entropy_q16`
  in `codegen.reference`; per head a multiplier (mult, shift) turns logit differences into
  d = (s/T) * (L_max - L_k) in Q10.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from model.errors import BitearError
from model.student import (BinaryStudent, LayerCost, conv_output_length, conv_pad, conv_skip, head_pool, input_frames,
                           time_padding)
from types import SimpleNamespace

CODEGEN_VERSION = "1.3.0"  # 1.1: time padding and skip as numbers in the tables, the manifest; 1.2: BITEAR_MODEL_NEVER_EVENT_MASK;
# 1.3: BITEAR_MODEL_STREAMABLE, BITEAR_MODEL_STREAM_ALIGN_FRAMES

INT32_MIN = -(1 << 31)
# Fixed point of the early-exit entropy (shared by codegen.reference and the generated C).
D_FRAC_BITS = 10                 # d = logit difference in nats, Q10
D_MAX = (16 << D_FRAC_BITS) - 1  # d clamped below 16 nats (exp(-16) ~ 1e-7: negligible)
EXP_LO_BITS = 7                  # D = hi * 2^7 + lo
EXP_HI_SIZE = (D_MAX >> EXP_LO_BITS) + 1   # 128 entries: exp(-hi / 8)
EXP_LO_SIZE = 1 << EXP_LO_BITS             # 128 entries: exp(-lo / 1024)
EXP_FRAC_BITS = 24               # exp values in Q24
LOG_TABLE_BITS = 6               # ln(1 + i/64), i = 0..64, Q16, linear interpolation
Q16 = 1 << 16
THRESHOLD_NEVER = -1             # exit threshold meaning "never stop at this exit"
LOGIT_LIMIT = 1 << 30            # |integer logit| must stay below this (differences fit in 31 bits)
LOGIT_FRAC_BITS = 8              # extra fraction bits of the integer logits (fewer if they would not fit)


@dataclass
class StemInt:
    frames: int
    bins: int
    kernel: int
    stride: int
    out_len: int
    channels: int
    weights: np.ndarray      # int8 [channels][kernel][bins]
    thresholds: np.ndarray   # int32 [channels]  (bit = (acc < T) ^ flip)
    flips: np.ndarray        # uint8 [channels] 0/1
    scale: np.ndarray        # float32 [channels] (documentation, not used by the integers)
    pad: int                 # zero rows before and after the input (model.student.conv_pad)
    skip: int                # oldest input rows no output reads (model.student.conv_skip)


@dataclass
class BlockInt:
    index: int
    in_len: int
    cin: int
    kernel: int
    stride: int
    out_len: int
    channels: int
    signs: np.ndarray        # int8 [cout][kernel][cin] of +-1 (the binarized weights)
    thresholds: np.ndarray   # int32 [cout] in the popcount domain (bit = (P > thr) ^ flip)
    flips: np.ndarray        # uint8 [cout]
    head: int | None         # index of the exit head after this block, or None
    pad: int                 # +1 rows before and after the input (model.student.conv_pad)
    skip: int                # oldest input rows no output reads (model.student.conv_skip)

    @property
    def k_bits(self) -> int:
        return self.kernel * self.cin


@dataclass
class HeadInt:
    index: int
    block: int
    length: int              # T: positions averaged
    channels: int
    weights: np.ndarray      # int8 [classes][channels]
    bias_int: np.ndarray     # int64 [classes], round(bias * T * 2^F / s)
    bias_folded: np.ndarray  # int64 [classes], bias_int + 2^F * T * sum_c q
    scale: float             # float32 head scale s
    frac_bits: int           # F: integer logits are in units of (s / T) / 2^F
    mult: int                # d_Q10 = (L_max - L_k) * mult >> shift
    shift: int


@dataclass
class IntModel:
    config: dict
    labels: list[str]
    frontend: dict
    stem: StemInt
    blocks: list[BlockInt]
    heads: list[HeadInt]
    exit_thresholds_q16: list[int]           # one per early exit (all heads but the last)
    checkpoint_sha256: str = ""
    description: str = ""                       # the checkpoint's metadata description, if any
    tables: dict = field(default_factory=dict)  # fixed-point entropy tables
    exit_thresholds: list = field(default_factory=list)  # the checkpoint's values (normalized entropy, None = never)

    @property
    def classes(self) -> int:
        return len(self.labels)

    @property
    def time_padding(self) -> str:
        return time_padding(self.config)

    @property
    def streamable(self) -> bool:
        """Only "valid" time padding can run incrementally (codegen/streaming.py)."""
        return self.time_padding == "valid"

    @property
    def stream_align_frames(self) -> int:
        """The firmware's result equals the full-window inference on the last 49 frames whenever the
        frames pushed are 49 + a multiple of this: the product of all strides for a streamable
        model (codegen/streaming.py), 1 for the window runtime (every hop)."""
        if not self.streamable:
            return 1
        return int(np.prod([self.stem.stride] + [b.stride for b in self.blocks]))

    def layer_costs(self) -> list[LayerCost]:
        """Per layer MACs and weight bits: the student's own formula (model.student)."""
        return layer_costs(self.config)


def layer_costs(config: dict) -> list[LayerCost]:
    """model.student.BinaryStudent.layer_costs of a config, without building the student's tensors
    (the method reads nothing but the config): the one definition of MACs and weight bits."""
    return BinaryStudent.layer_costs(SimpleNamespace(config=config))  # type: ignore[arg-type]


def _finite(name: str, a: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(a)):
        raise BitearError(f"checkpoint: tensor '{name}' contains NaN or infinite values")
    return a


def int8_quantize(w: np.ndarray, axis: tuple[int, ...] | None) -> tuple[np.ndarray, np.ndarray]:
    """(q int8, scale float32) exactly as model.student.int8_scale + quantize_int8_ste compute them."""
    w = w.astype(np.float32)
    m = np.abs(w).max() if axis is None else np.abs(w).max(axis=axis, keepdims=True)
    scale = np.maximum(m, np.float32(1e-8)).astype(np.float32) * np.float32(1.0 / 127.0)
    scale = scale.astype(np.float32)
    q = np.clip(np.round(w * (np.float32(1.0) / scale).astype(np.float32)), -127, 127)
    return q.astype(np.int8), scale


def _bn_nonneg(acc: int, s: Fraction, mean: Fraction, gamma: Fraction, beta: Fraction, v: Fraction) -> bool:
    """Exactly: gamma * (acc*s - mean) / sqrt(v) + beta >= 0, i.e. X + beta*sqrt(v) >= 0 (v > 0)."""
    x = gamma * (acc * s - mean)
    if x >= 0 and beta >= 0:
        return True
    if x <= 0 and beta <= 0:
        return x == 0 and beta == 0
    if x > 0:  # beta < 0
        return x * x >= beta * beta * v
    return beta * beta * v >= x * x  # x < 0 < beta


def _bn_params(tensors: dict, prefix: str) -> tuple[np.ndarray, ...]:
    names = [f"{prefix}.norm.bn.{n}" for n in ("weight", "bias", "running_mean", "running_var")]
    gamma, beta, mean, var = (_finite(n, tensors[n].astype(np.float32)) for n in names)
    if np.any(var < 0):
        raise BitearError(f"checkpoint: '{prefix}.norm.bn.running_var' has negative values")
    v = (var + np.float32(1e-3)).astype(np.float32)  # the float32 sum the model computes
    return gamma, beta, mean, v


def _lowest_true(pred, lo: int, hi: int) -> int:
    """Smallest a in [lo, hi] with pred(a) for a monotone (False..True) predicate; hi + 1 if none."""
    if not pred(hi):
        return hi + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def bn_sign_thresholds(gamma, beta, mean, v, scale, acc_lo: int, acc_hi: int) -> list[tuple[str, int]]:
    """Per channel: ("ge", T) meaning +1 iff acc >= T, ("le", T) meaning +1 iff acc <= T, or ("const", +-1).

    acc ranges over the integers in [acc_lo, acc_hi]; thresholds are clamped into [acc_lo, acc_hi + 1]
    ("ge") / [acc_lo - 1, acc_hi] ("le") so they stay small integers.
    """
    out = []
    for c in range(len(gamma)):
        g, b, m, vv, s = (Fraction(float(t[c])) for t in (gamma, beta, mean, v, scale))
        if vv <= 0:
            raise BitearError("checkpoint: batch norm variance + eps is not positive")
        if g == 0:
            out.append(("const", 1 if b >= 0 else -1))
            continue
        pred = lambda a: _bn_nonneg(a, s, m, g, b, vv)  # noqa: E731
        if g > 0:  # increasing in acc
            out.append(("ge", _lowest_true(pred, acc_lo, acc_hi)))
        else:      # decreasing: +1 iff acc <= T; T = (lowest a with not pred) - 1
            first_false = _lowest_true(lambda a: not pred(a), acc_lo, acc_hi)
            out.append(("le", first_false - 1))
    return out


def _stem(tensors: dict, cfg: dict) -> StemInt:
    w = _finite("stem.weight", tensors["stem.weight"])            # (C, bins, 1, k)
    q, scale = int8_quantize(w, axis=(1, 2, 3))
    C, bins, _, k = w.shape
    stride = cfg["stem"]["stride"]
    frames = input_frames(cfg)
    padding = time_padding(cfg)
    out_len = conv_output_length(frames, k, stride, padding)
    max_acc = 127 * 128 * k * bins
    gamma, beta, mean, v = _bn_params(tensors, "stem")
    rules = bn_sign_thresholds(gamma, beta, mean, v, scale.reshape(-1), -max_acc, max_acc)
    thr = np.zeros(C, np.int64)
    flip = np.zeros(C, np.uint8)
    for c, (kind, t) in enumerate(rules):
        if kind == "ge":      # +1 iff acc >= t  -> bit = acc < t
            thr[c], flip[c] = t, 0
        elif kind == "le":    # +1 iff acc <= t  -> bit = acc > t = !(acc < t + 1)
            thr[c], flip[c] = t + 1, 1
        else:                 # constant: acc < INT32_MIN is never true
            thr[c], flip[c] = INT32_MIN, 0 if t > 0 else 1
    weights = np.ascontiguousarray(q[:, :, 0, :].transpose(0, 2, 1))  # [C][k][bins]
    return StemInt(frames, bins, k, stride, out_len, C, weights, thr.astype(np.int32), flip,
                   scale.reshape(-1).astype(np.float32), conv_pad(k, padding), conv_skip(frames, k, stride, padding))


def _block(tensors: dict, i: int, spec: dict, in_len: int, cin: int, head: int | None, padding: str) -> BlockInt:
    name = f"blocks.{i}.weight"
    w = _finite(name, tensors[name])                               # (cout, cin, 1, k)
    cout, _, _, k = w.shape
    signs = np.where(w >= 0, 1, -1).astype(np.int8)[:, :, 0, :].transpose(0, 2, 1)  # [cout][k][cin]
    stride = spec["stride"]
    out_len = conv_output_length(in_len, k, stride, padding)
    K = k * cin
    gamma, beta, mean, v = _bn_params(tensors, f"blocks.{i}")
    rules = bn_sign_thresholds(gamma, beta, mean, v, np.ones(cout, np.float32), -K, K)
    thr = np.zeros(cout, np.int64)
    flip = np.zeros(cout, np.uint8)
    for c, (kind, t) in enumerate(rules):
        # acc = K - 2P.  "ge": +1 iff K - 2P >= t  iff P <= floor((K - t) / 2) -> bit = P > that.
        if kind == "ge":
            thr[c], flip[c] = (K - t) // 2, 0
        elif kind == "le":  # +1 iff P >= ceil((K - t) / 2) =: pc  -> bit = !(P > pc - 1)
            thr[c], flip[c] = -((t - K) // 2) - 1, 1
        else:               # constant +1: P > K never; constant -1: P > -1 always
            thr[c], flip[c] = (K if t > 0 else -1), 0
    thr = np.clip(thr, -1, K)
    return BlockInt(i, in_len, cin, k, stride, out_len, cout, np.ascontiguousarray(signs),
                    thr.astype(np.int32), flip, head, conv_pad(k, padding), conv_skip(in_len, k, stride, padding))


def _head_multiplier(scale: float, length: int, frac_bits: int) -> tuple[int, int]:
    """(mult, shift) with mult / 2^shift ~ (scale / length / 2^F) * 2^D_FRAC_BITS, 2^30 <= mult < 2^31."""
    real = float(scale) * (1 << D_FRAC_BITS) / length / (1 << frac_bits)
    shift = 30 - math.floor(math.log2(real))
    mult = int(round(real * 2.0 ** shift))
    if mult >= 1 << 31:
        mult, shift = mult // 2, shift - 1
    if not 0 <= shift <= 62:
        raise BitearError(f"checkpoint: head scale {scale!r} is out of the supported range")
    return mult, shift


def _head(tensors: dict, index: int, block: BlockInt, classes: int, pool: int) -> HeadInt:
    wname, bname = f"heads.{index}.weight", f"heads.{index}.bias"
    w = _finite(wname, tensors[wname])
    bias = _finite(bname, tensors[bname]).astype(np.float32)
    q, scale = int8_quantize(w, axis=None)
    s = float(scale)
    T = pool
    for F in range(LOGIT_FRAC_BITS, -1, -1):
        bias_int = np.rint(bias.astype(np.float64) * T * (1 << F) / s).astype(np.int64)
        folded = bias_int + (T << F) * q.astype(np.int64).sum(axis=1)
        bound = int(np.abs(folded).max()) + (2 * 127 * block.channels * T << F)
        if bound < LOGIT_LIMIT:
            break
    else:
        raise BitearError(f"checkpoint: head {index} bias is too large for its weight scale "
                          f"(integer logits would reach {bound}, limit {LOGIT_LIMIT})")
    mult, shift = _head_multiplier(s, T, F)
    return HeadInt(index, block.index, T, block.channels, q, bias_int, folded, s, F, mult, shift)


def threshold_q16(value) -> int:
    """A checkpoint/user exit threshold (normalized entropy) in Q16: None or < 0 -> never stop there;
    values >= 1 -> 65536, "always stop" (the normalized entropy never exceeds 1, so that is exact)."""
    if value is None:
        return THRESHOLD_NEVER
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise BitearError(f"checkpoint: exit threshold {value!r} is not a number") from None
    if math.isnan(value):
        raise BitearError("checkpoint: an exit threshold is NaN")
    if value < 0:
        return THRESHOLD_NEVER
    return min(Q16, int(round(value * Q16)))


def entropy_tables() -> dict[str, np.ndarray]:
    """Fixed-point tables of the early-exit entropy (see codegen.reference.entropy_q16)."""
    one = 1 << EXP_FRAC_BITS
    hi = np.array([round(math.exp(-(i << EXP_LO_BITS) / (1 << D_FRAC_BITS)) * one) for i in range(EXP_HI_SIZE)], np.int64)
    lo = np.array([round(math.exp(-i / (1 << D_FRAC_BITS)) * one) for i in range(EXP_LO_SIZE)], np.int64)
    n = 1 << LOG_TABLE_BITS
    ln = np.array([round(math.log(1 + i / n) * Q16) for i in range(n + 1)], np.int64)
    return {"exp_hi": hi, "exp_lo": lo, "ln": ln,
            "ln2_q16": int(round(math.log(2) * Q16))}


def inv_ln_classes_q16(classes: int) -> int:
    return int(round(Q16 / math.log(classes)))


def build(tensors: dict, meta: dict, sha256: str = "") -> IntModel:
    """The integer model of a checkpoint (tensors and metadata as returned by read_checkpoint)."""
    cfg = meta["config"]
    labels = list(meta["labels"])
    if len(labels) != cfg["classes"]:
        raise BitearError(f"checkpoint: {len(labels)} labels but config has {cfg['classes']} classes")
    if cfg["classes"] < 2:
        raise BitearError("checkpoint: at least two classes are needed")
    stem = _stem(tensors, cfg)
    blocks, heads = [], []
    length, cin = stem.out_len, stem.channels
    for i, spec in enumerate(cfg["blocks"]):
        head = len(heads) if spec.get("exit") else None
        block = _block(tensors, i, spec, length, cin, head, time_padding(cfg))
        blocks.append(block)
        if head is not None:
            heads.append(_head(tensors, head, block, cfg["classes"], head_pool(cfg)[head]))
        length, cin = block.out_len, block.channels
    thresholds = [threshold_q16(t) for t in meta["exit_thresholds"]]
    description = str(meta.get("description", ""))
    return IntModel(cfg, labels, dict(meta["frontend"]), stem, blocks, heads, thresholds, sha256,
                    description, entropy_tables(), list(meta["exit_thresholds"]))
