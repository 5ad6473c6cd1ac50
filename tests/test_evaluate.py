"""model.evaluate: early-exit rule, threshold calibration, and the command line (errors, --json) on a generated folder."""
import json
import shutil
import subprocess

import numpy as np
import pytest

from model import evaluate
from model.checkpoint import save_checkpoint
from model.datasets import LABELS
from model.frontend import FRONTEND_PARAMS
from model.paths import REPO_ROOT
from model.student import BinaryStudent


def _certain(label: int, margin: float = 30.0) -> np.ndarray:
    row = np.zeros(len(LABELS))
    row[label] = margin
    return row


def test_normalized_entropy_bounds():
    uniform = np.zeros((1, 12))
    assert evaluate.normalized_entropy(uniform)[0] == pytest.approx(1.0)
    assert evaluate.normalized_entropy(_certain(3)[None])[0] < 1e-9


def test_early_exit_stops_at_the_first_confident_head():
    uniform = np.zeros(12)
    exits = [np.stack([_certain(2), uniform, uniform]),
             np.stack([_certain(5), _certain(4), uniform]),
             np.stack([_certain(6), _certain(7), _certain(8)])]
    pred, taken = evaluate.early_exit(exits, [0.1, 0.1])
    assert taken.tolist() == [0, 1, 2] and pred.tolist() == [2, 4, 8]
    pred, taken = evaluate.early_exit(exits, [-1.0, -1.0])  # full depth
    assert taken.tolist() == [2, 2, 2] and pred.tolist() == [6, 7, 8]
    pred, taken = evaluate.early_exit(exits, [1.0, 1.0])  # always the first exit
    assert taken.tolist() == [0, 0, 0]


def test_calibration_finds_the_cheapest_thresholds_within_the_allowed_drop():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 12, 400)
    final = np.stack([_certain(l, 8.0) for l in labels])
    # exit 0: right and confident on the first half, unsure on the rest; exit 1: confident on the next quarter
    early = np.concatenate([final[:200], rng.normal(0, 0.5, (200, 12))])
    middle = np.concatenate([rng.normal(0, 0.5, (200, 12)), final[200:300], rng.normal(0, 0.5, (100, 12))])
    logits = [early, middle, final]
    thresholds = evaluate.calibrate_thresholds(logits, labels, [100, 200, 300], max_drop_points=1.0)
    pred, taken = evaluate.early_exit(logits, thresholds)
    assert (pred == labels).mean() >= 1.0 - 0.01
    # the cheapest choice sends the confident half / quarter to their exits (the allowed drop may add a few lucky guesses)
    assert (taken[:200] == 0).all() and (taken[200:300] == 1).mean() >= 0.95 and (taken[300:] == 2).mean() >= 0.9
    assert evaluate.calibrate_thresholds([final], labels, [300], 1.0) == []


def _write_folder(root, n_per_class=2):
    from model.audio import write_wav
    rng = np.random.default_rng(1)
    for name in ("_silence_", "yes", "no"):
        (root / name).mkdir(parents=True)
        for i in range(n_per_class):
            write_wav(root / name / f"spk{i}_nohash_{i}.wav", (rng.normal(0, 500, 16000)).astype(np.int16))


def test_command_line_json_and_errors(tmp_path, capsys):
    ckpt = tmp_path / "s.safetensors"
    save_checkpoint(ckpt, BinaryStudent(), {"labels": list(LABELS), "frontend": dict(FRONTEND_PARAMS),
                                            "exit_thresholds": [0.3, 0.3]})
    data = tmp_path / "data"
    _write_folder(data)
    assert evaluate.main([str(ckpt), str(data), "--json", "--plots", str(tmp_path / "plots")]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 6 and len(report["exits"]) == 3
    assert sum(e["fraction"] for e in report["exits"]) == pytest.approx(1.0)
    assert {"accuracy", "accuracy_full_depth", "avg_binary_macs", "full_binary_macs"} <= set(report)
    assert all((tmp_path / "plots" / f).is_file() for f in ("accuracy_vs_compute.png", "confusion_matrix.png", "exit_per_class.png"))

    assert evaluate.main([str(ckpt), str(tmp_path / "missing")]) == 2
    assert "data folder not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert evaluate.main([str(ckpt), str(tmp_path / "empty")]) == 2
    assert "error:" in capsys.readouterr().err
    (tmp_path / "junk.safetensors").write_bytes(b"garbage")
    assert evaluate.main([str(tmp_path / "junk.safetensors"), str(data)]) == 2
    assert "junk.safetensors" in capsys.readouterr().err
    assert evaluate.main([str(ckpt), str(data), "--threshold", "1.5"]) == 2
    assert "--threshold" in capsys.readouterr().err


def test_calibration_on_stream_windows_keeps_confidently_wrong_windows_from_stopping_early():
    rng = np.random.default_rng(3)
    labels, targets = rng.integers(0, 12, 200), rng.integers(0, 12, 200)
    wrong = (targets + 1) % 12
    clips = [np.stack([_certain(l, 4.0) for l in labels]), np.stack([_certain(l, 8.0) for l in labels])]
    # half of the stream windows: the early exit is MORE confident than on any clip, and wrong
    early = np.stack([_certain(w, 8.0) for w in wrong[:100]] + [_certain(t, 12.0) for t in targets[100:]])
    stream = [early, np.stack([_certain(t, 8.0) for t in targets])]
    clip_only = evaluate.calibrate_thresholds(clips, labels, [100, 300], max_drop_points=1.0)
    pred, _ = evaluate.early_exit(stream, clip_only)
    assert (pred == targets).mean() <= 0.51  # calibrated on clips alone, the wrong windows stop at exit 0
    both = evaluate.calibrate_thresholds(clips, labels, [100, 300], max_drop_points=1.0, stream=(stream, targets))
    pred, taken = evaluate.early_exit(stream, both)
    assert (pred == targets).all() and (taken[100:] == 0).all()  # the right half still stops early
    pred, taken = evaluate.early_exit(clips, both)
    assert (pred == labels).all() and (taken == 1).all()


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_shipped_checkpoint_on_your_own_yes_and_no_folders(tmp_path, capsys):
    """Word folders without Speech Commands' testing_list.txt are a folder-per-class dataset: every
    file is evaluated (espeak-ng writes 22.05 kHz WAVs, as a user's own recordings would differ too)."""
    voices = ("en-us", "en-gb+m3", "en+f2")
    for word in ("yes", "no"):
        (tmp_path / word).mkdir()
        for voice in voices:
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(tmp_path / word / f"{voice}.wav"), word], check=True)
    names = list(LABELS)
    clips = evaluate.load_eval_clips(tmp_path, names, progress=False)
    assert sorted(clips.labels.tolist()) == sorted([names.index("yes")] * 3 + [names.index("no")] * 3)
    assert evaluate.main([str(REPO_ROOT / "model" / "checkpoints" / "kws12.safetensors"), str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["n"] == 2 * len(voices)
