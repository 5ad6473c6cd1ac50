"""host/evaluate.py and the evaluation build (env qemu_m4_eval): the IntModel read back from
generated C tables equals codegen's; a small generated Speech Commands folder through the
emulated Cortex-M4 agrees with the Python integer reference on every clip (label, exit, entropy,
logits, scores); the build's stream mode gives, result by result, what the reference computes on
the streaming front end's windows and, event by event, what host.detector makes of those scores;
user errors are one line and exit code 2."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from codegen import generate, reference, testing
from codegen.__main__ import load
from host import evaluate
from host.detector import DetectorParams, detect
from model.audio import write_wav
from model.errors import BitearError
from model.student import DEFAULT_CONFIG
from codegen.tables import read_model

pytestmark = pytest.mark.timeout(300)
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm not installed")
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")


@pytest.fixture(scope="module")
def eval_elf():
    return evaluate.build_eval_firmware()


READBACK_CONFIGS = {
    "valid": dict(DEFAULT_CONFIG, time_padding="valid"),
    "same": dict(DEFAULT_CONFIG, time_padding="same"),
    "10 classes, 2 blocks": {"frames": 49, "bins": 40, "classes": 10, "time_padding": "valid",
                             "stem": {"kernel": 3, "stride": 3, "channels": 32},
                             "blocks": [{"kernel": 3, "stride": 2, "channels": 32, "exit": False},
                                        {"kernel": 5, "stride": 1, "channels": 64, "exit": True}]},
}


@pytest.mark.parametrize("what", list(READBACK_CONFIGS))
def test_read_model_reads_back_what_codegen_wrote(tmp_path, what):
    config = READBACK_CONFIGS[what]
    thresholds = [] if config and config["classes"] == 10 else [0.35, 0.35]
    model, _ = load(testing.cached_random_checkpoint(seed=0, exit_thresholds=thresholds, config=config))
    generate.write(model, tmp_path)
    back = read_model(tmp_path)
    assert back.labels == model.labels and back.checkpoint_sha256 == model.checkpoint_sha256
    assert back.exit_thresholds_q16 == model.exit_thresholds_q16 and back.config == model.config
    s, t = back.stem, model.stem
    assert (s.frames, s.kernel, s.stride, s.out_len, s.pad, s.skip) == (t.frames, t.kernel, t.stride, t.out_len, t.pad, t.skip)
    for name in ("weights", "thresholds", "flips"):
        assert np.array_equal(getattr(s, name), getattr(t, name)), f"stem {name}"
    for a, b in zip(back.blocks, model.blocks, strict=True):
        assert (a.in_len, a.cin, a.kernel, a.stride, a.out_len, a.channels, a.head, a.pad, a.skip) == \
            (b.in_len, b.cin, b.kernel, b.stride, b.out_len, b.channels, b.head, b.pad, b.skip)
        for name in ("signs", "thresholds", "flips"):
            assert np.array_equal(getattr(a, name), getattr(b, name)), f"block {a.index} {name}"
    for a, b in zip(back.heads, model.heads, strict=True):
        assert (a.block, a.length, a.channels, a.frac_bits, a.mult, a.shift) == \
            (b.block, b.length, b.channels, b.frac_bits, b.mult, b.shift)
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias_folded, b.bias_folded)
    x = testing.random_features(np.random.default_rng(5), 16)
    r1, r2 = reference.infer(back, x), reference.infer(model, x)
    assert np.array_equal(r1.logits, r2.logits) and np.array_equal(r1.exit_index, r2.exit_index)


def test_read_model_refuses_a_tampered_or_missing_arrays_sidecar(tmp_path):
    """The npz must be the one the manifest describes (sha256); else one error naming the file and
    the command that regenerates it. A consistent manifest over an npz that lacks an array is named too."""
    import hashlib
    import io

    from codegen import manifest
    model, _ = load(testing.cached_random_checkpoint(seed=0, exit_thresholds=[0.35, 0.35], config=READBACK_CONFIGS["valid"]))
    generate.write(model, tmp_path)
    npz_path = tmp_path / generate.ARRAYS_NAME
    good = npz_path.read_bytes()
    with np.load(io.BytesIO(good)) as npz:
        arrays = {name: npz[name] for name in npz.files}

    arrays["block1_thresholds"][0] += 1                    # one threshold changed: same size, other sha
    npz_path.write_bytes(generate.arrays_npz(arrays))
    with pytest.raises(BitearError, match=rf"describes other tables than .*{generate.ARRAYS_NAME} \(sha256 differs\): "
                                          r"run python -m codegen CHECKPOINT"):
        read_model(tmp_path)

    npz_path.unlink()
    with pytest.raises(BitearError, match=rf"{generate.ARRAYS_NAME}: cannot read .*run python -m codegen CHECKPOINT"):
        read_model(tmp_path)

    del arrays["head1_bias"]                               # sidecar and manifest agree, an array is missing
    data = generate.arrays_npz(arrays)
    npz_path.write_bytes(data)
    path = tmp_path / manifest.MANIFEST_NAME
    m = json.loads(path.read_text())
    m["tables_sha256"][generate.ARRAYS_NAME] = hashlib.sha256(data).hexdigest()
    path.write_text(manifest.dumps(m))
    with pytest.raises(BitearError, match=rf"{generate.ARRAYS_NAME}: array head1_bias not found: run python -m codegen"):
        read_model(tmp_path)

    npz_path.write_bytes(good)                             # a manifest from before the sidecar
    del m["tables_sha256"][generate.ARRAYS_NAME]
    path.write_text(manifest.dumps(m))
    with pytest.raises(BitearError, match=rf"no entry for {generate.ARRAYS_NAME} .*run python -m codegen CHECKPOINT"):
        read_model(tmp_path)


@pytest.fixture(scope="module")
def generated_set(tmp_path_factory):
    """12 clips in Speech Commands test layout: the ten keywords (espeak-ng), one other word, one noise."""
    from model.synth import synthesize

    root = tmp_path_factory.mktemp("sc_generated")
    rng = np.random.default_rng(0)
    for i, word in enumerate(("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")):
        (root / word).mkdir()
        write_wav(root / word / f"tts{i}_nohash_0.wav", synthesize(word, speed=0.8 + 0.05 * i))
    (root / "_unknown_").mkdir()
    write_wav(root / "_unknown_" / "cat_tts_nohash_0.wav", synthesize("cat"))
    (root / "_silence_").mkdir()
    write_wav(root / "_silence_" / "noise.wav", np.round(rng.normal(0, 300, 16000)).astype(np.int16))
    return root


@needs_qemu
@needs_espeak
def test_generated_set_through_the_emulated_board_agrees_with_python(generated_set, eval_elf, capsys):
    assert evaluate.main([str(generated_set), "--emulator", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 12 and report["path"] == "semihosting"
    assert report["agreement_with_python"] == 1.0 and report["mismatches"] == []
    assert 0.0 <= report["accuracy"] <= 1.0 and report["accuracy"] == report["python_accuracy"]
    assert [e["index"] for e in report["exits"]] == list(range(len(report["exits"])))
    assert sum(e["fraction"] for e in report["exits"]) == pytest.approx(1.0)
    assert report["avg_instructions_inference"] > 0 and report["avg_instructions_frontend_hop"] > 0

    assert evaluate.main([str(generated_set), "--emulator", "--json", "--full-depth", "--limit", "4"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 4 and report["agreement_with_python"] == 1.0
    assert report["exits"][-1]["fraction"] == 1.0 and report["thresholds_q16"] == [-1] * (len(report["exits"]) - 1)


@needs_qemu
@needs_espeak
def test_serial_path_through_the_application_firmware_agrees(generated_set, capsys):
    """The same clips over the emulated UART, through the streaming application (RESET, N-1 zero
    hops, the clip): the RESULT of the clip's last hop is what the reference computes."""
    assert evaluate.main([str(generated_set), "--emulator", "--serial", "--limit", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["path"] == "serial" and report["board"] == "qemu_mps2_an386"
    assert report["n"] == 3 and report["agreement_with_python"] == 1.0
    assert report["cost_unit"] == "instructions" and report["avg_cost"] > 0


@needs_qemu
def test_stream_mode_matches_reference_windows_and_python_detector(eval_elf):
    from model.frontend import StreamingFrontend

    rng = np.random.default_rng(1)
    t = np.arange(16000 * 4) / 16000
    audio = (rng.normal(0, 200, len(t)) + 6000 * np.sin(2 * np.pi * (200 + 300 * t) * t) * (np.sin(t * 3) > 0))
    audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    hops = len(audio) // 320
    det = DetectorParams(window_ms=300, threshold_q15=1000, suppression_ms=200, min_count=2)
    run = evaluate.run_eval_build(evaluate.MODE_STREAM, audio, hops, infer_every=3, detector=det, elf=eval_elf)
    assert run.hops == hops and run.inferences == len(run.results) == (hops - 49) // 3 + 1
    assert [r.hop for r in run.results] == list(range(49, hops + 1, 3))

    fe = StreamingFrontend()
    frames = fe.push_many(audio)
    windows = np.stack([frames[r.hop - 49:r.hop] for r in run.results])
    model = read_model(evaluate.model_tables_dir())
    ref = reference.infer(model, windows)
    assert evaluate.agreement(run.results, ref).all()
    events = detect([r.hop * 20 for r in run.results], [r.scores_q15 for r in run.results], det)
    assert [(h * 20, label, score) for h, label, score in run.detections] == events
    assert len(events) > 0


@needs_qemu
def test_eval_build_errors_are_clear(eval_elf):
    with pytest.raises(BitearError, match="bad input header"):
        evaluate.run_eval_build(9, np.zeros(320, np.int16), 1, elf=eval_elf)
    with pytest.raises(BitearError, match="input file ended early"):
        evaluate.run_eval_build(evaluate.MODE_CLIPS, np.zeros(16000, np.int16), 2, elf=eval_elf)


def test_cli_user_errors(tmp_path, capsys):
    assert evaluate.main([str(tmp_path / "nothing"), "--emulator"]) == 2
    assert "not found" in capsys.readouterr().err
    assert evaluate.main([str(tmp_path), "--emulator", "--threshold", "1.5"]) == 2
    assert "--threshold" in capsys.readouterr().err


def test_pick_spreads_evenly():
    assert list(evaluate.pick(10, None)) == list(range(10))
    assert list(evaluate.pick(10, 3)) == [0, 4, 9]
    assert list(evaluate.pick(3, 10)) == [0, 1, 2]
