"""model.streams: windows cut from synthetic streams hold words at every position, whole or partial,
neighbours and gaps, at the stream's noise level; deterministic by seed. Longer windows (a student with
more context) end in the same last second, clips are placed at the end of theirs after noise at their
own level, and their features are those of the streaming front end."""
import numpy as np
import pytest

from model.datasets import BackgroundNoise, ClipSet, LABELS
from model.streams import clips_in_context, context_samples, features_in_context, quiet_rms, stream_windows

RATE = 16000


def _words(n: int = 12) -> ClipSet:
    """1 s 'words': a 0.4 s burst of a class-specific tone in the middle of silence; silence clips too."""
    audio = np.zeros((n + 2, RATE), np.int16)
    labels = np.zeros(n + 2, np.int64)
    t = np.arange(int(0.4 * RATE)) / RATE
    for i in range(n):
        labels[i] = 1 + i % (len(LABELS) - 1)  # unknown and the keywords
        audio[i, int(0.3 * RATE):int(0.7 * RATE)] = (8000 * np.sin(2 * np.pi * (300 + 50 * i) * t)).astype(np.int16)
    words = [LABELS[l] for l in labels]
    return ClipSet(audio, labels, words, [f"spk{i}" for i in range(n + 2)], ["tone"] * (n + 2))


def _noise() -> BackgroundNoise:
    return BackgroundNoise([np.random.default_rng(0).normal(0, 1000, 5 * RATE).astype(np.int16)], ["white"])


def test_windows_are_one_second_int16_and_deterministic_by_seed():
    a = stream_windows(np.random.default_rng(1), _words(), _noise(), 50)
    b = stream_windows(np.random.default_rng(1), _words(), _noise(), 50)
    assert a.shape == (50, RATE) and a.dtype == np.int16
    assert np.array_equal(a, b)
    assert not np.array_equal(a, stream_windows(np.random.default_rng(2), _words(), _noise(), 50))


def test_windows_hold_whole_and_partial_words_and_gaps_at_the_stream_noise_level():
    w = stream_windows(np.random.default_rng(3), _words(), _noise(), 400).astype(np.float64)
    frame = RATE // 100
    rms = np.sqrt((w.reshape(len(w), -1, frame) ** 2).mean(axis=2))  # (N, 100) per 10 ms
    loud = rms > 3000  # the tone bursts (RMS 5657); noise is at most RMS 300
    burst_frames = loud.sum(axis=1)
    assert (burst_frames == 0).mean() < 0.3              # most windows hold (part of) a word
    assert (burst_frames >= 39).mean() > 0.2             # whole 0.4 s words
    partial = (burst_frames > 0) & (burst_frames < 38)
    assert partial.mean() > 0.2                            # words cut by either edge of the window
    assert loud[partial, 0].any() and loud[partial, -1].any()
    edge = loud | np.roll(loud, 1, axis=1) | np.roll(loud, -1, axis=1)  # frames a burst starts or ends in
    edge[:, [0, -1]] = True                                              # (also where the window cuts one)
    quiet = rms[~edge]
    assert quiet.max() < 400                               # gaps: noise at RMS 3..300 (the clips are silent there)
    assert (quiet > 2).mean() > 0.3                        # noise, not digital silence, between the words


def test_no_speech_is_an_error():
    words = _words()
    silence_only = words.subset(np.flatnonzero(words.labels == 0))
    with pytest.raises(ValueError, match="no speech clips"):
        stream_windows(np.random.default_rng(0), silence_only, _noise(), 3)


def test_longer_windows_end_in_the_same_last_second_after_the_streams_own_audio():
    short = stream_windows(np.random.default_rng(1), _words(), _noise(), 60)
    long = stream_windows(np.random.default_rng(1), _words(), _noise(), 60, frames=83,
                          lead_rng=np.random.default_rng(9))
    assert context_samples(83) == RATE + 34 * 320 and long.shape == (60, context_samples(83))
    assert np.array_equal(long[:, -RATE:], short)
    lead = long[:, :-RATE].astype(np.float64)
    assert (np.sqrt((lead ** 2).mean(axis=1)) > 2).all()   # stream audio before it, never digital silence


def test_clips_in_context_follow_noise_at_their_own_quiet_level():
    rng = np.random.default_rng(0)
    clips = (_words().audio[:4].astype(np.float64) + rng.normal(0, 50, (4, RATE))).astype(np.int16)
    placed = clips_in_context(np.random.default_rng(1), clips, _noise(), 83)
    extra = 34 * 320
    assert placed.shape == (4, RATE + extra) and np.array_equal(placed[:, extra:], clips)
    for clip, lead in zip(clips, placed[:, :extra].astype(np.float64)):
        assert quiet_rms(clip) == pytest.approx(50, rel=0.1)
        assert np.sqrt((lead ** 2).mean()) == pytest.approx(quiet_rms(clip), rel=0.05)
    assert np.array_equal(clips_in_context(rng, clips, _noise(), 49), clips)
    assert not clips_in_context(rng, clips, None, 83)[:, :extra].any()   # no noise: silence


def test_features_in_context_are_the_streaming_front_ends_frames():
    from model.frontend import StreamingFrontend, compute_features

    audio = np.random.default_rng(2).normal(0, 2000, (2, context_samples(83))).astype(np.int16)
    got = features_in_context(audio, compute_features)
    assert got.shape == (2, 83, 40)
    for a, g in zip(audio, got):
        assert np.array_equal(StreamingFrontend().push_many(a)[-83:], g)
    with pytest.raises(ValueError, match="multiple of 320"):
        features_in_context(audio[:, 1:], compute_features)
