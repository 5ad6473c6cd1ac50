"""Tests of the teacher: MFCC front end (model/mfcc.py), DS-CNN-L port (model/teacher.py), logits cache.

Without shared data: the front end against a literal transcription of TF's filterbank loop, the
tinygrad network on random weights against a plain float64 numpy reference of the same TF layers
(unfolded batch norm, NHWC, explicit SAME padding), weight-file errors, and the cache.
With shared data (../shared/data or $BITEAR_DATA, skipped otherwise): TensorFlow's reference
features and logits for every clip of speech_commands_v2_dev.
"""
from __future__ import annotations

import math
import wave

import numpy as np
import pytest

from model import mfcc as M
from model.errors import BitearError
from model.checkpoint import read_checkpoint
from model.paths import REPO_ROOT, TEACHER_DIR, data_dir
from model.teacher import LABELS, Teacher, expected_keys, numpy_forward
from model.teacher_cache import TeacherCache, clip_keys, teacher_logits_cached

RNG = np.random.default_rng(1234)


# ---- front end -------------------------------------------------------------------------------
def tf_mfcc_one_clip(samples: np.ndarray) -> np.ndarray:
    """TF's AudioSpectrogram + Mfcc for one float clip, transcribed loop by loop from the C++ kernels."""
    def mel(f: float) -> float:
        return 1127.0 * math.log(1.0 + f / 700.0)
    n_bins, channels = 513, 40
    lo, hi = mel(20.0), mel(4000.0)
    spacing = (hi - lo) / (channels + 1)
    centres = [lo + spacing * (i + 1) for i in range(channels + 1)]
    hz = 0.5 * 16000 / (n_bins - 1)
    start, end = int(1.5 + 20.0 / hz), int(4000.0 / hz)
    band, weight, ch = [-2] * n_bins, [0.0] * n_bins, 0
    for i in range(n_bins):
        if start <= i <= end:
            while ch < channels and centres[ch] < mel(i * hz):
                ch += 1
            band[i] = ch - 1
            c = band[i]
            weight[i] = ((centres[c + 1] - mel(i * hz)) / (centres[c + 1] - centres[c]) if c >= 0
                         else (centres[0] - mel(i * hz)) / (centres[0] - lo))
    window = [0.5 - 0.5 * math.cos(2 * math.pi * n / 640) for n in range(640)]
    out = np.zeros((49, 10))
    for t in range(49):
        frame = samples[t * 320:t * 320 + 640].astype(np.float64) * window
        power = np.abs(np.fft.rfft(frame, 1024)) ** 2
        power = power.astype(np.float32)  # AudioSpectrogram's output tensor is float32
        energies = [0.0] * channels
        for i in range(start, end + 1):
            spec = math.sqrt(power[i])
            c = band[i]
            if c >= 0:
                energies[c] += spec * weight[i]
            if c + 1 < channels:
                energies[c + 1] += spec - spec * weight[i]
        logs = [math.log(max(e, 1e-12)) for e in energies]
        for k in range(10):
            out[t, k] = sum(math.sqrt(2 / 40) * math.cos(math.pi / 40 * k * (j + 0.5)) * logs[j] for j in range(40))
    return out.astype(np.float32)


def test_mfcc_matches_tf_loops() -> None:
    audio = (RNG.normal(0, 3000, size=(2, 16000))).clip(-32768, 32767).astype(np.int16)
    ours = M.mfcc(audio)
    assert ours.shape == (2, 49, 10) and ours.dtype == np.float32
    for clip, feats in zip(audio, ours):
        ref = tf_mfcc_one_clip(clip.astype(np.float32) / 32768)
        np.testing.assert_allclose(feats, ref, rtol=0, atol=2e-5)


def test_mfcc_of_silence_is_the_log_floor() -> None:
    feats = M.mfcc(np.zeros((1, 16000), np.int16))[0]
    np.testing.assert_allclose(feats[:, 0], math.sqrt(2 / 40) * 40 * math.log(1e-12), rtol=1e-6)
    np.testing.assert_allclose(feats[:, 1:], 0, atol=1e-4)


def test_mfcc_cuts_and_pads_like_decodewav() -> None:
    clip = RNG.integers(-2000, 2000, size=(1, 16000), dtype=np.int16)
    np.testing.assert_array_equal(M.mfcc(clip[:, :12000]), M.mfcc(np.pad(clip[:, :12000], ((0, 0), (0, 4000)))))
    np.testing.assert_array_equal(M.mfcc(np.pad(clip, ((0, 0), (0, 500)), constant_values=999)), M.mfcc(clip))
    with pytest.raises(TypeError, match="int16"):
        M.mfcc(clip.astype(np.float32))


# ---- network on random weights vs a float64 reference ----------------------------------------
def random_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    raw = {}
    for key, shape in expected_keys().items():
        if key.endswith("moving_variance"):
            value = rng.uniform(0.2, 2.0, shape)
        elif key.endswith("__Const"):  # gamma, including negative values
            value = rng.uniform(-1.5, 1.5, shape)
        elif key.endswith("weights"):
            fan_in = int(np.prod(shape[:-1])) if "depthwise" not in key else 9
            value = rng.normal(0, math.sqrt(2 / fan_in), shape)
        else:
            value = rng.normal(0, 0.3, shape)
        raw[key] = value.astype(np.float32)
    return raw


def ref_same_pad(x: np.ndarray, kh: int, kw: int, sh: int, sw: int) -> tuple[np.ndarray, int, int]:
    h, w = x.shape[1:3]
    ho, wo = math.ceil(h / sh), math.ceil(w / sw)
    ph, pw = max((ho - 1) * sh + kh - h, 0), max((wo - 1) * sw + kw - w, 0)
    return np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0))), ho, wo


def ref_conv(x: np.ndarray, w: np.ndarray, stride: tuple[int, int], depthwise: bool = False) -> np.ndarray:
    kh, kw = w.shape[:2]
    xp, ho, wo = ref_same_pad(x, kh, kw, *stride)
    out = 0.0
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i:i + stride[0] * (ho - 1) + 1:stride[0], j:j + stride[1] * (wo - 1) + 1:stride[1], :]
            out = out + (patch * w[i, j, :, 0] if depthwise else patch @ w[i, j])
    return out


def ref_bn_relu(x: np.ndarray, raw: dict, scope: str) -> np.ndarray:
    g = lambda name: raw[f"MobileNet__{scope}__{name}"].astype(np.float64)  # noqa: E731
    y = g("Const") * (x - g("moving_mean")) / np.sqrt(g("moving_variance") + 1e-3) + g("beta")
    return np.maximum(y, 0)


def reference_logits(raw: dict, features: np.ndarray) -> np.ndarray:
    """DS-CNN-L exactly as the TF graph lists it, in float64."""
    return reference_embedding(raw, features) @ raw["MobileNet__fc1__weights"].astype(np.float64) \
        + raw["MobileNet__fc1__biases"].astype(np.float64)


def reference_embedding(raw: dict, features: np.ndarray) -> np.ndarray:
    """The (N, 276) average-pooled features in front of DS-CNN-L's fully connected layer, float64."""
    r = {k: v.astype(np.float64) for k, v in raw.items()}
    x = features.astype(np.float64)[..., None]
    x = ref_bn_relu(ref_conv(x, r["MobileNet__conv_1__weights"], (2, 1)) + r["MobileNet__conv_1__biases"],
                    r, "conv_1__batch_norm")
    for i in range(1, 6):
        s = f"conv_ds_{i}"
        stride = (2, 2) if i == 1 else (1, 1)
        x = ref_conv(x, r[f"MobileNet__{s}__depthwise_conv__depthwise_weights"], stride, depthwise=True)
        x = ref_bn_relu(x + r[f"MobileNet__{s}__depthwise_conv__biases"], r, f"{s}__dw_batch_norm")
        x = ref_conv(x, r[f"MobileNet__{s}__pointwise_conv__weights"], (1, 1))
        x = ref_bn_relu(x + r[f"MobileNet__{s}__pointwise_conv__biases"], r, f"{s}__pw_batch_norm")
    assert x.shape[1:] == (13, 5, 276)
    return x.mean(axis=(1, 2))


@pytest.fixture(scope="module")
def random_teacher() -> tuple[Teacher, dict]:
    raw = random_weights(np.random.default_rng(7))
    return Teacher(raw, sha256="f" * 64, batch_size=4), raw


def test_network_matches_float64_reference(random_teacher) -> None:
    teacher, raw = random_teacher
    features = RNG.normal(0, 5, size=(5, 49, 10)).astype(np.float32)  # 5 = one full batch of 4 + a padded one
    ref = reference_logits(raw, features)
    for backend in ("tinygrad", "numpy"):
        ours = teacher.logits_from_features(features, backend=backend)
        assert ours.shape == (5, 12) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-5 * np.abs(ref).max(), err_msg=backend)
    np.testing.assert_allclose(numpy_forward(teacher.folded, features[:1]), ref[:1], atol=1e-4 * np.abs(ref).max())


def test_logits_and_embedding_match_the_reference(random_teacher) -> None:
    teacher, raw = random_teacher
    features = RNG.normal(0, 5, size=(21, 49, 10)).astype(np.float32)  # 21: more than one numpy chunk
    logits, embedding = teacher.logits_and_embedding(features)
    ref = reference_embedding(raw, features)
    assert embedding.shape == (21, 276) and embedding.dtype == np.float32 and logits.dtype == np.float32
    np.testing.assert_allclose(embedding, ref, rtol=0, atol=2e-5 * np.abs(ref).max())
    np.testing.assert_allclose(logits, teacher.logits_from_features(features, backend="numpy"), rtol=0, atol=1e-4)


# ---- weight-file errors ----------------------------------------------------------------------
def test_weight_file_errors(tmp_path) -> None:
    raw = random_weights(np.random.default_rng(0))
    with pytest.raises(BitearError, match="not found.*nothing.npz"):
        Teacher.load(tmp_path / "nothing.npz")
    with pytest.raises(BitearError, match="ds_cnn_l_weights.npz"):
        Teacher.load(tmp_path)  # a folder without the weights file
    (tmp_path / "garbage.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(BitearError, match="garbage.npz is not a readable .npz"):
        Teacher.load(tmp_path / "garbage.npz")
    missing = "MobileNet__conv_ds_3__pw_batch_norm__beta"
    np.savez(tmp_path / "partial.npz", **{k: v for k, v in raw.items() if k != missing})
    with pytest.raises(BitearError, match=f"partial.npz lacks the tensor '{missing}'"):
        Teacher.load(tmp_path / "partial.npz")
    np.savez(tmp_path / "shape.npz", **{**raw, "MobileNet__fc1__biases": np.zeros(10, np.float32)})
    with pytest.raises(BitearError, match=r"'MobileNet__fc1__biases' has shape \(10,\)"):
        Teacher.load(tmp_path / "shape.npz")


def test_shipped_weights_need_no_data_folder(tmp_path, monkeypatch) -> None:
    """The teacher ships in the repository: it loads with an empty data folder, and it is the
    teacher the shipped checkpoints were distilled from (their recorded sha256)."""
    monkeypatch.setenv("BITEAR_DATA", str(tmp_path))
    teacher = Teacher.load(batch_size=2)
    for name in ("kws12", "kws12_streamable"):
        _, meta = read_checkpoint(REPO_ROOT / "model" / "checkpoints" / f"{name}.safetensors")
        assert teacher.sha256 == meta["teacher_sha256"], name
    assert (TEACHER_DIR / "LICENSE").read_text().lstrip().startswith("Apache License")


def test_load_and_hash(tmp_path) -> None:
    raw = random_weights(np.random.default_rng(0))
    np.savez(tmp_path / "ds_cnn_l_weights.npz", **raw)
    a, b = Teacher.load(tmp_path, batch_size=2), Teacher.load(tmp_path / "ds_cnn_l_weights.npz", batch_size=2)
    assert a.sha256 == b.sha256 and len(a.sha256) == 64


# ---- cache -----------------------------------------------------------------------------------
class CountingTeacher(Teacher):
    computed = 0

    def logits(self, audio: np.ndarray, backend: str = "tinygrad") -> np.ndarray:
        self.computed += len(audio)
        return super().logits(audio, backend)


def test_cache_computes_each_clip_once(tmp_path) -> None:
    teacher = CountingTeacher(random_weights(np.random.default_rng(3)), sha256="a" * 64, batch_size=4)
    clips = RNG.integers(-3000, 3000, size=(5, 16000), dtype=np.int16)
    audio = np.concatenate([clips, clips[:2]])  # 7 clips, 5 distinct
    direct = teacher.logits(audio)
    teacher.computed = 0
    first = teacher_logits_cached(audio, teacher=teacher, root=tmp_path)
    assert teacher.computed == 5
    np.testing.assert_array_equal(first, direct)
    again = teacher_logits_cached(audio[::-1], teacher=teacher, root=tmp_path)
    assert teacher.computed == 5
    np.testing.assert_array_equal(again, first[::-1])
    # another process: a fresh store on the same folder sees the shards
    found_logits, found = TeacherCache("a" * 64, root=tmp_path).get(clip_keys(audio))
    assert found.all() and np.array_equal(found_logits, first)
    # a short clip is keyed like its zero-padded version (the teacher sees the same samples)
    np.testing.assert_array_equal(clip_keys(audio[:1, :9000]), clip_keys(np.pad(audio[:1, :9000], ((0, 0), (0, 7000)))))


def test_cache_ignores_a_corrupt_shard(tmp_path) -> None:
    (tmp_path / "0000.npz").write_bytes(b"broken")
    with pytest.warns(UserWarning, match="0000.npz"):
        _, found = TeacherCache("b" * 64, root=tmp_path).get(np.zeros((1, 20), np.uint8))
    assert not found.any()


def test_cache_rejects_non_int16(tmp_path) -> None:
    with pytest.raises(TypeError, match="int16"):
        teacher_logits_cached(np.zeros((1, 16000), np.float32), root=tmp_path)


# ---- real teacher on speech_commands_v2_dev (shared data) ------------------------------------
def read_wav(path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000), path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


@pytest.fixture(scope="module")
def dev():
    root = data_dir()
    teacher_dir = None if root is None else root / "teacher_ds_cnn_l"
    if teacher_dir is None or not (teacher_dir / "reference_outputs_dev.npz").is_file() \
            or not (root / "speech_commands_v2_dev").is_dir():
        pytest.skip("shared data (teacher_ds_cnn_l/, speech_commands_v2_dev/) not available")
    with np.load(teacher_dir / "reference_outputs_dev.npz") as z:
        ref = {k: z[k] for k in z.files}
    audio = np.stack([M.fit_length(read_wav(root / "speech_commands_v2_dev" / f)) for f in ref["files"]])
    labels = np.array([LABELS.index(str(f).split("/")[0]) for f in ref["files"]])
    return M.mfcc(audio), labels, ref, Teacher.load()  # the weights shipped in the repository


def test_dev_mfcc_matches_tensorflow(dev) -> None:
    features, _, ref, _ = dev
    err = np.abs(features - ref["mfcc"])
    print(f"mfcc max abs error {err.max():.3g} over {len(features)} clips")
    assert err.max() < 1e-4


@pytest.mark.parametrize("backend", ["tinygrad", "numpy"])
def test_dev_logits_match_tensorflow_on_every_clip(dev, backend) -> None:
    features, labels, ref, teacher = dev  # teacher.logits(audio) == logits_from_features(mfcc(audio))
    logits = teacher.logits_from_features(features, backend=backend)
    err = np.abs(logits - ref["logits"])
    accuracy = (logits.argmax(1) == labels).mean()
    print(f"{backend}: logits max abs error {err.max():.3g}, accuracy {accuracy * 100:.2f} % on {len(features)} clips")
    assert err.max() < 1e-3
    assert np.array_equal(logits.argmax(1), ref["logits"].argmax(1))
    assert accuracy == pytest.approx(0.9157, abs=5e-5)  # README: TF reference 91.57 % on this dev part
