"""host.stream_truth and host.stream_scoring, and the teacher's windows of host.streaming_quality, without
the emulator: onset and end of a word, the stream layout, the truth CSV reader, the scoring of
hand-made detections, and the sample indices of the windows the teacher is fed."""
from __future__ import annotations

import numpy as np
import pytest

from host import streaming_quality as sq
from host.detector import DetectorParams
from host.stream_scoring import score
from host.stream_truth import read_truth_csv
from model.word_truth import Keyword, keyword_stream, speech_onset, word_end
from model.errors import BitearError


def test_onset_and_end_are_the_first_and_last_frame_within_20_db_of_the_peak():
    clip = np.zeros(16000, np.int16)
    clip[1600:4000] = 800            # 10 ms frames at -21.9 dB: below the cut
    clip[4000:8960] = 10000          # the peak
    clip[8960:9120] = -1200          # one frame at -18.4 dB: still the word
    clip[9120:12000] = 800           # -21.9 dB again: after the word
    assert speech_onset(clip) == 4000
    assert word_end(clip) == 9120
    clip[4000:4160] = 50             # the first loud frame turns quiet: the onset moves one frame
    assert speech_onset(clip) == 4160
    silent = np.zeros(16000, np.int16)
    assert speech_onset(silent) == 0 and word_end(silent) == 0


def test_keyword_stream_places_words_after_gaps_and_keeps_keyword_onsets_and_ends():
    rng = np.random.default_rng(0)
    word = np.zeros(16000, np.int16)
    word[8000:12000] = 9000
    words = [("yes", word), ("_unknown_", word), ("go", word)]
    calls = []

    def gap(n, rms):
        calls.append((n, rms))
        return np.zeros(n, np.int16)

    audio, truth = keyword_stream(words, gap, rng, gap_s=(1.0, 1.0), rms=(3.0, 300.0))
    assert len(audio) % 320 == 0
    assert truth == [Keyword(1000 + 500, 1000 + 750, "yes"), Keyword(5000 + 500, 5000 + 750, "go")]
    assert [n for n, _ in calls] == [16000] * 4             # three gaps before the words, one to end
    assert all(3.0 <= r <= 300.0 for _, r in calls)
    assert np.array_equal(audio[16000 + 8000:16000 + 12000], word[8000:12000])


def test_truth_csv_keywords_and_distractors(tmp_path):
    path = tmp_path / "truth.csv"
    path.write_text("\ufeffstart_s, end_s, label\n3.5,4.25,no\n\n0.5,1.0,yes\n2,2.5, cat \n6.0,6.0,go\n",
                    encoding="utf-8")                       # with the BOM a spreadsheet may write
    keywords, distractors = read_truth_csv(path)
    assert keywords == [Keyword(500, 1000, "yes"), Keyword(3500, 4250, "no"), Keyword(6000, 6000, "go")]
    assert distractors == 1


@pytest.mark.parametrize("text, message", [
    ("begin,end,label\n1,2,yes\n", "header must be start_s,end_s,label, found begin,end,label"),
    ("", "header must be start_s,end_s,label, found (empty file)"),
    ("start_s,end_s,label\n1,2,yes\n3,2.5,no\n", "line 3: end_s 2.5 is before start_s 3.0"),
    ("start_s,end_s,label\n1,two,yes\n", "line 2: start_s and end_s must be numbers, found '1', 'two'"),
    ("start_s,end_s,label\n1,2\n", "line 2: 3 columns expected, found 2"),
    ("start_s,end_s,label\n-1,2,yes\n", "line 2: times must be finite and >= 0"),
    ("start_s,end_s,label\n1,2, \n", "line 2: empty label"),
])
def test_truth_csv_errors_name_the_file_and_the_line(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(BitearError) as err:
        read_truth_csv(path)
    assert str(err.value).startswith(f"truth file {path}") and message in str(err.value)
    with pytest.raises(BitearError, match="not found"):
        read_truth_csv(tmp_path / "missing.csv")


def test_score_of_hand_made_detections():
    keywords = [Keyword(1000, 1600, "yes"), Keyword(5000, 5500, "no"), Keyword(9000, 9400, "up"),
                Keyword(13000, 13300, "go")]
    detections = [
        (1800, "yes", 0.9),       # yes: hit, 800 ms after the onset, 200 ms after the end
        (5600, "left", 0.9),      # no: answered with the wrong label
        (11500, "up", 0.9),       # 2500 ms after up's onset: too late, a false detection; up is missed
        (13200, "go", 0.9),       # go: hit, 200 ms after the onset, 100 ms before the word ends
        (20000, "stop", 0.9),     # nothing spoken: false detection
    ]
    s = score(keywords, detections, duration_s=36.0)
    assert (s["hits"], s["wrong_label"], s["missed"], s["false_detections"], s["keywords"]) == (2, 1, 1, 2, 4)
    assert s["detection_rate"] == 0.5
    assert s["false_detections_per_hour"] == pytest.approx(200.0)     # 2 in 36 s
    assert s["median_latency_ms"] == 500.0                            # median of 800, 200
    assert s["median_latency_from_end_ms"] == 50.0                    # median of 200, -100
    none = score(keywords, [], duration_s=36.0)
    assert none["missed"] == 4 and none["median_latency_ms"] is None and none["median_latency_from_end_ms"] is None


def test_teacher_windows_end_where_the_students_window_ends():
    hops = np.arange(49, 90, 4)                            # the student's results: first on hop 49, every 4
    audio = np.arange(1, 90 * 320 + 1).astype(np.int16)    # sample i holds i + 1
    w = sq.windows(audio, hops)
    assert w.shape == (len(hops), 16000)
    assert np.array_equal(w[:, -1], hops * 320)             # the last sample is index hop x 320 - 1
    assert np.array_equal(sq.window_starts(hops), hops * 320 - 16000)
    assert np.all(w[0, :320] == 0) and w[0, 320] == 1       # hop 49: 320 samples before the stream, zeros
    for h, win in zip(hops[1:], w[1:]):
        assert np.array_equal(win, audio[h * 320 - 16000:h * 320])


def test_teacher_scores_are_the_softmax_in_q15_of_every_window_in_batches():
    hops = np.arange(49, 120, 4)
    audio = np.zeros(120 * 320, np.int16)
    fed = []

    def logits_fn(clips):
        fed.append(len(clips))
        out = np.zeros((len(clips), 12))
        out[:, 2] = np.log(3.0)                             # p(yes) = 3 p(silence) ... with 10 others at 1
        return out

    q15 = sq.teacher_scores_q15(audio, hops, logits_fn, chunk=5)
    assert fed == [5, 5, 5, 3]
    assert q15.shape == (18, 12)
    assert np.all(q15[:, 2] == round(3 / 14 * 32768)) and np.all(q15[:, 0] == round(32768 / 14))


def test_teacher_detections_use_the_detector_on_the_teacher_scores():
    hops = np.arange(49, 200, 4)
    audio = np.zeros(200 * 320, np.int16)
    audio[100 * 320:110 * 320] = 1000                      # a "word" in hops 100..109

    def logits_fn(clips):                                   # "go" (class 11) while the window holds the word
        out = np.zeros((len(clips), 12))
        out[np.abs(clips).max(axis=1) > 0, 11] = 20.0
        return out

    params = DetectorParams(window_ms=750, threshold_q15=26214, suppression_ms=1500, min_count=3)
    dets = sq.teacher_detections(audio, hops, params, logits_fn)
    # The windows holding the word end at hops 101, 105, ... (after sample 32000). Their score of "go" is
    # 32768, the others' 2731 (1/12). 750 ms hold 10 results (every 80 ms), so the average reaches
    # 26214 with 8 "go" results: (8 x 32768 + 2 x 2731) // 10 = 26760, at hop 101 + 7 x 4 = 129.
    assert dets == [(129, 11, 26760)]


def test_real_stream_is_drawn_by_seed_from_the_validation_speakers_only():
    from model.datasets import load_speech_commands
    from model.datasets import SPLIT_SALT, VAL_FRACTION
    from model.paths import data_dir
    from host.stream_truth import real_stream, validation_clips

    root = data_dir()
    if root is None or not (root / "speech_commands_v2_dev").is_dir():
        pytest.skip("needs ../shared/data/speech_commands_v2_dev")
    val = validation_clips(root)
    train = load_speech_commands(root / "speech_commands_v2_dev", progress=False).split_by_speaker(VAL_FRACTION, SPLIT_SALT)[0]
    assert len(val) and not set(val.speakers) & set(train.speakers)
    a = real_stream(root, 20, 5, np.random.default_rng(3))
    b = real_stream(root, 20, 5, np.random.default_rng(3))
    c = real_stream(root, 20, 5, np.random.default_rng(4))
    assert np.array_equal(a.audio, b.audio) and a.keywords == b.keywords and not np.array_equal(a.audio[:len(c.audio)], c.audio[:len(a.audio)])
    assert len(a.keywords) == 20 and a.distractors == 5 and 1 <= a.speakers <= len(set(val.speakers))
    # every word of the stream is a validation clip: find each keyword's clip at its place in the stream
    clips = {val.audio[i].tobytes() for i in range(len(val))}
    for k in a.keywords:
        lo = k.onset_ms * 16 - 16000
        found = any(a.audio[s:s + 16000].tobytes() in clips for s in range(max(0, lo), lo + 16000 + 16))
        assert found, k
