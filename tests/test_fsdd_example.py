"""model.fsdd_example's extras without ../shared: `_silence_` noise clips at the stream gaps' levels,
and a stream of test digits whose truth CSV marks where each digit is (checked against the audio:
the truth spans are the loud parts). And `--test-dataset` without `_silence_` (labels a subset)."""
from __future__ import annotations

import numpy as np

from model.streams import NOISE_RMS
from model.audio import read_wav, write_wav
from model.datasets import BackgroundNoise
from model.fsdd_example import write_silence, write_stream


def _noise() -> BackgroundNoise:
    rng = np.random.default_rng(0)
    return BackgroundNoise([np.round(rng.normal(0, 1000, 48000)).astype(np.int16)], ["white"])


def _tone(freq: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return np.round(12000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def test_silence_clips_are_one_second_of_noise_at_gap_levels(tmp_path):
    write_silence(_noise(), tmp_path / "_silence_", 20, seed=3)
    files = sorted((tmp_path / "_silence_").glob("*.wav"))
    assert len(files) == 20
    levels = []
    for f in files:
        x, rate = read_wav(f)
        assert rate == 16000 and x.shape == (16000,)
        levels.append(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
    assert NOISE_RMS[0] * 0.9 <= min(levels) and max(levels) <= NOISE_RMS[1] * 1.1 and np.std(levels) > 0


def test_stream_truth_marks_the_digits(tmp_path):
    test = tmp_path / "test"
    for word, freq in (("one", 440.0), ("two", 880.0)):
        for i in range(3):
            (test / word).mkdir(parents=True, exist_ok=True)
            write_wav(test / word / f"{i}.wav", _tone(freq, 0.4))
    wav, csv_path = write_stream(_noise(), test, tmp_path, 5, seed=1)
    audio, rate = read_wav(wav)
    rows = [line.split(",") for line in csv_path.read_text().splitlines()[1:]]
    assert rate == 16000 and len(rows) == 5 and {r[2] for r in rows} <= {"one", "two"}
    for start, end, word in rows:
        a, b = int(float(start) * 16000), int(float(end) * 16000)
        assert 0.35 <= (b - a) / 16000 <= 0.42                       # the 0.4 s tone
        peak = np.abs(np.fft.rfft(audio[a:b].astype(np.float64))).argmax() * 16000 / (b - a)
        assert abs(peak - {"one": 440.0, "two": 880.0}[word]) < 10
        assert np.abs(audio[a - 1600:a - 800]).max() < 6000           # noise before each digit (RMS <= 300)


def test_bad_options_are_one_clear_error_before_anything_is_written(tmp_path, monkeypatch, capsys):
    from model.fsdd_example import main
    monkeypatch.setenv("BITEAR_DATA", str(tmp_path / "data"))     # no background_noise/ there
    (tmp_path / "data").mkdir()
    out = tmp_path / "out"
    assert main([str(out), "--silence", "-1"]) == 2
    assert "--silence and --stream: expected >= 0, found -1, 0" in capsys.readouterr().err
    assert main([str(out), "--stream", "5"]) == 2
    assert "--silence / --stream need the data folder's background_noise/" in capsys.readouterr().err
    assert not out.exists()
