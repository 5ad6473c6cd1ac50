"""model.calibrate: rewrites a checkpoint's exit thresholds from its own validation speakers, tensors untouched."""
import numpy as np

from model import calibrate
from model.checkpoint import read_checkpoint, save_checkpoint
from model.datasets import LABELS
from model.student import BinaryStudent
from tests.test_evaluate import _write_folder


def test_recalibration_rewrites_only_the_thresholds(tmp_path, capsys):
    data = tmp_path / "data"
    _write_folder(data / "speech_commands_v2_dev", n_per_class=6)
    ckpt = tmp_path / "s.safetensors"
    meta = {"labels": list(LABELS), "frontend": {}, "exit_thresholds": [0.5, 0.5], "training": {"config": {"val_fraction": 0.5}}}
    save_checkpoint(ckpt, BinaryStudent(), meta)
    before, _ = read_checkpoint(ckpt)
    assert calibrate.main([str(ckpt), "--data", str(data), "--max-drop", "0"]) == 0
    assert "thresholds" in capsys.readouterr().out
    after, new_meta = read_checkpoint(ckpt)
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert len(new_meta["exit_thresholds"]) == 2 and new_meta["validation"]["calibration_max_drop_points"] == 0


def test_checkpoint_without_a_speaker_split_is_a_clear_error(tmp_path, capsys):
    data = tmp_path / "data"
    _write_folder(data / "speech_commands_v2_dev")
    ckpt = tmp_path / "s.safetensors"
    save_checkpoint(ckpt, BinaryStudent(), {"labels": list(LABELS), "frontend": {}, "exit_thresholds": [0.5, 0.5]})
    assert calibrate.main([str(ckpt), "--data", str(data)]) == 2
    assert "no speaker split" in capsys.readouterr().err
