"""CI smoke test of the distillation code path on generated audio only (no ../shared needed).

A tiny real teacher — nearest class mean on time-pooled MFCC (the teacher's input), fitted on
clean synthetic clips — labels an augmented pool, windows cut from synthetic streams and, on the
fly, the mixes of the shipped recipe;
the binary student is distilled from it with the same `build_pool` / `distill` functions
`python -m model.train` uses. Checks: the loss falls and
the student beats chance on held-out voices by a wide margin.
"""
import numpy as np

from model.datasets import BackgroundNoise, ClipSet, label_of, noise_silence_clips
from model.evaluate import exit_logits
from model.frontend import compute_features
from model.mfcc import mfcc
from model.synth import RECIPE_ENGINES, english_voices, synthesize_words
from model.distill import TrainConfig, build_pool, distill, validation_windows

WORDS = ["yes", "no", "up", "down"]


def _pooled(features: np.ndarray) -> np.ndarray:
    """(N, 49, D) -> (N, 7 * D) float: means over 7-frame blocks."""
    n, _, d = features.shape
    return features[:, :49].astype(np.float64).reshape(n, 7, 7, d).mean(axis=2).reshape(n, -1)


class PrototypeTeacher:
    """On the teacher's input (MFCC, like DS-CNN-L): logits = -squared distance to each class mean
    (classes without clips get a very low logit)."""

    def __init__(self, audio: np.ndarray, labels: np.ndarray, classes: int = 12):
        x = _pooled(mfcc(audio))
        self.means = np.stack([x[labels == c].mean(0) if (labels == c).any() else np.full(x.shape[1], 1e6) for c in range(classes)])
        self.scale = float(np.mean((x - self.means[labels]) ** 2) * x.shape[1]) or 1.0

    def logits(self, audio: np.ndarray) -> np.ndarray:
        return self.logits_from_mfcc(mfcc(audio))

    def logits_from_mfcc(self, features: np.ndarray) -> np.ndarray:
        x = _pooled(features)
        d = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        return (-d / self.scale * 4).astype(np.float32)


def _noise() -> BackgroundNoise:
    rng = np.random.default_rng(7)
    white = rng.normal(0, 3000, 64000)
    brown = np.cumsum(rng.normal(0, 300, 64000))
    brown -= np.convolve(brown, np.ones(400) / 400, mode="same")
    return BackgroundNoise([np.clip(white, -32768, 32767).astype(np.int16), np.clip(brown, -32768, 32767).astype(np.int16)], ["white", "brown"])


def _clips(seed: int, per_word: int, noise: BackgroundNoise) -> ClipSet:
    voices = {e: english_voices(e) for e in RECIPE_ENGINES}
    speech = synthesize_words(WORDS, per_word, seed, engines=RECIPE_ENGINES, voices=voices, progress=False)
    silence = noise_silence_clips(np.random.default_rng(seed), per_word, noise)
    return ClipSet.concat([speech, silence])


def test_distillation_loss_falls_and_student_beats_chance(tmp_path):
    noise = _noise()
    train, val = _clips(1, 24, noise), _clips(99, 10, noise)
    teacher = PrototypeTeacher(train.audio, train.labels)
    assert {label_of(w) for w in WORDS} | {0} == set(train.labels.tolist())
    cfg = TrainConfig(seed=3, epochs=10, batch=32, lr=1e-2, copies=3, kd_weight=0.5, stream_windows=60, val_stream_windows=30)
    pool = build_pool(cfg, train, noise, teacher.logits, compute_features, key=None, progress=False)
    assert len(pool.labels) == 3 * len(train) + 60
    windows = pool.sources == "stream"  # labelled by the teacher's top class on exactly their audio
    assert windows.sum() == 60 and np.array_equal(pool.labels[windows], pool.teacher[windows].argmax(1))
    val_features = compute_features(val.audio)
    val_stream = validation_windows(cfg, val, noise, teacher.logits, compute_features)
    assert cfg.mix_fraction > 0  # the shipped recipe's default
    student, history = distill(cfg, pool, val_features, val.labels, tmp_path, progress=False, log=lambda *_: None,
                               teacher_from_mfcc=teacher.logits_from_mfcc, val_stream=val_stream)
    assert len(history[-1]["val_stream_agreement"]) == len(student.heads)
    # batch-norm running statistics are lazily assigned in the forward pass: the step must realize them
    assert all(np.abs(t.numpy() - init).max() > 1e-3 for t, init in zip(student.running_statistics(), [0.0, 1.0] * 99))
    first, last = history[0]["loss"], history[-1]["loss"]
    assert last < 0.8 * first, history
    accuracy = float((exit_logits(student, val_features)[-1].argmax(1) == val.labels).mean())
    chance = 1 / (len(WORDS) + 1)
    assert accuracy >= 2.5 * chance, f"student accuracy {accuracy:.2f} on held-out voices (chance {chance:.2f})"


def test_training_resumes_from_the_last_finished_epoch(tmp_path):
    from model.distill import Pool

    rng = np.random.default_rng(5)
    n = 64
    pool = Pool(rng.integers(-128, 128, (n, 49, 40)).astype(np.int8), rng.normal(0, 3, (n, 12)).astype(np.float32),
                rng.integers(0, 12, n), np.array(["random"] * n))
    val_x, val_y = pool.features[:16], pool.labels[:16]
    quiet = dict(progress=False, log=lambda *_: None)
    _, first = distill(TrainConfig(seed=4, epochs=2, batch=32, mix_fraction=0.0), pool, val_x, val_y, tmp_path, **quiet)
    assert (tmp_path / "train_state.safetensors").is_file() and len(first) == 2
    logs = []
    _, resumed = distill(TrainConfig(seed=4, epochs=3, batch=32, mix_fraction=0.0), pool, val_x, val_y, tmp_path, resume=True,
                         progress=False, log=logs.append)
    assert any("resumed after epoch 2" in line for line in logs)
    assert len(resumed) == 3 and resumed[:2] == first
