"""Integer numpy reference of exactly what the C runtime computes, layer by layer.

Everything here is integer arithmetic on the arrays of `codegen.intmodel.IntModel` (the same arrays
the generator writes as C), vectorized over a batch of feature windows. Tests compare:
  * this reference with the tinygrad student in eval mode (argmax agreement; differences come only
    from float32 rounding at batch-norm thresholds and from rounding the head bias to the integer
    logit grid), and
  * the C runtime (host build and Cortex-M4 build) with this reference, exactly: every layer's
    packed bits, every exit's integer logits and entropies, and the exit decisions.

Bit convention: bit 1 means -1, bit 0 means +1; channel c of a time step is bit c % 32 of word
c // 32 (`pack_bits`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen import intmodel as im
from codegen.intmodel import IntModel


@dataclass
class Trace:
    """Intermediate outputs of a batch: per layer accumulators and bits, per head logits and entropy."""

    stem_acc: np.ndarray             # int64 (N, out_len, C)
    stem_bits: np.ndarray            # uint8 (N, out_len, C), 1 = -1
    block_popcount: list[np.ndarray]  # int64 (N, out_len, Cout): P = popcount(a XOR w)
    block_bits: list[np.ndarray]     # uint8 (N, out_len, Cout)
    logits: list[np.ndarray]         # int64 (N, classes) per head
    entropy_q16: list[np.ndarray]    # int64 (N,) per head, normalized entropy in Q16


@dataclass
class Result:
    """What bitear_model_infer returns, for a batch: class, exit taken, its logits and entropy."""

    label: np.ndarray        # int64 (N,)
    exit_index: np.ndarray   # int64 (N,)
    logits: np.ndarray       # int64 (N, classes): the logits of the exit taken
    entropy_q16: np.ndarray  # int64 (N,)
    scores_q15: np.ndarray   # int64 (N, classes): softmax of those logits


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """(..., C) 0/1 -> (..., C // 32) uint32: channel c is bit c % 32 of word c // 32."""
    *lead, C = bits.shape
    b = bits.reshape(*lead, C // 32, 32).astype(np.uint64)
    return (b << np.arange(32, dtype=np.uint64)).sum(axis=-1).astype(np.uint32)


def unpack_bits(words: np.ndarray, channels: int) -> np.ndarray:
    """Inverse of pack_bits."""
    w = words.astype(np.uint64)[..., None] >> np.arange(32, dtype=np.uint64)
    return (w & 1).astype(np.uint8).reshape(*words.shape[:-1], channels)


def _check_features(model: IntModel, features: np.ndarray) -> np.ndarray:
    x = np.asarray(features)
    if x.ndim == 2:
        x = x[None]
    if x.shape[1:] != (model.stem.frames, model.stem.bins):
        raise ValueError(f"features must be (N, {model.stem.frames}, {model.stem.bins}), got {x.shape}")
    if x.min(initial=0) < -128 or x.max(initial=0) > 127:
        raise ValueError("features must be int8 values")
    return x.astype(np.int64)


def stem_forward(s: im.StemInt, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x int (N, frames, bins) -> (acc (N, T, C), bits (N, T, C)): output t reads frames
    skip + t * stride - pad + j, zero outside the window (`pad` zero frames on both sides)."""
    x = np.asarray(x, np.int64)
    xp = np.pad(x, ((0, 0), (s.pad, s.pad), (0, 0)))[:, s.skip:]
    acc = np.zeros((x.shape[0], s.out_len, s.channels), np.int64)
    w = s.weights.astype(np.int64)  # [C][k][bins]
    for j in range(s.kernel):
        rows = xp[:, j:j + s.stride * (s.out_len - 1) + 1:s.stride, :]  # (N, T, bins)
        acc += rows @ w[:, j, :].T
    bits = ((acc < s.thresholds.astype(np.int64)) ^ s.flips.astype(bool)).astype(np.uint8)
    return acc, bits


def block_forward(block: im.BlockInt, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bits uint8 (N, L, Cin) -> (popcount P (N, T, Cout), bits (N, T, Cout)): output t reads rows
    skip + t * stride - pad + j, +1 (bit 0) outside the map (`pad` rows on both sides)."""
    pad = block.pad
    a = np.pad(bits.astype(np.int64), ((0, 0), (pad, pad), (0, 0)))[:, block.skip:]
    wbits = (block.signs < 0).astype(np.int64)  # [cout][k][cin]
    T = block.out_len
    # P = sum a + sum w - 2 sum a*w   (XOR of bits)
    P = np.zeros((bits.shape[0], T, block.channels), np.int64)
    for j in range(block.kernel):
        rows = a[:, j:j + block.stride * (T - 1) + 1:block.stride, :]  # (N, T, cin)
        P += rows.sum(axis=-1, keepdims=True) + wbits[:, j, :].sum(axis=-1) - 2 * (rows @ wbits[:, j, :].T)
    out = ((P > block.thresholds.astype(np.int64)) ^ block.flips.astype(bool)).astype(np.uint8)
    return P, out


def head_forward(head: im.HeadInt, bits: np.ndarray) -> np.ndarray:
    """bits (N, T, C) -> integer logits (N, classes): L = bias_folded - 2^(F+1) q . m, m = count of -1
    over the head's `length` most recent positions."""
    m = bits[:, bits.shape[1] - head.length:].astype(np.int64).sum(axis=1)  # (N, C)
    return head.bias_folded[None, :] - (2 << head.frac_bits) * (m @ head.weights.astype(np.int64).T)


def entropy_q16(model: IntModel, head: im.HeadInt, logits: np.ndarray) -> np.ndarray:
    """Normalized entropy of softmax((s/T) * logits) in Q16, clamped to [0, 65536], integer only.

    d_k = (L_max - L_k) * mult >> shift            Q10, clamped to D_MAX (< 16 nats)
    e_k = EXP_HI[d_k >> 7] * EXP_LO[d_k & 127] >> 24   exp(-d_k) in Q24 (e = 2^24 at the maximum)
    Z = sum e_k (Q24, >= 2^24);  ln Z = n ln 2 + ln(1 + f) by a 65-entry table, linear interpolation
    H = ln Z + (sum e_k d_k << 6) / Z              Q16 nats;   h = H * round(2^16 / ln C) >> 16
    """
    t = model.tables
    e, D = _exp_q24(model, head, np.atleast_2d(logits))
    Z = e.sum(axis=1)
    S = (e * D).sum(axis=1)
    one = 1 << im.EXP_FRAC_BITS
    n = np.zeros_like(Z)
    for _ in range(8):  # Z < 16 * 2^24 for up to 16 classes; more loops are harmless
        n += (Z >> n) >= 2 * one
    m = (Z >> n) - one
    frac_bits = im.EXP_FRAC_BITS - im.LOG_TABLE_BITS
    idx = m >> frac_bits
    frac = m & ((1 << frac_bits) - 1)
    ln = t["ln"][idx] + (((t["ln"][idx + 1] - t["ln"][idx]) * frac) >> frac_bits)
    H = n * t["ln2_q16"] + ln + ((S << (16 - im.D_FRAC_BITS)) // Z)
    h = (H * im.inv_ln_classes_q16(model.classes)) >> 16
    return np.minimum(h, im.Q16)


def _exp_q24(model: IntModel, head: im.HeadInt, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = model.tables
    L = np.asarray(logits, np.int64)
    diff = L.max(axis=-1, keepdims=True) - L
    D = np.minimum((diff * head.mult) >> head.shift, im.D_MAX)
    e = (t["exp_hi"][D >> im.EXP_LO_BITS] * t["exp_lo"][D & (im.EXP_LO_SIZE - 1)]) >> im.EXP_FRAC_BITS
    return e, D


def softmax_q15(model: IntModel, head: im.HeadInt, logits: np.ndarray) -> np.ndarray:
    """Softmax scores in Q15 from the entropy's exponentials: e_k * floor(2^56 / Z) >> 41."""
    e, _ = _exp_q24(model, head, np.atleast_2d(logits))
    r = (1 << 56) // e.sum(axis=-1, keepdims=True)
    return (e * r) >> 41


def trace(model: IntModel, features: np.ndarray) -> Trace:
    """Run every layer and every head (full depth) on a batch of feature windows."""
    x = _check_features(model, features)
    acc, bits = stem_forward(model.stem, x)
    tr = Trace(acc, bits, [], [], [], [])
    for block in model.blocks:
        P, bits = block_forward(block, bits)
        tr.block_popcount.append(P)
        tr.block_bits.append(bits)
        if block.head is not None:
            head = model.heads[block.head]
            L = head_forward(head, bits)
            tr.logits.append(L)
            tr.entropy_q16.append(entropy_q16(model, head, L))
    return tr


def decide(model: IntModel, tr: Trace, thresholds_q16: list[int] | None = None) -> Result:
    """The early-exit decision on a full-depth trace: first early exit with entropy <= its threshold
    (THRESHOLD_NEVER = -1 never stops), else the final exit. Class = first index of the max logit."""
    thr = model.exit_thresholds_q16 if thresholds_q16 is None else list(thresholds_q16)
    n_heads = len(model.heads)
    if len(thr) != n_heads - 1:
        raise ValueError(f"{n_heads - 1} thresholds expected, got {len(thr)}")
    N = tr.logits[0].shape[0]
    exit_index = np.full(N, n_heads - 1, np.int64)
    for e in range(n_heads - 2, -1, -1):
        if thr[e] >= 0:
            stop = tr.entropy_q16[e] <= thr[e]
            exit_index[stop] = e
    logits = np.stack(tr.logits, axis=1)[np.arange(N), exit_index]
    ent = np.stack(tr.entropy_q16, axis=1)[np.arange(N), exit_index]
    scores = np.zeros_like(logits)
    for e, head in enumerate(model.heads):
        sel = exit_index == e
        if sel.any():
            scores[sel] = softmax_q15(model, head, logits[sel])
    return Result(np.argmax(logits, axis=1), exit_index, logits, ent, scores)


def infer(model: IntModel, features: np.ndarray, thresholds_q16: list[int] | None = None) -> Result:
    """Class, exit, logits and entropy per window, as bitear_model_infer computes them."""
    return decide(model, trace(model, features), thresholds_q16)


def real_logits(model: IntModel, head_index: int, logits: np.ndarray) -> np.ndarray:
    """Approximate float logits of integer logits: (s / T / 2^F) * L."""
    head = model.heads[head_index]
    return np.asarray(logits, np.float64) * head.scale / head.length / (1 << head.frac_bits)
