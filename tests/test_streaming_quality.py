"""host.streaming_quality through the evaluation build on the emulated Cortex-M4: the three rows of a
short generated stream, the teacher's windows against the student's (bit-exact logits), the
detector sweep, `--wav/--truth` end to end on a generated recording, and the command line's
user errors."""
from __future__ import annotations

import importlib
import json
import re
import shutil

import numpy as np
import pytest

from host import streaming_quality as sq
from host.detector import DetectorParams
from host.stream_truth import Stream, generated_stream
from model.word_truth import Keyword
from model.audio import resample, write_wav

pytestmark = pytest.mark.timeout(300)
needs_emulator_and_speech = pytest.mark.skipif(
    shutil.which("qemu-system-arm") is None or shutil.which("espeak-ng") is None,
    reason="needs qemu-system-arm and espeak-ng")


@needs_emulator_and_speech
def test_short_generated_stream_three_rows():
    stream = generated_stream(10, 3, np.random.default_rng(0), seed=0)
    assert len(stream.keywords) == 10 and stream.distractors == 3
    fed = []

    def teacher(clips):                                     # a stand-in teacher: always "_unknown_"
        fed.append(clips.copy())
        out = np.zeros((len(clips), 12))
        out[:, 1] = 10.0
        return out

    r = sq.measure(stream, infer_every=2, detector=DetectorParams(), teacher=teacher)
    hops = len(stream.audio) // 320
    assert r["inferences"] == (hops - 49) // 2 + 1
    teacher_row, full, early = r["rows"]
    assert [x["row"] for x in r["rows"]] == ["teacher", "student_full_depth", "student_early_exit"]
    # the teacher saw one window per inference of the student, ending at the same hop
    windows = np.concatenate(fed)
    ends = 49 * 320 + 2 * 320 * np.arange(r["inferences"])
    assert len(windows) == r["inferences"]
    assert all(np.array_equal(w, stream.audio[e - 16000:e]) for w, e in zip(windows[1:], ends[1:]))
    assert teacher_row["hits"] == 0 and teacher_row["missed"] == 10 and teacher_row["false_detections"] == 0
    for x in (full, early):
        assert x["keywords"] == 10 and x["hits"] + x["wrong_label"] + x["missed"] == 10
        assert x["detection_rate"] == x["hits"] / 10
        assert x["false_detections_per_hour"] == pytest.approx(x["false_detections"] / (x["duration_s"] / 3600), rel=1e-3)
        assert sum(x["exits"]) == pytest.approx(1.0) and x["avg_instructions_inference"] > 0
        if x["hits"]:
            assert 0 <= x["median_latency_ms"] <= 2000
            assert x["median_latency_from_end_ms"] < x["median_latency_ms"]
    assert full["exits"][-1] == 1.0 and full["instructions_vs_full_depth"] == 1.0
    assert early["exits"][-1] < 1.0 and early["avg_instructions_inference"] < full["avg_instructions_inference"]
    assert early["instructions_vs_full_depth"] == pytest.approx(early["avg_instructions_inference"] / full["avg_instructions_inference"])
    assert r["path"] == "semihosting" and r["speakers"] >= 1


@needs_emulator_and_speech
def test_teacher_windows_are_the_students_windows():
    # the full-depth logits the firmware reports at hop h are exactly the reference network's on the
    # front-end features of sq.windows(audio, [h]): the teacher gets the 1 s the student saw
    from codegen import reference
    from codegen.intmodel import THRESHOLD_NEVER
    from codegen.tables import read_model
    from host.evaluate import model_tables_dir
    from model.frontend import compute_features

    stream = generated_stream(3, 0, np.random.default_rng(2), seed=2)
    run = sq.run_stream(stream, 3, DetectorParams(), THRESHOLD_NEVER)
    hops = np.array([r.hop for r in run.results])
    assert hops[0] == 49 and np.all(np.diff(hops) == 3)
    model = read_model(model_tables_dir())
    ref = reference.infer(model, compute_features(sq.windows(stream.audio, hops)), [THRESHOLD_NEVER] * (len(model.heads) - 1))
    assert np.array_equal(np.array([r.logits for r in run.results]), ref.logits)
    shifted = reference.infer(model, compute_features(sq.windows(stream.audio, hops[20:40] - 1)),
                              [THRESHOLD_NEVER] * (len(model.heads) - 1))
    assert not np.array_equal(np.array([r.logits for r in run.results[20:40]]), shifted.logits)   # one hop off differs


@needs_emulator_and_speech
def test_sweep_replays_the_firmware_detector_on_the_host():
    # sweep() itself refuses a stream where the host replay of the default settings differs from the
    # firmware's detections; here the default row must also score exactly like a measured run
    stream = generated_stream(6, 2, np.random.default_rng(1), seed=1)
    d = DetectorParams()
    rows = sq.sweep(stream, infer_every=2, windows_ms=(d.window_ms + 250, d.window_ms), thresholds=(0.45, d.threshold_q15 / 32768),
                    min_counts=(1, d.min_count))
    assert len(rows) == 8
    (measured,) = [x for x in sq.measure(stream, infer_every=2, detector=d)["rows"] if x["row"] == "student_early_exit"]
    (default,) = [r for r in rows if (r["window_ms"], round(r["threshold"] * 32768), r["min_count"]) == (d.window_ms, d.threshold_q15, d.min_count)]
    for key in ("hits", "wrong_label", "missed", "false_detections", "median_latency_ms", "median_latency_from_end_ms"):
        assert default[key] == measured[key], key
    assert all(r["hits"] + r["wrong_label"] + r["missed"] == 6 for r in rows)
    assert len({(r["hits"], r["false_detections"], r["median_latency_ms"]) for r in rows}) > 1, "the settings change nothing"


def test_sweep_refuses_a_run_the_host_detector_does_not_reproduce(monkeypatch):
    from host.evaluate import BoardResult, EvalRun
    from model.errors import BitearError

    keyword = tuple([0, 0, 32768] + [0] * 9)                           # "yes" at full score
    run = EvalRun(results=[BoardResult(hop, 2, 0, 0, keyword) for hop in range(0, 80, 4)],
                  detections=[(60, 3, 32768)])                          # the "firmware" claims a "no"
    monkeypatch.setattr(sq, "run_stream", lambda *args, **kwargs: run)
    stream = Stream(np.zeros(320 * 80, np.int16), [Keyword(500, 800, "yes")], 0, "test")
    with pytest.raises(BitearError, match="disagrees"):
        sq.sweep(stream, infer_every=4)
    run.detections = sq.replay_detector(run, DetectorParams())          # what the C detector would say
    assert run.detections and run.detections[0][1] == 2
    assert sq.sweep(stream, infer_every=4)[0]["keywords"] == 1


@needs_emulator_and_speech
def test_wav_and_truth_end_to_end(tmp_path, capsys):
    from host.demo import place_words
    from model.synth import synthesize, trim_silence

    words = [trim_silence(synthesize(w, voice="en-us", speed=0.9)) for w in ("yes", "cat", "go")]
    audio, onsets = place_words(words, spacing_s=2.2, snr_db=20.0, seed=0)
    stereo = np.stack([resample(audio, 16000, 22050)] * 2, axis=1)     # 22.05 kHz stereo: converted on reading
    write_wav(tmp_path / "rec.wav", stereo, 22050)
    rows = [f"{o / 16000:.3f},{(o + len(w)) / 16000:.3f},{label}" for o, w, label in zip(onsets, words, ("yes", "cat", "go"))]
    (tmp_path / "truth.csv").write_text("start_s,end_s,label\n" + "\n".join(rows) + "\n")
    assert sq.main(["--wav", str(tmp_path / "rec.wav"), "--truth", str(tmp_path / "truth.csv"), "--json"]) == 0
    out = capsys.readouterr().out.splitlines()
    report = json.loads(out[-1])
    assert report["keywords"] == 2 and report["distractor_words"] == 1
    assert report["duration_s"] == pytest.approx(len(audio) / 16000 + 1.0, abs=0.05)   # + 1 s of silence appended
    full, early = report["rows"][-2:]
    assert (full["row"], early["row"]) == ("student_full_depth", "student_early_exit")
    for x in (full, early):                  # make demo's voice: the words are heard, "cat" is no keyword
        assert x["hits"] + x["wrong_label"] + x["missed"] == 2 and x["hits"] >= 1 and x["false_detections"] == 0, x
        assert x["median_latency_from_end_ms"] < x["median_latency_ms"]


@pytest.mark.parametrize("make_args, message", [
    (lambda p: ["--wav", str(p / "rec.wav")], "error: --wav and --truth go together"),
    (lambda p: ["--wav", str(p / "missing.wav"), "--truth", str(p / "good.csv")], f"file {{p}}/missing.wav: not found"),
    (lambda p: ["--wav", str(p / "rec.wav"), "--truth", str(p / "bad.csv")],
     "error: truth file {p}/bad.csv: header must be start_s,end_s,label, found start,end,label"),
    (lambda p: ["--wav", str(p / "rec.wav"), "--truth", str(p / "late.csv")],
     "error: truth file {p}/late.csv: keyword 'go' starts at 5 s, after the end of {p}/rec.wav (2.00 s)"),
])
def test_command_line_user_errors_exit_2_with_one_line(tmp_path, capsys, make_args, message):
    write_wav(tmp_path / "rec.wav", np.zeros(16000 * 2, np.int16), 16000)
    (tmp_path / "good.csv").write_text("start_s,end_s,label\n0.5,1.0,yes\n")
    (tmp_path / "bad.csv").write_text("start,end,label\n0.5,1.0,yes\n")
    (tmp_path / "late.csv").write_text("start_s,end_s,label\n5,5.5,go\n")
    assert sq.main(make_args(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message.format(p=tmp_path) in err


@needs_emulator_and_speech
def test_window_rows_are_what_the_window_runtime_firmware_detects():
    """The committed model is "same"-padded, so its firmware runs the window runtime: the Python
    window row (the streaming runtime's comparison) must detect exactly what that firmware does."""
    from codegen.tables import read_model
    from host.evaluate import model_tables_dir

    stream = generated_stream(6, 2, np.random.default_rng(3), seed=3)
    model = read_model(model_tables_dir())
    assert not model.streamable
    run = sq.run_stream(stream, 4, sq.detector_defaults(4))
    got = sq.window_runtime_detections(stream.audio, model, model.exit_thresholds_q16)
    assert got == run.detections and len(got) >= 3


@pytest.mark.parametrize("module", ["host.streaming_quality", "host.demo", "host.evaluate"])
def test_help_gives_the_whole_first_paragraph_and_every_option_a_help(module, capsys):
    """--help shows the module's first paragraph whole (not cut after its first line), and no option is bare."""
    mod = importlib.import_module(module)
    with pytest.raises(SystemExit) as done:
        mod.main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert " ".join(mod.__doc__.split("\n\n")[0].split()) in " ".join(out.split())
    lines = out.split("options:")[1].splitlines()[1:] + [""]
    for line, following in zip(lines, lines[1:]):
        bare = re.fullmatch(r"  -[-\w]+( [A-Z_]+)?(, --[-\w]+( [A-Z_]+)?)?", line) is not None
        assert not (bare and not following.startswith(" " * 8)), f"{module}: option without help: {line.strip()}"
