"""Streaming reference: the integer network fed one front-end frame at a time, computing only what is new.

The one definition of the incremental runtime (firmware/lib/bitear/bitear_stream_model.c is tested
bit-exact against it). Only "valid" (right-aligned, causal) time padding can be streamed: every
output of a conv layer depends only on a fixed set of earlier outputs of the layer below, so the
same output never has to be computed twice.

Time grid. Frames are numbered 0, 1, 2, ... as they are pushed. Every layer (stem = layer 0,
block b = layer b + 1) numbers its outputs g = 0, 1, 2, ... in stream order; output g reads the
layer below's outputs (the stem: frames) skip + g * stride + j, j < kernel, with the layer's own
`skip` and `stride` from codegen.intmodel (exactly the rows a W-frame window's output g reads;
W = stem.frames, model.student.input_frames: 49, or more with "even" context).
So the first W frames give every layer exactly the maps `reference.trace` computes on them, and,
with R_l the product of the strides of layers 0 .. l, each later output of layer l arrives every
R_l frames. A step is *aligned* when frames_fed >= W and (frames_fed - W) % R_last == 0 (R_last
= product of all strides): then every layer's out_len most recent outputs are the maps of
`reference.trace` on the last W frames and `infer()` equals `reference.infer(model, last W
frames, thresholds)` exactly.

Unaligned steps: exit e (after block b) reads the head's `length` most recent outputs of block b,
i.e. its logits and entropy are those of `reference.trace` on the W frames ending at frame
N_b - 1, N_b = the largest n <= frames_fed with (n - W) % R_b == 0 (the newest frame block b's
grid has reached); the decision compares these entropies with the thresholds as usual. Deeper
exits may thus speak for a slightly older window than shallower ones (by less than R_b frames).

State: the stem keeps its last `kernel` input frames; every layer keeps a ring of its most recent
outputs (out_len + next stride - 1: enough to recompute the next layer's whole window at any
phase); each head keeps running counts of -1 per channel over its block's `length` most recent
outputs (the newest added, the one leaving subtracted). `push_frame` computes the stem's new
output (the stem is always needed); `infer` brings the blocks up to date in order, stopping after
the exit taken: blocks above are not computed and catch up lazily at the next infer that needs
them, from the ring below (a block that fell more than out_len outputs behind recomputes only its
whole window and recounts its head).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from codegen import intmodel as im
from codegen import reference
from codegen.intmodel import IntModel
from codegen.reference import Result


@dataclass
class StreamStats:
    """Work done since construction / reset: outputs computed per layer (stem first), catch-ups."""

    outputs: list[int] = field(default_factory=list)   # per layer, outputs (time steps) computed
    catch_ups: int = 0          # a layer computed outputs that were already due at an earlier infer
    window_recomputes: int = 0  # a layer fell >= out_len behind and recomputed its whole window
    inferences: int = 0

    @property
    def total_outputs(self) -> int:
        return sum(self.outputs)


def streamable(model: IntModel) -> bool:
    """True for "valid" time padding (no padding rows in any layer): the only streamable kind."""
    return model.stem.pad == 0 and all(b.pad == 0 for b in model.blocks)


def ring_capacities(model: IntModel) -> list[int]:
    """Outputs kept per layer (stem first): out_len + (stride of the next layer - 1)."""
    layers = [model.stem, *model.blocks]
    return [layer.out_len + (layers[i + 1].stride - 1 if i + 1 < len(layers) else 0)
            for i, layer in enumerate(layers)]


def due_outputs(kernel: int, stride: int, skip: int, available: int) -> int:
    """How many outputs a layer can have computed once `available` inputs exist."""
    return (available - skip - kernel) // stride + 1 if available >= skip + kernel else 0


class StreamingModel:
    """The integer network over a stream of frames (see the module docstring for the contract)."""

    def __init__(self, model: IntModel, thresholds_q16: list[int] | None = None):
        if not streamable(model):
            raise ValueError(f"model with time padding {model.time_padding!r} is not streamable: "
                             "only 'valid' (causal, unpadded) convolutions can run on a stream")
        self.model = model
        self.layers = [model.stem, *model.blocks]
        self.caps = ring_capacities(model)
        self.set_thresholds(model.exit_thresholds_q16 if thresholds_q16 is None else thresholds_q16)
        self.reset()

    # ---- configuration ------------------------------------------------------------------------

    def set_thresholds(self, thresholds_q16: list[int]) -> None:
        """One Q16 threshold per early exit (THRESHOLD_NEVER = -1 never stops there)."""
        thr = [int(t) for t in thresholds_q16]
        if len(thr) != len(self.model.heads) - 1:
            raise ValueError(f"{len(self.model.heads) - 1} thresholds expected, got {len(thr)}")
        if any(t < im.THRESHOLD_NEVER or t > im.Q16 for t in thr):
            raise ValueError(f"thresholds must lie in [{im.THRESHOLD_NEVER}, {im.Q16}], got {thr}")
        self.thresholds_q16 = thr

    def reset(self) -> None:
        """Forget the stream (frames, rings, head counts) and the statistics."""
        s = self.model.stem
        self.frames_fed = 0
        self.frames = np.zeros((s.kernel, s.bins), np.int64)        # ring of the last `kernel` frames
        self.rings = [np.zeros((cap, layer.channels), np.uint8) for cap, layer in zip(self.caps, self.layers)]
        self.produced = [0] * len(self.layers)                       # outputs computed, per layer
        self.counts = [np.zeros(h.channels, np.int64) for h in self.model.heads]
        self.counted = [0] * len(self.model.heads)                   # outputs in the running counts
        self._infer_frames = 0                                       # frames_fed at the last infer
        self.stats = StreamStats(outputs=[0] * len(self.layers))

    # ---- the stream -----------------------------------------------------------------------------

    def push_frame(self, frame: np.ndarray) -> None:
        """Append one front-end frame (bins int8 values); computes the stem's output when one is due."""
        s = self.model.stem
        x = np.asarray(frame)
        if x.shape != (s.bins,):
            raise ValueError(f"a frame is {s.bins} features, got shape {x.shape}")
        if x.min() < -128 or x.max() > 127:
            raise ValueError("features must be int8 values")
        self.frames[self.frames_fed % s.kernel] = x
        self.frames_fed += 1
        if self.due(0) > self.produced[0]:  # at most one: the stem is never behind
            g = self.produced[0]
            first = s.skip + g * s.stride  # frames first .. first + kernel - 1 = the last `kernel` fed
            rows = self.frames[[(first + j) % s.kernel for j in range(s.kernel)]]
            one = dataclasses.replace(s, frames=s.kernel, out_len=1, skip=0)
            _, bits = reference.stem_forward(one, rows[None])
            self._store(0, g, bits[0, 0])

    def due(self, layer: int, frames_fed: int | None = None) -> int:
        """Outputs layer `layer` (0 = stem) has when every layer is up to date after frames_fed frames."""
        n = self.frames_fed if frames_fed is None else frames_fed
        for lay in self.layers[:layer + 1]:
            n = due_outputs(lay.kernel, lay.stride, lay.skip, n)
        return n

    def infer(self) -> Result:
        """The early-exit decision on the stream (batch of one, fields as reference.infer).
        ValueError before the first W frames."""
        m = self.model
        if self.frames_fed < m.stem.frames:
            raise ValueError(f"infer needs at least {m.stem.frames} frames, {self.frames_fed} pushed")
        thr = self.thresholds_q16
        last = len(m.heads) - 1
        for b, block in enumerate(m.blocks):
            self._catch_up(b + 1)
            if block.head is None:
                continue
            e = block.head
            head = m.heads[e]
            logits = (head.bias_folded - (2 << head.frac_bits) * (head.weights.astype(np.int64) @ self.counts[e]))[None]
            ent = reference.entropy_q16(m, head, logits)
            if e == last or (thr[e] >= 0 and ent[0] <= thr[e]):
                break
        self._infer_frames = self.frames_fed
        self.stats.inferences += 1
        scores = reference.softmax_q15(m, head, logits)
        return Result(np.argmax(logits, axis=1), np.array([e], np.int64), logits, ent, scores)

    def layer_map(self, layer: int) -> np.ndarray:
        """The out_len most recent outputs of a layer, oldest first (N.B. stale if it was skipped)."""
        lay, g = self.layers[layer], self.produced[layer]
        if g < lay.out_len:
            raise ValueError(f"layer {layer} has {g} outputs, fewer than its window of {lay.out_len}")
        return self.rings[layer][[i % self.caps[layer] for i in range(g - lay.out_len, g)]]

    # ---- internals ------------------------------------------------------------------------------

    def _store(self, layer: int, g: int, bits: np.ndarray) -> None:
        """Output g of a layer into its ring; its head's running counts follow."""
        cap, lay = self.caps[layer], self.layers[layer]
        e = lay.head if layer > 0 else None
        if e is not None:
            pool = self.model.heads[e].length
            if self.counted[e] == pool:  # the output leaving the pooling window
                self.counts[e] -= self.rings[layer][(g - pool) % cap]
            else:
                self.counted[e] += 1
            self.counts[e] += bits
        self.rings[layer][g % cap] = bits
        self.produced[layer] = g + 1
        self.stats.outputs[layer] += 1

    def _catch_up(self, layer: int) -> None:
        """Compute every output of a block that the layer below now allows (the latter is current)."""
        block = self.layers[layer]
        target = due_outputs(block.kernel, block.stride, block.skip, self.produced[layer - 1])
        start = self.produced[layer]
        if target <= start:
            return
        if start < self.due(layer, self._infer_frames):
            self.stats.catch_ups += 1
        if target - start > block.out_len:  # fell out of the window: recompute it, recount the head
            start = target - block.out_len
            self.stats.window_recomputes += 1
            if block.head is not None:
                self.counts[block.head][:] = 0
                self.counted[block.head] = 0
        below, cap = self.rings[layer - 1], self.caps[layer - 1]
        first = block.skip + start * block.stride
        n_in = (target - 1 - start) * block.stride + block.kernel
        rows = below[[(first + i) % cap for i in range(n_in)]]
        span = dataclasses.replace(block, in_len=n_in, out_len=target - start, skip=0)
        _, bits = reference.block_forward(span, rows[None])
        for i, g in enumerate(range(start, target)):
            self._store(layer, g, bits[0, i])


def stream_results(model: IntModel, frames: np.ndarray, infer_after: list[int],
                   thresholds_q16: list[int] | None = None) -> Result:
    """A fresh StreamingModel fed `frames` ((n, bins) int8), inferring once the number of frames
    pushed reaches each entry of `infer_after` (ascending, >= W): the results as one batch, in
    the layout of reference.infer. What the firmware's bitear_stream reports at those hops."""
    sm = StreamingModel(model, thresholds_q16)
    results, pushed = [], 0
    for target in infer_after:
        while pushed < target:
            sm.push_frame(frames[pushed])
            pushed += 1
        results.append(sm.infer())
    if not results:
        raise ValueError("no inference asked for")
    return Result(*(np.concatenate([getattr(r, f.name) for r in results]) for f in dataclasses.fields(Result)))
