"""A model of one's own builds into the firmware without touching the committed tables: `python -m
codegen CKPT -o DIR`, then BITEAR_MODEL_DIR=DIR (what `make build MODEL_DIR=DIR` exports) builds the
application and the evaluation build with DIR's tables (scripts/pio_model_dir.py). Checked with a
random 10-class checkpoint of another network shape (codegen.testing.TEN_CLASS_CONFIG) whose
`_unknown_` and `_silence_` sit at classes 1 and 5: it boots and names its own labels in READY, the
eval build equals the integer reference, its detector never reports classes 1 and 5; a model with
the protocol's maximum of 32 classes builds and boots too."""
from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

from codegen import reference, streaming, testing
from codegen.__main__ import main as codegen_main
from host import evaluate
from host.detector import DetectorParams, detect
from host.emulator import ROOT, Emulator, platformio_environment
from codegen.tables import read_model

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="qemu-system-arm / arm-none-eabi-gcc not installed")

LABELS = ["zero", "_unknown_", "two", "three", "four", "_silence_", "six", "seven", "eight", "nine"]
NEVER_MASK = (1 << 1) | (1 << 5)   # _unknown_, _silence_
COMMITTED = [ROOT / "firmware" / "lib" / "bitear" / n
             for n in ("bitear_model_tables.h", "bitear_model_tables.c", "bitear_model_manifest.json")]


def _digest(paths) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def pio_run(model_dir, *envs: str) -> subprocess.CompletedProcess:
    env = platformio_environment()
    env["BITEAR_MODEL_DIR"] = str(model_dir)
    env["PLATFORMIO_BUILD_DIR"] = str(model_dir / "build")
    cmd = [sys.executable, "-m", "platformio", "run", "-d", str(ROOT)] + [a for e in envs for a in ("-e", e)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def generate(tmp, name: str, config: dict, labels: list[str]):
    ckpt = testing.save_random_checkpoint(tmp / f"{name}.safetensors", seed=5, config=config, labels=labels)
    out = tmp / name
    assert codegen_main([str(ckpt), "-o", str(out), "--quiet"]) == 0
    return ckpt, out


@pytest.fixture(scope="module")
def ten(tmp_path_factory):
    """(checkpoint, model dir) of the 10-class model, both builds done; the committed tables unchanged."""
    before = _digest(COMMITTED)
    ckpt, out = generate(tmp_path_factory.mktemp("own"), "ten", testing.TEN_CLASS_CONFIG, LABELS)
    run = pio_run(out, "qemu_m4", "qemu_m4_eval")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"model tables from {out}" in run.stdout
    assert _digest(COMMITTED) == before
    return ckpt, out


def test_header_names_the_never_event_classes(ten):
    header = (ten[1] / "bitear_model_tables.h").read_text()
    assert "#define BITEAR_MODEL_NEVER_EVENT_MASK 0x00000022u" in header
    assert "#define BITEAR_MODEL_CLASSES 10" in header


def test_app_boots_and_reports_its_own_labels(ten):
    ckpt, out = ten
    with Emulator(out / "build" / "qemu_m4" / "firmware.elf") as emu:
        assert list(emu.ready.labels) == LABELS
        assert emu.ready.model == hashlib.sha256(ckpt.read_bytes()).hexdigest()[:16]


def test_eval_build_equals_reference_and_never_reports_silence_or_unknown(ten):
    from model.frontend import StreamingFrontend

    out = ten[1]
    rng = np.random.default_rng(4)
    t = np.arange(16000 * 6) / 16000
    audio = rng.normal(0, 300, len(t)) + 8000 * np.sin(2 * np.pi * (150 + 400 * t) * t) * (np.sin(t * 5) > 0)
    audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    hops = len(audio) // 320
    det = DetectorParams(classes=10, never_mask=NEVER_MASK, window_ms=100, threshold_q15=0, suppression_ms=0, min_count=1)
    run = evaluate.run_eval_build(evaluate.MODE_STREAM, audio, hops, infer_every=2, detector=det,
                                  elf=out / "build" / "qemu_m4_eval" / "firmware.elf")
    frames = StreamingFrontend().push_many(audio)
    model = read_model(out)
    assert model.streamable and model.stream_align_frames == 12     # strides 1, 3, 2, 1, 2
    # the streaming runtime: every result equals the Python stream (codegen/streaming.py) ...
    hops = [r.hop for r in run.results]
    assert hops == list(range(49, hops[-1] + 1, 2)) and len(hops) > 100
    assert evaluate.agreement(run.results, streaming.stream_results(model, frames, hops)).all()
    # ... and, where a hop is aligned, the full-window inference on the last 49 frames
    aligned = [r for r in run.results if (r.hop - 49) % 12 == 0]
    windows = np.stack([frames[r.hop - 49:r.hop] for r in aligned])
    assert len(aligned) > 15 and evaluate.agreement(aligned, reference.infer(model, windows)).all()
    # looser exit thresholds: stretches at exit 0, the deeper blocks catching up when exit 1 is needed
    loose = 40000
    run_loose = evaluate.run_eval_build(evaluate.MODE_STREAM, audio, len(audio) // 320, infer_every=2,
                                        threshold_q16=loose, detector=det,
                                        elf=out / "build" / "qemu_m4_eval" / "firmware.elf")
    want = streaming.stream_results(model, frames, hops, [loose] * (len(model.heads) - 1))
    assert evaluate.agreement(run_loose.results, want).all()
    taken = {r.exit_index for r in run.results} | {r.exit_index for r in run_loose.results}
    assert taken == set(range(len(model.heads))), taken    # every exit, in one run or the other

    times, scores = [r.hop * 20 for r in run.results], [r.scores_q15 for r in run.results]
    events = detect(times, scores, det)
    assert [(h * 20, label, score) for h, label, score in run.detections] == events
    assert events and not any((NEVER_MASK >> label) & 1 for _, label, _ in events)
    # the mask matters on this stream: without it some events are _unknown_ or _silence_
    unmasked = detect(times, scores, dataclasses.replace(det, never_mask=0))
    assert any((NEVER_MASK >> label) & 1 for _, label, _ in unmasked)


def test_eval_build_clips_land_on_aligned_hops_of_the_streaming_runtime(ten):
    """Clip mode pads every clip to a multiple of the stride product, so each clip's result is the
    full-window inference on its features (what host.evaluate compares with the reference)."""
    from model.frontend import compute_features

    out = ten[1]
    rng = np.random.default_rng(9)
    t = np.arange(16000) / 16000
    clips = np.stack([np.clip(rng.normal(0, 200 * (i + 1), 16000) + 6000 * np.sin(2 * np.pi * (200 + 90 * i) * t),
                              -32768, 32767) for i in range(5)]).astype(np.int16)
    results, run = evaluate.run_clips_semihosting(clips, elf=out / "build" / "qemu_m4_eval" / "firmware.elf")
    model = read_model(out)
    assert evaluate.agreement(results, reference.infer(model, compute_features(clips))).all()
    assert [r.hop for r in results] == [49 + 60 * (i + 1) for i in range(5)]   # 51 hops rounded up to 5 x 12


def test_serial_clips_land_on_aligned_hops_of_the_streaming_app(ten):
    """host.evaluate's serial path: lcm(period 2, alignment 12) - 1 zero hops before each clip, so the
    streaming application's result on the clip's last hop is its full-window inference."""
    from host.board import BoardClient
    from model.frontend import compute_features

    out = ten[1]
    rng = np.random.default_rng(10)
    t = np.arange(16000) / 16000
    clips = np.stack([np.clip(rng.normal(0, 300, 16000) + 7000 * np.sin(2 * np.pi * (250 + 120 * i) * t),
                              -32768, 32767) for i in range(3)]).astype(np.int16)
    model = read_model(out)
    with Emulator(out / "build" / "qemu_m4" / "firmware.elf") as emu, BoardClient(emu.port) as board:
        board.hello()
        results = evaluate.run_clips_serial(board, clips, align_hops=model.stream_align_frames)
    assert [r.hop for r in results] == [11 + 50] * 3
    assert evaluate.agreement(results, reference.infer(model, compute_features(clips))).all()


def test_app_runs_the_streaming_runtime_at_its_default_period(ten):
    from model.facts import PERIOD_STREAMING

    with Emulator(ten[1] / "build" / "qemu_m4" / "firmware.elf") as emu:
        assert emu.ready.infer_every_hops == PERIOD_STREAMING == 2


def test_the_protocols_maximum_of_32_classes_builds_and_boots(tmp_path):
    labels = [f"w{i}" for i in range(32)]
    config = dict(testing.TEN_CLASS_CONFIG, classes=32)
    _, out = generate(tmp_path, "w32", config, labels)
    run = pio_run(out, "qemu_m4")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    with Emulator(out / "build" / "qemu_m4" / "firmware.elf") as emu:
        assert list(emu.ready.labels) == labels


def test_a_folder_without_tables_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    run = pio_run(tmp_path / "empty", "qemu_m4")
    assert run.returncode != 0
    assert f"error: BITEAR_MODEL_DIR: {tmp_path / 'empty'} lacks bitear_model_tables.h" in run.stderr + run.stdout
    assert "Traceback" not in run.stderr + run.stdout


def test_make_with_a_mistyped_model_dir_is_one_clear_error_and_creates_nothing(tmp_path):
    typo = tmp_path / "my_modle"
    run = subprocess.run(["make", "-C", str(ROOT), "build", f"MODEL_DIR={typo}"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert f"MODEL_DIR={typo} is not a folder (write one with: .venv/bin/python -m codegen CHECKPOINT -o {typo})" in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert not typo.exists()


def test_more_classes_than_the_protocol_carries_is_refused(tmp_path, capsys):
    ckpt = testing.save_random_checkpoint(tmp_path / "w33.safetensors", config=dict(testing.TEN_CLASS_CONFIG, classes=33),
                                          labels=[f"w{i}" for i in range(33)])
    assert codegen_main([str(ckpt), "-o", str(tmp_path / "w33"), "--quiet"]) == 2
    assert f"checkpoint {ckpt}: 33 classes, the firmware carries 2 .. 32" in capsys.readouterr().err
    assert not (tmp_path / "w33").exists()


def test_host_tools_refuse_a_model_dir_without_tables(tmp_path, capsys):
    from host import streaming_quality

    (tmp_path / "empty").mkdir()
    assert evaluate.main([str(tmp_path), "--emulator", "--model-dir", str(tmp_path / "empty")]) == 2
    assert streaming_quality.main(["--generated", "--model-dir", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.count("bitear_model_manifest.json: cannot read the model manifest") == 2 and "Traceback" not in err
