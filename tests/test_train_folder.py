"""`python -m model.train --dataset DIR` on a generated folder-per-class dataset (espeak-ng words in
folders, a `_silence_` folder of noise, files at other rates, stereo, longer than 1 s, one broken):
labels from the folder names, counts of what loading adjusted, cross-entropy training, codegen into a
temporary folder, the host C build equal to the integer reference on every clip, model.evaluate on the
folder with the checkpoint's labels; and one clear error
(exit code 2) for each kind of bad dataset. No ../shared needed."""
from __future__ import annotations

import hashlib
import json
import shutil
import warnings

import numpy as np
import pytest

from codegen import harness, reference
from codegen.__main__ import load as codegen_load
from codegen.__main__ import main as codegen_main
from model.audio import resample, write_wav
from model.checkpoint import read_checkpoint
from model.datasets import LABELS, SkippedFilesWarning, load_folder_dataset
from model.evaluate import main as evaluate_main
from model.frontend import compute_features
from model.paths import TEACHER_DIR
from model.train import main as train_main

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
WORDS = ("cherry", "apple", "banana")
VOICES = ("en-us", "en-us+m3", "en-us+f2", "en-us+m6")


def _noise(rng, n: int) -> np.ndarray:
    return np.clip(rng.normal(0, 400, n), -32768, 32767).astype(np.int16)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """The folder and what was written: (root, {adjustment: count})."""
    from model.synth import synthesize
    root = tmp_path_factory.mktemp("words")
    rng = np.random.default_rng(0)
    n = 0
    for word in WORDS:
        (root / word).mkdir()
        for i, voice in enumerate(VOICES):
            for speed in (0.8, 1.0, 1.2):
                x = synthesize(word, voice=voice, speed=speed)
                x = np.clip(x.astype(np.int32) + _noise(rng, len(x)) // 4, -32768, 32767).astype(np.int16)
                name = root / word / f"{voice}_nohash_{n}.wav"
                if n % 4 == 1:
                    write_wav(name, resample(x, 16000, 8000), rate=8000)          # resampled
                elif n % 4 == 2:
                    write_wav(name, np.stack([x, x], axis=1))                    # mixed down
                elif n % 4 == 3:
                    write_wav(name, np.concatenate([np.zeros(8000, np.int16), x]))  # cut to the loudest 1 s
                else:
                    write_wav(name, x[2000:14000])                               # padded
                n += 1
    (root / "_silence_").mkdir()
    for i in range(8):
        write_wav(root / "_silence_" / f"noise{i}.wav", _noise(rng, 16000))
    (root / "apple" / "broken.wav").write_bytes(b"RIFF\x00\x00")                # skipped
    (root / "notes.txt").write_text("not a class")
    written = {"resampled": 9, "mixed down": 9, "cut to the loudest 1 s": 9, "padded to 1 s": 9, "skipped": 1}
    return root, written


@needs_espeak
def test_labels_and_adjustments(dataset):
    root, written = dataset
    with pytest.warns(SkippedFilesWarning, match="skipped 1 of 45 unreadable files"):
        ds = load_folder_dataset(root, progress=False)
    assert ds.labels == ["_silence_", "apple", "banana", "cherry"]
    assert ds.adjusted == written
    assert len(ds.clips) == 44 and sorted(np.bincount(ds.clips.labels)) == [8, 12, 12, 12]
    assert [ds.labels[c] for c in ds.clips.labels[:1]] == ["_silence_"]
    few = load_folder_dataset(root, clips_per_class=5, progress=False)
    assert np.bincount(few.clips.labels).tolist() == [5, 5, 5, 5]


@needs_espeak
def test_train_codegen_and_c_equal_reference(dataset, tmp_path, capsys):
    root, _ = dataset
    ckpt = tmp_path / "words.safetensors"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)
        test_dir = tmp_path / "test"                      # a test set without _silence_ and cherry
        for word in ("apple", "banana"):
            shutil.copytree(root / word, test_dir / word)
        rc = train_main(["--dataset", str(root), "--out", str(ckpt), "--epochs", "2", "--copies", "2",
                         "--batch", "16", "--no-progress", "--test-dataset", str(test_dir)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "resampled 9, mixed down 9, cut to the loudest 1 s 9, padded to 1 s 9, skipped 1" in out
    _, meta = read_checkpoint(ckpt)
    assert meta["labels"] == ["_silence_", "apple", "banana", "cherry"]
    assert meta["training"]["loss"] == "cross-entropy" and meta["config"]["classes"] == 4
    n_test = sum(1 for w in ("apple", "banana") for p in (test_dir / w).iterdir())
    assert meta["test"]["n"] <= n_test and set(meta["test"]["per_class_accuracy"]) == {"apple", "banana"}

    gen = tmp_path / "gen"
    assert codegen_main([str(ckpt), "-o", str(gen), "--quiet"]) == 0
    assert "#define BITEAR_MODEL_NEVER_EVENT_MASK 0x00000001u" in (gen / "bitear_model_tables.h").read_text()
    assert json.loads((gen / "bitear_model_manifest.json").read_text())["labels"] == meta["labels"]
    model, _ = codegen_load(ckpt)
    with pytest.warns(SkippedFilesWarning):
        ds = load_folder_dataset(root, progress=False)
    x = compute_features(ds.clips.audio)
    want = reference.infer(model, x)
    with harness.open_runtime("host", gen) as rt:
        got = rt.run(x)
    for key in ("label", "exit_index", "entropy_q16", "logits", "scores_q15"):
        assert np.array_equal(np.asarray(got[key]).reshape(-1), np.asarray(getattr(want, key)).reshape(-1)), key

    # model.evaluate reads the same folder with the checkpoint's labels
    with pytest.warns(SkippedFilesWarning):
        assert evaluate_main([str(ckpt), str(root), "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out.strip().splitlines()[-1])
    assert report["n"] == len(ds.clips) and set(report["per_class_accuracy"]) == set(meta["labels"])
    for label in meta["labels"]:
        assert f"  {label:10} " in out
    other = tmp_path / "other"
    _wav(other / "apple" / "a.wav", np.random.default_rng(1))
    _wav(other / "durian" / "d.wav", np.random.default_rng(2))
    assert evaluate_main([str(ckpt), str(other)]) == 2
    assert "class folder(s) ['durian'] are not labels of the checkpoint" in capsys.readouterr().err


def _run(argv, capsys) -> tuple[int, str]:
    rc = train_main(argv)
    return rc, capsys.readouterr().err


def _wav(path, rng) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, _noise(rng, 16000))


@pytest.mark.parametrize("case, message", [
    ("one class", "1 class folder(s) ['yes'], expected at least 2"),
    ("empty class", "class folder no/ holds no audio file"),
    ("only broken files", "no readable audio in class folder(s) no/"),
    ("long label", "folder name 'a_label_much_longer_than_23' is not a label the firmware can carry"),
    ("too many classes", "33 class folders, the firmware carries at most 32"),
])
def test_bad_datasets_are_one_clear_error(case, message, tmp_path, capsys):
    rng = np.random.default_rng(1)
    root = tmp_path / "d"
    _wav(root / "yes" / "a.wav", rng)
    if case == "empty class":
        (root / "no").mkdir()
    elif case == "only broken files":
        (root / "no").mkdir()
        (root / "no" / "x.wav").write_bytes(b"garbage")
    elif case == "long label":
        _wav(root / "a_label_much_longer_than_23" / "a.wav", rng)
    elif case == "too many classes":
        for i in range(32):
            _wav(root / f"w{i}" / "a.wav", rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)
        rc, err = _run(["--dataset", str(root), "--out", str(tmp_path / "x.safetensors"), "--no-progress"], capsys)
    assert rc == 2 and message in err and "Traceback" not in err
    assert err.count("\n") == 1


def test_dataset_options_need_dataset_and_an_out(tmp_path, capsys):
    for option in (["--clips-per-class", "10"], ["--synthetic-voices", "5"]):
        rc, err = _run(option, capsys)
        assert rc == 2 and "--clips-per-class, --test-dataset, --init and --synthetic-voices need --dataset DIR" in err
    rc, err = _run(["--dataset", str(tmp_path), "--out", str(tmp_path / "x.safetensors"), "--vtlp", "1.5"], capsys)
    assert rc == 2 and "--vtlp: expected a share in [0, 1], found 1.5" in err
    rc, err = _run(["--dataset", str(tmp_path), "--out", str(tmp_path / "x.safetensors"), "--synthetic-voices", "-1"], capsys)
    assert rc == 2 and "--synthetic-voices: expected >= 0, found -1" in err
    rc, err = _run(["--dataset", str(tmp_path)], capsys)
    assert rc == 2 and "name the checkpoint to write with --out" in err


def test_init_from_a_backbone(tmp_path, capsys):
    """--init loads a model.pretrain backbone before training (recorded in the checkpoint); a file that
    is not a backbone is one clear error."""
    from model.pretrain import save_backbone
    from model.student import BinaryStudent
    from codegen import testing

    rng = np.random.default_rng(2)
    root = tmp_path / "d"
    for word in ("hiss", "hum"):
        for i in range(12):
            _wav(root / word / f"s{i % 3}_nohash_{i}.wav", rng)
    backbone = tmp_path / "bb.safetensors"
    save_backbone(backbone, BinaryStudent(), {})
    ckpt = tmp_path / "x.safetensors"
    base = ["--dataset", str(root), "--out", str(ckpt), "--epochs", "1", "--copies", "1", "--batch", "8", "--no-progress"]
    rc, err = _run(base + ["--init", str(testing.cached_random_checkpoint(seed=0))], capsys)
    assert rc == 2 and "not a bitear-backbone file" in err
    rc, err = _run(base + ["--init", str(backbone)], capsys)
    assert rc == 0, err
    _, meta = read_checkpoint(ckpt)
    assert meta["init"]["sha256"] == hashlib.sha256(backbone.read_bytes()).hexdigest()
    assert meta["labels"] == ["hiss", "hum"]


def test_speaker_of_a_file():
    from pathlib import Path

    from model.datasets import folder_speaker
    assert folder_speaker(Path("yes/0a7c2a8d_nohash_1.wav")) == "0a7c2a8d"
    assert folder_speaker(Path("_unknown_/bed_0a7c2a8d_nohash_0.wav.wav")) == "0a7c2a8d"
    assert folder_speaker(Path("zero/0_george_12.wav")) == "george"
    assert folder_speaker(Path("hi/take1.wav")) == "hi/take1"


@needs_espeak
def test_synthetic_voices_speak_the_folder_names():
    """--synthetic-voices: every word label gets N clips of its name (`_` read as a space), labelled by
    its index among the dataset's labels; `_silence_` gets none."""
    from model.train_folder import synthetic_clips
    labels = ["_silence_", "apple", "turn_on"]
    clips = synthetic_clips(labels, 3, seed=0, progress=False)
    assert sorted(clips.words) == ["apple"] * 3 + ["turn on"] * 3
    assert [labels[i] for i in clips.labels] == [{"apple": "apple", "turn on": "turn_on"}[w] for w in clips.words]
    assert clips.audio.shape == (6, 16000) and all(np.abs(clip).max() > 1000 for clip in clips.audio)


def test_test_dataset_labels_must_be_training_labels(dataset, tmp_path, capsys):
    """A test folder may lack classes (`_silence_`), but a class the training set does not have is one error."""
    root, _ = dataset
    _wav(tmp_path / "test" / "apple" / "a.wav", np.random.default_rng(1))
    _wav(tmp_path / "test" / "durian" / "d.wav", np.random.default_rng(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)
        rc, err = _run(["--dataset", str(root), "--test-dataset", str(tmp_path / "test"), "--out",
                        str(tmp_path / "x.safetensors"), "--no-progress"], capsys)
    assert rc == 2 and "class folder(s) ['durian'] are not labels of the training dataset" in err


def test_split_falls_back_when_a_class_has_no_validation_speaker():
    """Speaker-disjoint when every class is on both sides; else a seeded 30 % of the clips (FSDD with
    a `_silence_` folder: every noise file its own speaker, but every digit speaker on one side)."""
    from model.datasets import ClipSet
    from model.datasets import SPLIT_SALT, VAL_FRACTION
    from model.train_folder import split
    from model.datasets import speaker_split
    speakers = [f"s{i}" for i in range(40)]
    val_side = speaker_split(speakers, VAL_FRACTION, SPLIT_SALT)
    train_only = [s for s, v in zip(speakers, val_side) if not v][:2]
    both = speakers[:20]
    def clips(rows):
        return ClipSet(np.zeros((len(rows), 16000), np.int16), np.array([label for label, _ in rows]),
                       ["w"] * len(rows), [spk for _, spk in rows], ["t"] * len(rows))
    mixed = clips([(0, s) for s in both] + [(1, s) for s in both])
    _, _, rule = split(mixed, 0.3, seed=0)
    assert rule.startswith("speaker-disjoint")
    lopsided = clips([(0, s) for s in both] + [(1, s) for s in train_only for _ in range(10)])
    train, val, rule = split(lopsided, 0.3, seed=0)
    assert rule.startswith("seeded per clip") and len(val) == round(0.3 * len(lopsided))


def test_the_teachers_labels_distil_without_the_shared_data(tmp_path, monkeypatch, capsys):
    """Folders named after the teacher's 12 labels are distilled from the teacher that ships in the
    repository, also where no shared data folder exists (a fresh clone)."""
    monkeypatch.setenv("BITEAR_DATA", str(tmp_path / "no_data"))
    rng = np.random.default_rng(3)
    root = tmp_path / "d"
    for label in LABELS:
        for i in range(4):
            _wav(root / label / f"s{i % 2}_nohash_{i}.wav", rng)
    ckpt = tmp_path / "kd.safetensors"
    rc, err = _run(["--dataset", str(root), "--out", str(ckpt), "--epochs", "1", "--copies", "1", "--batch", "8",
                    "--no-progress"], capsys)
    assert rc == 0, err
    _, meta = read_checkpoint(ckpt)
    assert meta["training"]["loss"] == "distillation"
    assert meta["teacher_sha256"] == hashlib.sha256((TEACHER_DIR / "ds_cnn_l_weights.npz").read_bytes()).hexdigest()
