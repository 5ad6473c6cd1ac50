"""The binary student network: int8 stem, binary temporal conv blocks, early-exit heads.

Layout (channels over the 40 mel bins, convolution over time, like TC-ResNet):

    int8 features (49 frames x 40 bins)
      -> stem: int8 conv1d k x 40 -> C0, stride s, batch norm, sign      (int8 weights, the only non-binary conv)
      -> block i: binary conv1d k x C -> C', stride s, batch norm, sign  (+-1 weights and activations, XNOR/popcount)
         [exit head after a block: mean over time of the +-1 map -> int8 fully connected -> 12 logits]
      -> the last block always carries the final head

Time padding (config "time_padding"):
  * "same" (the shipped kws12): pad = kernel // 2 on both sides.
  * "valid" (streamable, for incremental execution): no padding; every layer is a right-aligned valid
    convolution: its last output ends on its last input frame, and the (L - k) % stride oldest input
    frames that no output would cover are skipped. Each output at time t depends only on input frames
    up to t, and an exit head averages its block's outputs, which all lie in the window: an incremental
    runtime can reproduce a full-window inference exactly. Not shipped yet: with the 1 s window, valid
    convolutions weight the window's centre over its edges, and in GPU probes they detected 10-20
    points fewer keywords on streams than "same" at equal clip accuracy (README ablation table).

Context (config "context", valid padding only):
  * "window" (default): the input is the `frames` frames the heads average over, nothing more.
  * "even": the input is `frames` + the receptive field of the last block - 1 frames
    (`input_frames`), and every exit head averages only its block's most recent outputs whose last
    input frame lies in the last `frames` frames (`head_pool`: (frames - 1) // cumulative stride + 1),
    so every pooled output is computed from real audio (microWakeWord's `spectrogram_slices_dropped`,
    kws_streaming's streaming global pooling over the training length). Derived, never hand-typed.

Numerics shared with `codegen/` (which must reproduce them exactly in integers):
  * sign(0) = +1; with "same" padding the binary conv pads time with +1 (bit 0) and the stem with 0.
  * stem weights are int8 per output channel (symmetric, scale = max|w| / 127) inside training
    already (straight-through), so the float stem sums are exact integers times a scale.
  * head weights are int8 with one scale per head; logits = scale * (q_w . mean) + bias.
  * batch norm + sign fold into one integer threshold per channel in codegen.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import numpy as np
from tinygrad import Tensor, nn

from model.facts import LABELS  # the class order, typed once

TIME_PADDINGS = ("valid", "same")
CONTEXTS = ("window", "even")

DEFAULT_CONFIG: dict = {
    "frames": 49,
    "time_padding": "same",
    "bins": 40,
    "classes": len(LABELS),
    "stem": {"kernel": 3, "stride": 2, "channels": 64},
    "blocks": [
        {"kernel": 5, "stride": 2, "channels": 64, "exit": True},
        {"kernel": 5, "stride": 1, "channels": 128, "exit": True},
        {"kernel": 3, "stride": 2, "channels": 128, "exit": True},
    ],
}


def time_padding(config: dict) -> str:
    """The config's time padding; checkpoints written before the field existed are "same"."""
    return config.get("time_padding", "same")


def context(config: dict) -> str:
    """The config's input context; configs written before the field existed are "window"."""
    return config.get("context", "window")


def _layers(config: dict) -> list[dict]:
    return [config["stem"], *config["blocks"]]


def receptive_field(config: dict) -> int:
    """Input frames one output of the last block reads (valid convolutions)."""
    field, step = 1, 1
    for layer in _layers(config):
        field += (layer["kernel"] - 1) * step
        step *= layer["stride"]
    return field


def input_frames(config: dict) -> int:
    """Frames the network reads: `frames`, plus the receptive field - 1 with "even" context."""
    return config["frames"] + (receptive_field(config) - 1 if context(config) == "even" else 0)


def head_pool(config: dict) -> list[int]:
    """Per exit head, how many of its block's most recent outputs it averages: all of them with
    "window" context; with "even" context those whose last input frame lies in the last `frames`."""
    length, step, pools = input_frames(config), config["stem"]["stride"], []
    padding = time_padding(config)
    length = conv_output_length(length, config["stem"]["kernel"], config["stem"]["stride"], padding)
    for block in config["blocks"]:
        length = conv_output_length(length, block["kernel"], block["stride"], padding)
        step *= block["stride"]
        if block.get("exit"):
            pools.append(length if context(config) == "window" else (config["frames"] - 1) // step + 1)
    return pools


def conv_pad(kernel: int, padding: str) -> int:
    """Padding rows on each side of the time axis."""
    return kernel // 2 if padding == "same" else 0


def conv_skip(length: int, kernel: int, stride: int, padding: str) -> int:
    """Oldest input frames a right-aligned valid convolution skips ((L - k) % stride); 0 for "same"."""
    return (length - kernel) % stride if padding == "valid" else 0


def conv_output_length(length: int, kernel: int, stride: int, padding: str = "same") -> int:
    """Output length of a strided 1-D convolution over `length` frames with this time padding."""
    pad = conv_pad(kernel, padding)
    return (length + 2 * pad - kernel) // stride + 1


def validate_config(config: dict) -> None:
    """Raise ValueError naming the field when a student config cannot be built or packed into 32-bit words."""
    for key in ("frames", "bins", "classes", "stem", "blocks"):
        if key not in config:
            raise ValueError(f"student config: missing field '{key}'")
    if not config["blocks"]:
        raise ValueError("student config: 'blocks' is empty")
    if time_padding(config) not in TIME_PADDINGS:
        raise ValueError(f"student config: time_padding must be one of {TIME_PADDINGS}, found {config['time_padding']!r}")
    if context(config) not in CONTEXTS:
        raise ValueError(f"student config: context must be one of {CONTEXTS}, found {config['context']!r}")
    if context(config) == "even" and time_padding(config) != "valid":
        raise ValueError("student config: context 'even' needs time_padding 'valid'")
    if not config["blocks"][-1].get("exit"):
        raise ValueError("student config: the last block must carry the final head ('exit': true)")
    for name, layer in [("stem", config["stem"])] + [(f"blocks[{i}]", b) for i, b in enumerate(config["blocks"])]:
        if layer["channels"] % 32:
            raise ValueError(f"student config: {name}.channels must be a multiple of 32, found {layer['channels']}")
        if layer["kernel"] % 2 == 0:
            raise ValueError(f"student config: {name}.kernel must be odd, found {layer['kernel']}")
    length, padding = input_frames(config), time_padding(config)
    for name, layer in [("stem", config["stem"])] + [(f"blocks[{i}]", b) for i, b in enumerate(config["blocks"])]:
        length = conv_output_length(length, layer["kernel"], layer["stride"], padding)
        if length < 1:
            raise ValueError(f"student config: {name} has no output frame left ({config['frames']} input frames)")


def binarize_ste(x: Tensor) -> Tensor:
    """+-1 in the forward pass (sign(0) = +1), straight-through gradient 1 where |x| <= 1, else 0."""
    binary = (x >= 0).where(1.0, -1.0)
    clipped = x.clip(-1.0, 1.0)
    return binary.detach() + (clipped - clipped.detach())


def quantize_int8_ste(w: Tensor, scale: Tensor) -> Tensor:
    """w / scale rounded to integers in [-127, 127] in the forward pass, identity gradient (scale held fixed)."""
    scaled = w / scale.detach()
    q = scaled.round().clip(-127, 127)
    return q.detach() + (scaled - scaled.detach())


def int8_scale(w: Tensor, axis: tuple[int, ...] | None) -> Tensor:
    """Symmetric int8 scale: max |w| / 127 over `axis` (all when None), never zero."""
    m = w.abs().max() if axis is None else w.abs().max(axis=axis, keepdim=True)
    return m.maximum(1e-8) / 127.0


class BatchNorm:
    """Batch norm over channels of an (N, C, 1, T) map; a thin wrapper so names in the state dict stay short."""

    def __init__(self, channels: int):
        self.bn = nn.BatchNorm(channels, eps=1e-3, momentum=0.05)

    def __call__(self, x: Tensor) -> Tensor:
        return self.bn(x)


class Stem:
    """int8 conv1d over time, all mel bins as input channels, followed by batch norm."""

    def __init__(self, bins: int, channels: int, kernel: int, stride: int, padding: str):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.weight = Tensor.kaiming_uniform(channels, bins, 1, kernel)
        self.norm = BatchNorm(channels)

    def __call__(self, x: Tensor) -> Tensor:
        scale = int8_scale(self.weight, axis=(1, 2, 3))
        q = quantize_int8_ste(self.weight, scale)
        pad = conv_pad(self.kernel, self.padding)
        x = x[..., conv_skip(x.shape[-1], self.kernel, self.stride, self.padding):]
        y = x.conv2d(q, stride=(1, self.stride), padding=(pad, pad, 0, 0)) * scale.reshape(1, -1, 1, 1).detach()
        return self.norm(y)


class BinaryConv:
    """Binary conv1d over time (+-1 weights and inputs; "same" padding pads with +1) followed by batch norm."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, padding: str):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.weight = Tensor.uniform(cout, cin, 1, kernel, low=-0.1, high=0.1)
        self.norm = BatchNorm(cout)

    def __call__(self, x: Tensor, binary_weights: bool = True) -> Tensor:
        w = binarize_ste(self.weight) if binary_weights else self.weight.clip(-1.0, 1.0)
        pad = conv_pad(self.kernel, self.padding)
        x = x[..., conv_skip(x.shape[-1], self.kernel, self.stride, self.padding):]
        if pad:
            x = x.pad(((0, 0), (0, 0), (0, 0), (pad, pad)), value=1.0)
        return self.norm(x.conv2d(w, stride=(1, self.stride)))


class ExitHead:
    """Mean over the `pool` most recent time steps of the +-1 map, then an int8 fully connected layer
    (one scale per head) to the logits."""

    def __init__(self, channels: int, classes: int, pool: int):
        self.pool = pool
        self.weight = Tensor.uniform(classes, channels, low=-0.1, high=0.1)
        self.bias = Tensor.zeros(classes)

    def __call__(self, x: Tensor) -> Tensor:
        return self.logits(self.mean(x))

    def mean(self, x: Tensor) -> Tensor:
        """(N, C, 1, T) +-1 map -> (N, C) mean over its last `pool` steps."""
        return x[..., x.shape[-1] - self.pool:].mean(axis=(2, 3))

    def logits(self, mean: Tensor) -> Tensor:
        """(N, C) time-averaged +-1 map -> (N, classes) logits."""
        scale = int8_scale(self.weight, axis=None)
        q = quantize_int8_ste(self.weight, scale)
        return (mean @ q.T) * scale.detach() + self.bias


@dataclass
class LayerCost:
    name: str
    kind: str  # "int8" | "binary" | "head"
    in_len: int
    out_len: int
    cin: int
    cout: int
    kernel: int
    macs: int
    weight_bits: int


class BinaryStudent:
    """The student: `student(features)` returns one logits tensor per exit, shallowest first."""

    def __init__(self, config: dict | None = None):
        self.config = copy.deepcopy(config or DEFAULT_CONFIG)
        validate_config(self.config)
        c = self.config
        padding = time_padding(c)
        self.stem = Stem(c["bins"], c["stem"]["channels"], c["stem"]["kernel"], c["stem"]["stride"], padding)
        self.blocks: list[BinaryConv] = []
        self.heads: list[ExitHead] = []
        cin = c["stem"]["channels"]
        pools = iter(head_pool(c))
        for block in c["blocks"]:
            self.blocks.append(BinaryConv(cin, block["channels"], block["kernel"], block["stride"], padding))
            if block.get("exit"):
                self.heads.append(ExitHead(block["channels"], c["classes"], next(pools)))
            cin = block["channels"]

    def __call__(self, features: Tensor, binary_act: bool = True, binary_weights: bool = True) -> list[Tensor]:
        """features: (N, input_frames(config), bins) raw int8 feature values as floats."""
        return [logits for _, logits in self.exits(features, binary_act, binary_weights)]

    def exits(self, features: Tensor, binary_act: bool = True, binary_weights: bool = True) -> list[tuple[Tensor, Tensor]]:
        """Per exit, shallowest first: (time-averaged +-1 map (N, C) that the head reads, logits (N, classes))."""
        act = binarize_ste if binary_act else (lambda t: t.clip(-1.0, 1.0))
        x = features.permute(0, 2, 1).unsqueeze(2)  # (N, bins, 1, frames)
        x = act(self.stem(x))
        outputs, heads = [], iter(self.heads)
        for block, spec in zip(self.blocks, self.config["blocks"]):
            x = act(block(x, binary_weights))
            if spec.get("exit"):
                head = next(heads)
                mean = head.mean(x)
                outputs.append((mean, head.logits(mean)))
        return outputs

    def parameters(self) -> list[Tensor]:
        """Trainable tensors (batch-norm running statistics and counters excluded)."""
        state = nn.state.get_state_dict(self)
        return [t for name, t in state.items() if "running_" not in name and "num_batches" not in name]

    def running_statistics(self) -> list[Tensor]:
        """Batch-norm running means/variances: updated lazily in the forward pass, so a training step must realize them."""
        state = nn.state.get_state_dict(self)
        return [t for name, t in state.items() if "running_" in name]

    def latent_weights(self) -> list[Tensor]:
        """Latent real weights of the binary convs (clipped to [-1, 1] after each step)."""
        return [b.weight for b in self.blocks]

    def layer_costs(self) -> list[LayerCost]:
        """Per layer MACs and weight bits, in execution order (heads where they run)."""
        c = self.config
        padding = time_padding(c)
        costs: list[LayerCost] = []
        length = input_frames(c)
        out = conv_output_length(length, c["stem"]["kernel"], c["stem"]["stride"], padding)
        k, cout = c["stem"]["kernel"], c["stem"]["channels"]
        costs.append(LayerCost("stem", "int8", length, out, c["bins"], cout, k, out * k * c["bins"] * cout, 8 * k * c["bins"] * cout))
        length, cin = out, cout
        head = 0
        for i, block in enumerate(c["blocks"]):
            out = conv_output_length(length, block["kernel"], block["stride"], padding)
            k, cout = block["kernel"], block["channels"]
            costs.append(LayerCost(f"block{i}", "binary", length, out, cin, cout, k, out * k * cin * cout, k * cin * cout))
            if block.get("exit"):
                costs.append(LayerCost(f"exit{head}", "head", out, 1, cout, c["classes"], 1, cout * c["classes"], 8 * cout * c["classes"]))
                head += 1
            length, cin = out, cout
        return costs

    def binary_macs_to_exit(self) -> list[int]:
        """Cumulative binary MACs spent when stopping at each exit (the last one is full depth)."""
        total, result = 0, []
        for cost in self.layer_costs():
            if cost.kind == "binary":
                total += cost.macs
            elif cost.kind == "head":
                result.append(total)
        return result


def format_cost_table(student: BinaryStudent) -> str:
    """A Larq-style summary: per layer shape, MACs and weight bits/bytes, and the totals."""
    rows = ["layer    kind    in->out len   cin->cout  k     MACs    weight bits  bytes"]
    for c in student.layer_costs():
        rows.append(f"{c.name:8} {c.kind:7} {c.in_len:4}->{c.out_len:<4}   {c.cin:4}->{c.cout:<4} {c.kernel:2} {c.macs:9,} {c.weight_bits:10,} {c.weight_bits // 8:7,}")
    costs = student.layer_costs()
    binary = sum(c.macs for c in costs if c.kind == "binary")
    int8 = sum(c.macs for c in costs if c.kind != "binary")
    bits = sum(c.weight_bits for c in costs)
    rows.append(f"total: {binary:,} binary MACs, {int8:,} int8 MACs, {bits // 8:,} weight bytes")
    rows.append("binary MACs to each exit: " + ", ".join(f"{m:,}" for m in student.binary_macs_to_exit()))
    return "\n".join(rows)


def to_numpy_state(student: BinaryStudent) -> dict[str, np.ndarray]:
    """All tensors of the student as numpy arrays, by state-dict name."""
    return {k: v.numpy() for k, v in nn.state.get_state_dict(student).items()}


def config_json(config: dict) -> str:
    return json.dumps(config, sort_keys=True)


if __name__ == "__main__":
    print(format_cost_table(BinaryStudent()))
