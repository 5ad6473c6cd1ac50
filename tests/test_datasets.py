"""Tests of model/datasets.py and model/feature_cache.py on generated folders (both Speech Commands
layouts, FSDD) and, when present, on the shared data (skipped cleanly otherwise)."""
from __future__ import annotations

import shutil
import warnings
import wave
from pathlib import Path

import numpy as np
import pytest

from model.audio import write_wav
from model.datasets import (
    LABELS,
    BackgroundNoise,
    ClipSet,
    SkippedFilesWarning,
    label_of,
    load_fsdd,
    load_speech_commands,
    noise_silence_clips,
    random_noise_segment,
    speaker_split,
)
from model.errors import BitearError
from model.feature_cache import features_cached
from model.paths import data_dir

HAVE_ESPEAK = shutil.which("espeak-ng") is not None


def tone(freq: float, seconds: float = 1.0, rate: int = 16000, amp: float = 5000.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.round(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def white(seed: int, seconds: float, std: float = 300.0) -> np.ndarray:
    return np.round(np.random.default_rng(seed).normal(0, std, int(seconds * 16000))).astype(np.int16)


def word_audio(word: str, i: int) -> np.ndarray:
    """A distinct stand-in for a spoken word: espeak-ng speech for a few clips, tones otherwise (fast)."""
    if HAVE_ESPEAK and i == 0 and word in ("yes", "marvin"):
        from model.synth import synthesize

        return synthesize(word, "en-us")
    return tone(200 + 37 * (sum(map(ord, word)) % 50) + 5 * i, seconds=0.6 + 0.1 * (i % 5))


def write_bad_files(folder: Path) -> None:
    """A corrupt, an empty and a stereo 8 kHz file with Speech Commands names."""
    (folder / "bad0001_nohash_0.wav").write_bytes(b"RIFF....WAVEjunk")
    with wave.open(str(folder / "bad0002_nohash_0.wav"), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    write_wav(folder / "bad0003_nohash_0.wav", np.stack([tone(300, rate=8000)] * 2, axis=1), 8000)


@pytest.fixture(scope="module")
def test_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Test-set layout: 3 speakers x 2 clips per keyword, 4 unknown words, 5 silence clips, 3 bad files in `yes`."""
    root = tmp_path_factory.mktemp("sc_test_layout")
    for name in LABELS[2:]:
        (root / name).mkdir()
        for s, speaker in enumerate(["aaaa1111", "bbbb2222", "cccc3333"]):
            for n in range(2):
                write_wav(root / name / f"{speaker}_nohash_{n}.wav", word_audio(name, 2 * s + n))
    (root / "_unknown_").mkdir()
    for w, word in enumerate(["marvin", "bed", "sheila", "wow"]):
        write_wav(root / "_unknown_" / f"{word}_dddd444{w}_nohash_0.wav.wav", word_audio(word, 0))
    (root / "_silence_").mkdir()
    for i in range(5):
        write_wav(root / "_silence_" / f"{1000 + i}.wav", white(i, 1.0))
    write_bad_files(root / "yes")
    return root


def test_test_layout_labels_words_speakers(test_layout: Path) -> None:
    with pytest.warns(SkippedFilesWarning) as record:
        clips = load_speech_commands(test_layout, progress=False)
    assert len(record) == 1, "one warning for the whole folder"
    message = str(record[0].message)
    assert "skipped 3 of 72 files" in message
    assert "bad0001" in message and "bad0002" in message and "8000 Hz 2 channels" in message

    assert len(clips) == 69 and clips.audio.shape == (69, 16000) and clips.audio.dtype == np.int16
    counts = clips.counts()
    assert counts["_silence_"] == 5 and counts["_unknown_"] == 4
    assert all(counts[k] == 6 for k in LABELS[2:])
    for i in range(len(clips)):
        c = clips[i]
        assert c.label == label_of(c.word) and c.source == "speech_commands"
        if c.label == 1:
            assert c.word in {"marvin", "bed", "sheila", "wow"} and c.speaker.startswith("dddd444")
        elif c.label == 0:
            assert c.word == "_silence_" and c.speaker.startswith("silence-1")
        else:
            assert c.word == LABELS[c.label] and c.speaker in {"aaaa1111", "bbbb2222", "cccc3333"}
    marvin = clips.words.index("marvin")
    assert clips.speakers[marvin] == "dddd4440" and clips.paths[marvin].endswith(".wav.wav")
    # Short clips are padded at the end (left-aligned), like the Speech Commands recipe.
    i = clips.words.index("no")
    assert np.abs(clips.audio[i, :100]).max() > 0 and not clips.audio[i, -500:].any()


def test_test_layout_refuses_other_splits(test_layout: Path) -> None:
    with pytest.raises(BitearError, match="test-set layout"):
        load_speech_commands(test_layout, split="train", progress=False)


@pytest.fixture(scope="module")
def full_layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Full layout: 10 keywords + 3 other words, 4 clips each, lists, background noise."""
    root = tmp_path_factory.mktemp("sc_full_layout")
    words = list(LABELS[2:]) + ["marvin", "bed", "tree"]
    validation, testing = [], []
    for word in words:
        (root / word).mkdir()
        for n, speaker in enumerate(["s0000000", "s1111111", "s2222222", "s3333333"]):
            name = f"{speaker}_nohash_0.wav"
            write_wav(root / word / name, word_audio(word, n))
            if n == 2:
                validation.append(f"{word}/{name}")
            if n == 3:
                testing.append(f"{word}/{name}")
    (root / "validation_list.txt").write_text("\n".join(validation) + "\n")
    (root / "testing_list.txt").write_text("\n".join(testing) + "\n")
    (root / "_background_noise_").mkdir()
    write_wav(root / "_background_noise_" / "white.wav", white(10, 5.0, std=1000))
    write_wav(root / "_background_noise_" / "hum.wav", tone(50, seconds=3.0, amp=2000))
    (root / "README.md").write_text("not a folder")
    return root


@pytest.mark.parametrize("split,speaker", [("train", None), ("validation", "s2222222"), ("test", "s3333333")])
def test_full_layout_splits(full_layout: Path, split: str, speaker: str | None) -> None:
    clips = load_speech_commands(full_layout, split, progress=False, silence_fraction=0.25, seed=1)
    words = 2 if split == "train" else 1
    n_words = 13 * words
    assert len(clips) == n_words + round(0.25 * n_words)
    counts = clips.counts()
    assert counts["_unknown_"] == 3 * words and all(counts[k] == words for k in LABELS[2:])
    assert counts["_silence_"] == round(0.25 * n_words)
    unknown_words = {w for w, l in zip(clips.words, clips.labels) if l == 1}
    assert unknown_words == {"marvin", "bed", "tree"}
    speech_speakers = {s for s, l in zip(clips.speakers, clips.labels) if l != 0}
    if speaker:
        assert speech_speakers == {speaker}
    else:
        assert speech_speakers == {"s0000000", "s1111111"}
    silence = clips.audio[clips.labels == 0]
    assert silence.shape[1] == 16000 and (np.abs(silence).max(axis=1) > 0).all()
    # Same seed, same silence; another seed, other silence.
    again = load_speech_commands(full_layout, split, progress=False, silence_fraction=0.25, seed=1)
    assert np.array_equal(again.audio, clips.audio)
    other = load_speech_commands(full_layout, split, progress=False, silence_fraction=0.25, seed=2)
    assert not np.array_equal(other.audio, clips.audio)


def test_full_layout_unknown_fraction_and_no_lists(full_layout: Path, tmp_path: Path) -> None:
    few = load_speech_commands(full_layout, "train", progress=False, silence_fraction=0.0, unknown_fraction=0.1)
    assert few.counts()["_unknown_"] == 2  # 10 % of 20 keyword clips

    # Without lists (like speech_commands_v1_sample) everything is train.
    bare = tmp_path / "bare"
    shutil.copytree(full_layout, bare, ignore=shutil.ignore_patterns("*.txt", "_background_noise_"))
    clips = load_speech_commands(bare, progress=False)
    assert len(clips) == 13 * 4 and clips.counts()["_silence_"] == 0
    with pytest.raises(BitearError, match="no WAV files"):
        load_speech_commands(bare, "test", progress=False)
    with pytest.raises(BitearError, match="split must be"):
        load_speech_commands(bare, "dev", progress=False)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(BitearError, match="not found"):
        load_speech_commands(tmp_path / "missing", progress=False)
    (tmp_path / "_silence_").mkdir()
    with pytest.raises(BitearError, match="no WAV files"):
        load_speech_commands(tmp_path, progress=False)
    write_bad_files(tmp_path / "_silence_")
    with pytest.warns(SkippedFilesWarning), pytest.raises(BitearError, match="none of the 3 files"):
        load_speech_commands(tmp_path, progress=False)
    # convert=True accepts the stereo 8 kHz file.
    with pytest.warns(SkippedFilesWarning, match="skipped 2 of 3"):
        assert len(load_speech_commands(tmp_path, convert=True, progress=False)) == 1


def test_speaker_split_is_disjoint_deterministic_and_close_to_fraction() -> None:
    speakers = [f"{i:08x}" for i in range(2000)] * 3
    mask = speaker_split(speakers, 0.3)
    assert np.array_equal(mask, speaker_split(speakers, 0.3))
    by_speaker: dict[str, set[bool]] = {}
    for s, m in zip(speakers, mask):
        by_speaker.setdefault(s, set()).add(bool(m))
    assert all(len(v) == 1 for v in by_speaker.values())
    assert abs(mask.mean() - 0.3) < 0.03
    assert not speaker_split(speakers, 0.0).any() and speaker_split(speakers, 1.0).all()
    assert not np.array_equal(mask, speaker_split(speakers, 0.3, salt="other"))
    # Growing the fraction only moves speakers from train to validation.
    assert (mask <= speaker_split(speakers, 0.5)).all()


def test_clipset_split_by_speaker(test_layout: Path) -> None:
    with pytest.warns(SkippedFilesWarning):
        clips = load_speech_commands(test_layout, progress=False)
    train, val = clips.split_by_speaker(0.5)
    assert len(train) + len(val) == len(clips) and len(train) > 0 and len(val) > 0
    assert not set(train.speakers) & set(val.speakers)
    both = ClipSet.concat([train, val])
    assert len(both) == len(clips) and sorted(both.paths) == sorted(clips.paths)
    assert len(clips.subset([])) == 0 and len(clips.subset(np.zeros(len(clips), bool))) == 0


@pytest.fixture(scope="module")
def fsdd_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FSDD layout at 8 kHz: 3 digits x 2 speakers x 7 takes, one 1.5 s clip, plus an unrelated file."""
    root = tmp_path_factory.mktemp("fsdd")
    for digit in (0, 3, 7):
        for speaker in ("jackson", "theo"):
            for index in range(7):
                seconds = 1.5 if (digit, speaker, index) == (7, "theo", 6) else 0.4
                write_wav(root / f"{digit}_{speaker}_{index}.wav", tone(300 + 100 * digit, seconds, rate=8000), 8000)
    (root / "speakers.json").write_text("{}")
    write_wav(root / "notes.wav", tone(100, rate=8000), 8000)
    return root


def test_fsdd(fsdd_dir: Path) -> None:
    clips = load_fsdd(fsdd_dir, progress=False)
    assert len(clips) == 42 and (clips.labels == 1).all() and set(clips.sources) == {"fsdd"}
    assert set(clips.words) == {"zero", "three", "seven"} and set(clips.speakers) == {"jackson", "theo"}
    test, train = load_fsdd(fsdd_dir, "test", progress=False), load_fsdd(fsdd_dir, "train", progress=False)
    assert len(test) == 30 and len(train) == 12
    assert all(int(Path(p).stem.split("_")[2]) < 5 for p in test.paths)
    # Resampled to 16 kHz (tone frequency preserved) and centred: 0.4 s -> 6400 samples in the middle.
    i = clips.paths.index(str(fsdd_dir / "3_jackson_0.wav"))
    x = clips.audio[i].astype(np.float64)
    assert abs(np.argmax(np.abs(np.fft.rfft(x))) - 600) <= 2
    active = np.flatnonzero(np.abs(x) > 100)
    assert abs(active[0] - 4800) < 20 and abs(active[-1] - 11200) < 20
    long = clips.audio[clips.paths.index(str(fsdd_dir / "7_theo_6.wav"))]
    assert np.abs(long).min() < 100 and (np.abs(long) > 1000).mean() > 0.5  # cut to 1 s of the tone


def test_fsdd_no_matching_files(tmp_path: Path) -> None:
    write_wav(tmp_path / "hello.wav", tone(100, rate=8000), 8000)
    with pytest.raises(BitearError, match="no FSDD files"):
        load_fsdd(tmp_path, progress=False)


def test_background_noise(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", white(0, 3.0, std=1000))
    write_wav(tmp_path / "b.wav", tone(100, seconds=0.5))  # shorter than a segment: looped
    write_wav(tmp_path / "c8k.wav", tone(100, seconds=2.0, rate=8000), 8000)  # converted
    (tmp_path / "broken.wav").write_bytes(b"nope")
    with pytest.warns(SkippedFilesWarning, match="skipped 1 of 4"):
        noise = BackgroundNoise.load(tmp_path, progress=False)
    assert noise.names == ["a", "b", "c8k"] and len(noise.recordings[2]) == 32000
    rng = np.random.default_rng(0)
    segs = [random_noise_segment(rng, 16000, noise) for _ in range(10)]
    assert all(s.shape == (16000,) and s.dtype == np.int16 for s in segs)
    again = np.random.default_rng(0)
    assert all(np.array_equal(s, random_noise_segment(again, 16000, noise)) for s in segs)
    scaled = noise.segment(np.random.default_rng(1), 16000, rms=250.0)
    assert abs(np.sqrt(np.mean(scaled.astype(np.float64) ** 2)) - 250.0) < 1.0
    silence = noise_silence_clips(np.random.default_rng(2), 4, noise)
    assert len(silence) == 4 and (silence.labels == 0).all()


# ---------------------------------------------------------------------------------------------
# Feature cache (with a fake extractor; the real front end when it exists)


def fake_extractor(calls: list[int]):
    def extract(audio: np.ndarray) -> np.ndarray:
        calls.append(len(audio))
        frames = audio[:, :49 * 320].reshape(len(audio), 49, 320).astype(np.int64)
        level = np.abs(frames).mean(axis=2) // 64
        return np.clip(level[:, :, None] + np.arange(40) - 60, -128, 127).astype(np.int8)

    return extract


def test_feature_cache_computes_each_clip_once(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    audio = rng.integers(-3000, 3000, size=(30, 16000)).astype(np.int16)
    audio[5] = audio[3]  # a duplicate is computed once
    calls: list[int] = []
    extract = fake_extractor(calls)
    first = features_cached(audio, extract, "fake-v1", batch_size=8, progress=False, cache=tmp_path)
    assert first.shape == (30, 49, 40) and first.dtype == np.int8
    assert np.array_equal(first, extract(audio)) and sum(calls[:-1]) == 29
    calls.clear()
    more = np.concatenate([audio[10:20], rng.integers(-3000, 3000, size=(4, 16000)).astype(np.int16)])
    second = features_cached(more, extract, "fake-v1", batch_size=8, progress=False, cache=tmp_path)
    assert calls == [4] and np.array_equal(second[:10], first[10:20])
    calls.clear()
    features_cached(audio, extract, "fake-v2", progress=False, cache=tmp_path)  # other front end: recomputed
    assert calls == [29]
    with pytest.raises(ValueError, match="source_hash"):
        features_cached(audio, extract)


def test_feature_cache_rejects_bad_extractor(tmp_path: Path) -> None:
    audio = np.zeros((2, 16000), np.int16)
    with pytest.raises(ValueError, match="expected"):
        features_cached(audio, lambda a: np.zeros((len(a), 49, 40), np.float32), "bad", progress=False, cache=tmp_path)


def test_feature_cache_with_real_frontend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frontend = pytest.importorskip("model.frontend", reason="the C front end binding is not there yet")
    monkeypatch.setenv("BITEAR_CACHE", str(tmp_path))
    audio = np.stack([tone(440), white(1, 1.0, std=3000), np.zeros(16000, np.int16)])
    feats = features_cached(audio, progress=False)
    assert feats.shape == (3, 49, 40) and feats.dtype == np.int8
    assert np.array_equal(feats, frontend.compute_features(audio))
    assert np.array_equal(features_cached(audio, progress=False), feats)


# ---------------------------------------------------------------------------------------------
# Shared data (../shared/data or $BITEAR_DATA); skipped on a fresh clone.

DATA = data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="shared data folder not present (set BITEAR_DATA)")


@needs_data
def test_shared_speech_commands_v2_dev() -> None:
    root = DATA / "speech_commands_v2_dev"
    if not root.is_dir():
        pytest.skip(f"{root} missing")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedFilesWarning)
        clips = load_speech_commands(root, progress=False)
    assert len(clips) == 2942
    assert clips.counts() == {"_silence_": 245, "_unknown_": 247, "yes": 253, "no": 240, "up": 257, "down": 250,
                              "left": 251, "right": 230, "on": 237, "off": 239, "stop": 252, "go": 241}
    train, val = clips.split_by_speaker()          # the project's split: 30 % of the speakers, 40 % of these clips
    assert not set(train.speakers) & set(val.speakers) and 0.3 < len(val) / len(clips) < 0.45


@needs_data
def test_shared_fsdd_and_v1_sample_and_noise() -> None:
    if not (DATA / "fsdd").is_dir():
        pytest.skip("fsdd missing")
    fsdd = load_fsdd(DATA / "fsdd", progress=False)
    assert len(fsdd) == 3000 and len(set(fsdd.speakers)) == 6 and (fsdd.labels == 1).all()
    assert len(load_fsdd(DATA / "fsdd", "test", progress=False)) == 300
    v1 = load_speech_commands(DATA / "speech_commands_v1_sample", progress=False)
    assert len(v1) == 297 and all(v1.counts()[k] == 10 for k in LABELS[2:]) and v1.counts()["_unknown_"] == 197
    noise = BackgroundNoise.load(DATA / "background_noise", progress=False)
    assert len(noise.recordings) == 6 and sum(len(r) for r in noise.recordings) / 16000 > 390
