"""Training options of `model.train.distill` on small random pools: weight constraints after every
step, teacher-labelled mixes, and evaluation that leaves the student's state dict alone."""
from __future__ import annotations

import numpy as np
import pytest

from model.train import Pool, TrainConfig, cepstral_projection, distill

QUIET = dict(progress=False, log=lambda *_: None)


def random_pool(n: int, seed: int, with_mfcc: bool = False) -> Pool:
    rng = np.random.default_rng(seed)
    mfcc = np.repeat(np.arange(n, dtype=np.float32), 49 * 10).reshape(n, 49, 10) if with_mfcc else None
    return Pool(rng.integers(-128, 128, (n, 49, 40)).astype(np.int8), rng.normal(0, 3, (n, 12)).astype(np.float32),
                rng.integers(0, 12, n), np.array(["random"] * n), mfcc)


def test_cepstral_projection_is_an_orthogonal_projection_of_the_right_rank():
    p = cepstral_projection(40, 13)
    np.testing.assert_allclose(p @ p, p, atol=1e-5)
    np.testing.assert_allclose(p, p.T, atol=1e-6)
    assert round(float(np.trace(p))) == 13
    # a constant spectrum (overall gain) lies in the span: it is the first DCT vector
    np.testing.assert_allclose(np.ones(40) @ p, np.ones(40), atol=1e-5)


def test_constraints_act_on_the_updated_weights_after_every_step(tmp_path):
    # lr so large that every step pushes weights out of the constraint sets; applying the clip or the
    # projection to the weights from before the optimizer update (the old order) leaves them outside
    pool = random_pool(256, 1)
    cfg = TrainConfig(seed=3, epochs=2, batch=64, lr=0.5, stem_cepstra=13, mix_fraction=0.0)
    student, _ = distill(cfg, pool, pool.features[:32], pool.labels[:32], tmp_path, **QUIET)
    w = student.stem.weight.numpy()
    projected = np.einsum("cbok,bd->cdok", w, cepstral_projection(40, 13))
    assert np.abs(w - projected).max() <= 1e-5 * np.abs(w).max()
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


def test_hint_loss_reads_teacher_features_and_stays_out_of_the_student(tmp_path):
    from tinygrad import nn

    from model.student import BinaryStudent

    pool = random_pool(96, 4, with_mfcc=True)
    calls: list[int] = []

    def teacher(mfcc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(mfcc))
        embedding = np.repeat(mfcc[:, :1, :1].reshape(-1, 1), 20, axis=1) * np.linspace(-1, 1, 20, dtype=np.float32)
        return np.zeros((len(mfcc), 12), np.float32), embedding

    cfg = TrainConfig(seed=6, epochs=1, batch=32, mix_fraction=0.25, hint_weight=1.0)
    student, history = distill(cfg, pool, pool.features[:16], pool.labels[:16], tmp_path, teacher_from_mfcc=teacher, **QUIET)
    assert calls == [96] + [8] * 3          # the whole pool once, then the mixes of every batch
    assert sorted(nn.state.get_state_dict(student)) == sorted(nn.state.get_state_dict(BinaryStudent()))
    # the regressors are part of the resumable state
    again, more = distill(TrainConfig(**{**cfg.__dict__, "epochs": 2}), pool, pool.features[:16], pool.labels[:16], tmp_path,
                          resume=True, teacher_from_mfcc=teacher, **QUIET)
    assert [h["epoch"] for h in more] == [1, 2] and more[0] == history[0]
    with pytest.raises(ValueError, match="hint_weight"):
        distill(cfg, random_pool(64, 5), pool.features[:8], pool.labels[:8], tmp_path / "b", teacher_from_mfcc=teacher, **QUIET)


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
