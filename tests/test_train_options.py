"""Training options of `model.distill.distill` on small random pools: weight constraints after every
step, teacher-labelled mixes, stream-window checks, evaluation that leaves the student's state dict
alone, and the recipe's command-line options built from TrainConfig."""
from __future__ import annotations

import numpy as np
import pytest

import argparse
from dataclasses import fields

from model.errors import BitearError
from model.distill import RECIPE_OPTIONS, Pool, StreamCheck, TrainConfig, add_recipe_options, distill, recipe_from_args

QUIET = dict(progress=False, log=lambda *_: None)


def random_pool(n: int, seed: int, with_mfcc: bool = False) -> Pool:
    rng = np.random.default_rng(seed)
    mfcc = np.repeat(np.arange(n, dtype=np.float32), 49 * 10).reshape(n, 49, 10) if with_mfcc else None
    return Pool(rng.integers(-128, 128, (n, 49, 40)).astype(np.int8), rng.normal(0, 3, (n, 12)).astype(np.float32),
                rng.integers(0, 12, n), np.array(["random"] * n), mfcc)


def test_constraints_act_on_the_updated_weights_after_every_step(tmp_path):
    # lr so large that every step pushes weights out of [-1, 1]; clipping the weights from before the
    # optimizer update (the old order) leaves them outside
    pool = random_pool(256, 1)
    cfg = TrainConfig(seed=3, epochs=2, batch=64, lr=0.5, mix_fraction=0.0)
    student, _ = distill(cfg, pool, pool.features[:32], pool.labels[:32], tmp_path, **QUIET)
    for latent in student.latent_weights():
        v = latent.numpy()
        assert v.min() >= -1.0 and v.max() <= 1.0
        assert np.mean(np.abs(v) == 1.0) > 0.01, "lr 0.5 must have driven some latent weights onto the clip bounds"


def test_mixes_are_blends_of_two_pool_clips_labelled_by_the_teacher(tmp_path):
    pool = random_pool(128, 2, with_mfcc=True)  # clip i has MFCC == i everywhere
    seen: list[np.ndarray] = []

    def teacher(mfcc: np.ndarray) -> np.ndarray:
        seen.append(mfcc.copy())
        return np.random.default_rng(0).normal(0, 3, (len(mfcc), 12)).astype(np.float32)

    cfg = TrainConfig(seed=5, epochs=2, batch=32, mix_fraction=0.25)
    _, history = distill(cfg, pool, pool.features[:16], pool.labels[:16], tmp_path / "a", teacher_from_mfcc=teacher, **QUIET)
    assert len(seen) == 2 * (128 // 32)
    for mfcc in seen:
        assert mfcc.shape == (8, 49, 10)                        # 25 % of a batch of 32
        assert np.all(mfcc == mfcc[:, :1, :1])                  # a blend of two constant clips is constant
        assert np.all((mfcc >= 0) & (mfcc <= 127))              # and lies between clip indices
    assert any(np.any(m != np.round(m)) for m in seen), "no mix fell strictly between two clips"
    # the same seed gives the same run, mixes included
    _, again = distill(cfg, pool, pool.features[:16], pool.labels[:16], tmp_path / "b", teacher_from_mfcc=teacher, **QUIET)
    assert [h["loss"] for h in again] == [h["loss"] for h in history]


def test_mixing_without_teacher_inputs_is_refused(tmp_path):
    pool = random_pool(64, 3)
    with pytest.raises(ValueError, match="mix_fraction"):
        distill(TrainConfig(epochs=1, batch=32, mix_fraction=0.5), pool, pool.features[:8], pool.labels[:8], tmp_path,
                teacher_from_mfcc=lambda m: np.zeros((len(m), 12), np.float32), **QUIET)


def test_evaluation_leaves_the_state_dict_alone():
    from tinygrad import nn

    from model.evaluate import exit_logits
    from model.student import BinaryStudent

    student = BinaryStudent()
    before = sorted(nn.state.get_state_dict(student))
    features = np.zeros((3, 49, 40), np.int8)
    for stage in ("binary", "real", "binact", "binary"):
        assert [l.shape for l in exit_logits(student, features, stage=stage)] == [(3, 12)] * 3
    assert sorted(nn.state.get_state_dict(student)) == before


def test_each_epoch_reports_agreement_with_the_teacher_on_validation_stream_windows(tmp_path):
    from model.evaluate import exit_logits

    pool = random_pool(64, 7)
    labels = np.random.default_rng(9).integers(0, 12, 20)
    check = StreamCheck(pool.features[:20], labels)
    student, history = distill(TrainConfig(seed=8, epochs=1, batch=32, mix_fraction=0.0), pool, pool.features[:8],
                               pool.labels[:8], tmp_path, val_stream=check, **QUIET)
    # after the last epoch: each exit's share of windows whose top class is the teacher's
    expected = [float((l.argmax(1) == labels).mean()) for l in exit_logits(student, check.features)]
    assert history[-1]["val_stream_agreement"] == expected and len(expected) == len(student.heads)


def test_recipe_options_are_the_train_config_fields_with_its_defaults():
    parser = argparse.ArgumentParser()
    add_recipe_options(parser, TrainConfig(epochs=7))
    args = parser.parse_args([])
    cfg = recipe_from_args(args)
    assert cfg == TrainConfig(epochs=7)
    assert set(RECIPE_OPTIONS) <= {f.name for f in fields(TrainConfig)}
    cfg = recipe_from_args(parser.parse_args(["--stream-windows", "5", "--mix-fraction", "0.25", "--precision", "real"]))
    assert (cfg.stream_windows, cfg.mix_fraction, cfg.precision) == (5, 0.25, "real")


def test_vtlp_gets_its_own_pool():
    """Warped copies are other audio: the pool (and its teacher labels) is keyed by the share."""
    key = TrainConfig(vtlp=0.0).pool_key("teacher", "frontend")
    assert TrainConfig(vtlp=0.5).pool_key("teacher", "frontend") != key
    assert TrainConfig(vtlp=0.25).pool_key("teacher", "frontend") != TrainConfig(vtlp=0.5).pool_key("teacher", "frontend")


@pytest.mark.parametrize("argv,message", [
    (["--precision", "ternary"], "--precision: expected one of binary, real, found 'ternary'"),
    (["--epochs", "0"], "--epochs: expected >= 1, found 0"),
    (["--mix-fraction", "1.5"], "--mix-fraction: expected a share in [0, 1], found 1.5"),
    (["--vtlp", "-0.1"], "--vtlp: expected a share in [0, 1], found -0.1"),
    (["--config", "/nonexistent/student.json"], "--config /nonexistent/student.json: cannot read"),
])
def test_bad_recipe_options_name_the_option(argv, message):
    parser = argparse.ArgumentParser()
    add_recipe_options(parser)
    with pytest.raises(BitearError, match=message.replace("[", "\\[").replace("]", "\\]")):
        recipe_from_args(parser.parse_args(argv))


def test_a_student_config_that_cannot_be_built_is_a_user_error(tmp_path):
    path = tmp_path / "student.json"
    path.write_text('{"frames": 49, "bins": 40, "classes": 12, "stem": {"kernel": 3, "stride": 2, "channels": 48}, "blocks": []}')
    parser = argparse.ArgumentParser()
    add_recipe_options(parser)
    with pytest.raises(BitearError, match="student.json: student config"):
        recipe_from_args(parser.parse_args(["--config", str(path)]))


def test_vtlp_warps_only_augmented_copies_of_recorded_speech(monkeypatch):
    """augment_copies(vtlp=1): every augmented copy of a recorded word clip is warped, never the clean
    copy, a synthetic (tts) clip or silence; vtlp=0 warps nothing."""
    from model import augment
    from model.datasets import ClipSet
    from model.distill import augment_copies

    warped = []
    monkeypatch.setattr(augment, "random_vtlp", lambda rng, x, alpha_range=None: warped.append(x) or x)
    rng = np.random.default_rng(0)
    clips = ClipSet(rng.integers(-3000, 3000, (4, 16000)).astype(np.int16), np.array([2, 2, 3, 0]),
                    ["yes", "yes", "no", "_silence_"], ["a", "tts-voice", "b", "noise"], ["fsdd", "tts", "sc", "noise"])
    _, labels, _ = augment_copies(np.random.default_rng(1), clips, 3, None, vtlp=1.0)
    assert len(warped) == 2 * 2 and labels.tolist() == [2] * 6 + [3] * 3 + [0] * 3
    assert all(any(np.array_equal(w, c) for c in clips.audio[[0, 2]]) for w in warped)  # recorded clips 0 and 2
    warped.clear()
    augment_copies(np.random.default_rng(1), clips, 3, None, vtlp=0.0)
    assert not warped


def test_a_longer_context_gets_its_own_pool_and_its_teacher_labels_the_last_second():
    """With "even" context the pool holds windows of 83 frames: clips at their end after noise, stream
    windows reaching back; the teacher sees exactly the last 16000 samples of each."""
    from model.datasets import ClipSet, BackgroundNoise
    from model.student import DEFAULT_CONFIG
    from model.distill import build_pool

    even = dict(DEFAULT_CONFIG, time_padding="valid", context="even")
    assert TrainConfig(config=even).frames == 83 and TrainConfig().frames == 49
    assert TrainConfig(config=even).pool_key("t", "f") != TrainConfig().pool_key("t", "f")
    assert TrainConfig(config=dict(DEFAULT_CONFIG, time_padding="valid")).pool_key("t", "f") == TrainConfig().pool_key("t", "f")
    rng = np.random.default_rng(0)
    audio = np.zeros((6, 16000), np.int16)
    audio[:, 6000:10000] = rng.normal(0, 5000, (6, 4000)).astype(np.int16)
    audio[:, :6000] = rng.normal(0, 20, (6, 6000)).astype(np.int16)
    labels = np.array([2, 3, 4, 1, 5, 6])
    sources = ClipSet(audio, labels, ["w"] * 6, [f"s{i}" for i in range(6)], ["rec"] * 6)
    noise = BackgroundNoise([rng.normal(0, 1000, 5 * 16000).astype(np.int16)], ["white"])
    seen: list[np.ndarray] = []

    def teacher(a: np.ndarray) -> np.ndarray:
        seen.append(a.copy())
        return np.tile(np.eye(12, dtype=np.float32)[7], (len(a), 1))

    def features(a: np.ndarray) -> np.ndarray:
        assert a.shape[1:] == (16000,)
        return np.clip(a[:, :49 * 320:320, None] // 256, -128, 127).astype(np.int8).repeat(40, axis=2)

    cfg = TrainConfig(config=even, copies=2, stream_windows=4, vtlp=0.0)
    pool = build_pool(cfg, sources, noise, teacher, features, key=None, progress=False)
    assert pool.features.shape == (12 + 4, 83, 40)
    assert seen[0].shape == (16, 16000)
    assert np.array_equal(seen[0][0], audio[0]) and np.array_equal(seen[0][2], audio[1])  # clean copies: the clips
    assert np.array_equal(pool.features[0, -49:], features(audio[:1])[0])                 # the clip ends the window
    assert np.array_equal(pool.labels[-4:], [7] * 4)                                      # stream windows: the teacher's class
