"""model.pretrain on generated features (no ../shared): the backbone learns to predict an embedding
(the loss falls well below predicting the mean), a saved backbone loads into a new student exactly
(stem and blocks; heads untouched), and a backbone of another shape or a file that is not a backbone
is one clear BitearError."""
from __future__ import annotations

import numpy as np
import pytest
from tinygrad import nn

from codegen import testing
from model.errors import BitearError
from model.pretrain import load_backbone, pretrain, save_backbone
from model.student import BinaryStudent

SMALL = {"frames": 49, "bins": 40, "classes": 3, "time_padding": "valid",
         "stem": {"kernel": 3, "stride": 2, "channels": 32},
         "blocks": [{"kernel": 3, "stride": 2, "channels": 32, "exit": True},
                    {"kernel": 3, "stride": 1, "channels": 64, "exit": True}]}


@pytest.fixture(scope="module")
def trained():
    rng = np.random.default_rng(0)
    x = testing.random_features(rng, 384)
    pooled = x.astype(np.float32).mean(axis=1)                     # (N, 40): what the embedding depends on
    target = pooled @ rng.normal(0, 1, (40, 8)).astype(np.float32)
    target = ((target - target.mean(0)) / target.std(0)).astype(np.float32)
    student, history = pretrain(x, target, SMALL, epochs=6, batch=32, lr=1e-2, seed=1, progress=False, log=lambda s: None)
    return student, history


def test_loss_falls_below_predicting_the_mean(trained):
    _, history = trained
    exits = 2
    assert history[-1] < 0.5 * exits and history[-1] < history[0]


def test_backbone_round_trip(trained, tmp_path):
    student, _ = trained
    path = tmp_path / "bb.safetensors"
    save_backbone(path, student, {"note": "test"})
    fresh = BinaryStudent(dict(SMALL, classes=5))                    # another task: 5 classes
    heads_before = {k: v.numpy().copy() for k, v in nn.state.get_state_dict(fresh).items() if k.startswith("heads.")}
    meta = load_backbone(path, fresh)
    assert meta["note"] == "test" and meta["config"]["blocks"] == SMALL["blocks"]
    mine, theirs = nn.state.get_state_dict(student), nn.state.get_state_dict(fresh)
    for k, v in theirs.items():
        if k.startswith("heads."):
            assert np.array_equal(v.numpy(), heads_before[k]), k
        else:
            assert np.array_equal(v.numpy(), mine[k].numpy()), k


def test_bad_backbones_are_clear_errors(trained, tmp_path):
    student, _ = trained
    path = tmp_path / "bb.safetensors"
    save_backbone(path, student, {})
    other = dict(SMALL, stem={"kernel": 5, "stride": 2, "channels": 32})
    with pytest.raises(BitearError, match="stem is"):
        load_backbone(path, BinaryStudent(other))
    ckpt = testing.cached_random_checkpoint(seed=0)
    with pytest.raises(BitearError, match="not a bitear-backbone file"):
        load_backbone(ckpt, BinaryStudent())
