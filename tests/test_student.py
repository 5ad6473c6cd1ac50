"""The binary student's building blocks: binarizer (output and gradient mask), int8 quantizer, shapes, costs, checkpoints."""
import json

import numpy as np
import pytest
from tinygrad import Tensor

from model.checkpoint import load_checkpoint, read_checkpoint, read_safetensors, save_checkpoint
from model.errors import BitearError
from model.student import (DEFAULT_CONFIG, LABELS, BinaryStudent, binarize_ste, conv_output_length, conv_skip, head_pool,
                           input_frames, quantize_int8_ste, receptive_field, time_padding, validate_config)


def test_binarize_forward_is_exactly_plus_minus_one_with_sign_of_zero_positive():
    x = Tensor([-2.0, -1.0, -0.5, -0.0, 0.0, 0.25, 1.0, 3.0])
    assert binarize_ste(x).numpy().tolist() == [-1, -1, -1, 1, 1, 1, 1, 1]


def test_binarize_gradient_is_one_inside_unit_interval_and_zero_outside():
    x = Tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5])
    (grad,) = (binarize_ste(x) * Tensor([1.0, 2, 3, 4, 5, 6, 7])).sum().gradient(x)
    # d/dx clip(x, -1, 1) is 1 on [-1, 1] (tinygrad's clip passes the gradient at the bounds) and 0 beyond.
    assert grad.numpy().tolist() == [0, 2, 3, 4, 5, 6, 0]


def test_quantize_int8_rounds_and_clips_with_identity_gradient():
    w = Tensor([-300.0, -1.4, -0.5, 0.5, 1.6, 127.4])
    q = quantize_int8_ste(w, Tensor(1.0))
    assert q.numpy().tolist() == [-127, -1, -0.0, 0.0, 2, 127]
    (grad,) = q.sum().gradient(w)
    assert grad.numpy().tolist() == [1] * 6


def test_output_shapes_and_cost_table_agree_with_conv_arithmetic():
    s = BinaryStudent()
    x = Tensor(np.random.default_rng(0).integers(-128, 128, (3, 49, 40)).astype(np.float32))
    outs = s(x)
    assert len(outs) == len(s.heads) and all(o.shape == (3, len(LABELS)) for o in outs)
    convs = [c for c in s.layer_costs() if c.kind != "head"]
    specs = [s.config["stem"]] + s.config["blocks"]
    length = s.config["frames"]
    h = x.permute(0, 2, 1).unsqueeze(2)
    layers = [s.stem] + s.blocks
    for cost, spec, layer in zip(convs, specs, layers):
        h = binarize_ste(layer(h))
        assert cost.in_len == length and cost.out_len == h.shape[3] == conv_output_length(length, spec["kernel"], spec["stride"], time_padding(s.config))
        assert cost.macs == cost.out_len * cost.kernel * cost.cin * cost.cout
        length = cost.out_len
    macs = s.binary_macs_to_exit()
    assert macs == sorted(macs) and macs[-1] == sum(c.macs for c in convs if c.kind == "binary")


@pytest.mark.parametrize("first_changed", [48, 40, 30])
def test_valid_padding_is_causal_every_output_depends_only_on_frames_up_to_its_end(first_changed):
    s = BinaryStudent({**DEFAULT_CONFIG, "time_padding": "valid"})
    assert time_padding(s.config) == "valid"
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (2, 49, 40)).astype(np.float32)
    y = x.copy()
    y[:, first_changed:] = rng.integers(-128, 128, (2, 49 - first_changed, 40))
    hx, hy = (Tensor(a).permute(0, 2, 1).unsqueeze(2) for a in (x, y))
    ends = np.arange(49)  # the newest input frame each position of the current map depends on
    for spec, layer in zip([s.config["stem"]] + s.config["blocks"], [s.stem] + s.blocks):
        k, stride = spec["kernel"], spec["stride"]
        skip = conv_skip(len(ends), k, stride, "valid")
        ends = ends[skip + k - 1::stride]
        hx, hy = binarize_ste(layer(hx)), binarize_ste(layer(hy))
        assert hx.shape[3] == len(ends) and ends[-1] == 48  # the newest output always sees the newest frame
        old = ends < first_changed
        np.testing.assert_array_equal(hx.numpy()[..., old], hy.numpy()[..., old])
        assert not np.array_equal(hx.numpy()[..., ~old], hy.numpy()[..., ~old])


def test_binary_block_really_binarizes_its_input_map():
    s = BinaryStudent()
    x = Tensor(np.random.default_rng(1).integers(-128, 128, (2, 49, 40)).astype(np.float32))
    stem_out = s.stem(x.permute(0, 2, 1).unsqueeze(2))
    assert set(np.unique(binarize_ste(stem_out).numpy())) <= {-1.0, 1.0}


@pytest.mark.parametrize("field,value,message", [
    ("blocks", [], "'blocks' is empty"),
    ("stem", {"kernel": 3, "stride": 2, "channels": 48}, "multiple of 32"),
])
def test_bad_config_is_named(field, value, message):
    cfg = json.loads(json.dumps(BinaryStudent().config))
    cfg[field] = value
    with pytest.raises(ValueError, match=message):
        validate_config(cfg)


def test_bad_context_is_named():
    with pytest.raises(ValueError, match="context must be one of"):
        validate_config(dict(DEFAULT_CONFIG, time_padding="valid", context="wide"))
    with pytest.raises(ValueError, match="needs time_padding 'valid'"):
        validate_config(dict(DEFAULT_CONFIG, time_padding="same", context="even"))


def _end_frames(config: dict) -> list[list[int]]:
    """Per exit head, the last input frame of each of its block's outputs (independent of model.student:
    an output's last frame is found by perturbing one frame at a time through the real network)."""
    student = BinaryStudent(config)
    F = input_frames(config)
    base = [m.numpy() for m in _block_maps(student, np.zeros((1, F, 40), np.float32))]
    ends: list[list[int]] = [[-1] * b.shape[-1] for b in base]
    for f in range(F):
        x = np.zeros((1, F, 40), np.float32)
        x[0, f] = 127.0
        for e, m in enumerate(_block_maps(student, x)):
            changed = np.flatnonzero((m.numpy() != base[e]).any(axis=(0, 1, 2)))
            for t in changed:
                ends[e][t] = max(ends[e][t], f)
    return ends


def _block_maps(student: BinaryStudent, x: np.ndarray) -> list:
    """The +-1 maps of the blocks that carry a head, without batch norm (identity), so any input change shows."""
    h = Tensor(x).permute(0, 2, 1).unsqueeze(2)
    h = h.conv2d(student.stem.weight.abs() + 0.01, stride=(1, student.stem.stride))
    maps = []
    for block, spec in zip(student.blocks, student.config["blocks"]):
        h = h.conv2d(block.weight.abs() + 0.01, stride=(1, block.stride))
        if spec.get("exit"):
            maps.append(h)
    return maps


def test_even_context_reads_the_receptive_field_more_and_heads_pool_outputs_ending_in_the_last_second():
    valid = dict(DEFAULT_CONFIG, time_padding="valid")
    even = dict(valid, context="even")
    assert receptive_field(valid) == 1 + 2 * 1 + 4 * 2 + 4 * 4 + 2 * 4  # kernels 3, 5, 5, 3; strides 2, 2, 1, 2
    assert input_frames(valid) == 49 and input_frames(even) == 49 + 35 - 1
    assert head_pool(valid) == [10, 6, 2]              # every output of a 49-frame window
    assert head_pool(even) == [13, 13, 7]
    F = input_frames(even)
    for pool, ends in zip(head_pool(even), _end_frames(even)):
        assert all(e >= F - 49 for e in ends[-pool:])   # every pooled output ends in the last second
        assert len(ends) == pool or ends[-pool - 1] < F - 49  # and no output that does is left out
        assert ends[-1] == F - 1
    student = BinaryStudent(even)
    x = np.random.default_rng(0).integers(-128, 128, (2, F, 40)).astype(np.float32)
    assert [o.shape for o in student(Tensor(x))] == [(2, 12)] * 3


def _meta():
    return {"labels": LABELS, "frontend": {}, "exit_thresholds": [0.2, 0.2]}


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    s = BinaryStudent()
    path = tmp_path / "s.safetensors"
    save_checkpoint(path, s, _meta())
    s2, meta = load_checkpoint(path)
    assert meta["exit_thresholds"] == [0.2, 0.2] and meta["config"] == s.config
    x = Tensor(np.random.default_rng(2).integers(-128, 128, (4, 49, 40)).astype(np.float32))
    for a, b in zip(s(x), s2(x)):
        assert np.array_equal(a.numpy(), b.numpy())


def test_corrupt_truncated_and_foreign_checkpoints_give_clear_errors(tmp_path):
    s = BinaryStudent()
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, s, _meta())
    blob = good.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(BitearError, match="trunc.safetensors.*(truncated|outside)"):
        read_checkpoint(tmp_path / "trunc.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(BitearError, match="not valid JSON"):
        read_checkpoint(tmp_path / "junk.safetensors")
    from tinygrad.nn.state import safe_save
    safe_save({"w": Tensor.ones(3).contiguous()}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(BitearError, match="not a bitear student checkpoint"):
        read_checkpoint(tmp_path / "foreign.safetensors")
    with pytest.raises(BitearError, match="file not found"):
        read_checkpoint(tmp_path / "missing.safetensors")


def test_checkpoint_with_a_stray_tensor_is_refused(tmp_path):
    # e.g. a JIT's captured output swept into the state dict: not part of the network, so not ours to load
    from tinygrad.nn.state import get_state_dict, safe_save
    from model.checkpoint import METADATA_KEY

    good = tmp_path / "good.safetensors"
    save_checkpoint(good, BinaryStudent(), _meta())
    _, raw = read_safetensors(good)
    state = {k: v.contiguous() for k, v in get_state_dict(BinaryStudent()).items()}
    state["_eval_jit.captured.ret.0"] = Tensor.zeros(4, 12).contiguous()
    safe_save(state, str(tmp_path / "stray.safetensors"), metadata={METADATA_KEY: raw[METADATA_KEY]})
    with pytest.raises(BitearError, match="stray.safetensors: unexpected tensor '_eval_jit.captured.ret.0'"):
        read_checkpoint(tmp_path / "stray.safetensors")
