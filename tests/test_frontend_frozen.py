"""The front end's output bytes are frozen: every build (host, Cortex-M4 DSP path, Cortex-M4 plain C,
Cortex-M0+) must give the very frames recorded here, as sha256 of the frame stream.

The features the shipped model was trained on, and every bit-exactness test downstream, depend on
these bytes, so a faster front end must reproduce them exactly. The hashes were recorded with the
plain-C path of `firmware/lib/bitear/bitear_frontend.c` on the host:

    .venv/bin/python -m tests.test_frontend_frozen     # prints the current hashes as a dict literal

Inputs: a generated stream (deterministic numpy: tones, chirps, noise at every level, clipping
full scale, clicks, DC, silence, level jumps), espeak-ng words at four levels, and, when
`../shared/data` exists, every Speech Commands clip and a background-noise recording. For audio
from outside numpy the input's hash is recorded too; a different espeak-ng or data set skips
(it cannot be compared), it does not fail.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from model import frontend as F
from model.audio import fit_to_one_second, read_wav, resample, to_mono
from model.facts import HOP, SAMPLE_RATE

DATA = Path(os.environ.get("BITEAR_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
WORDS = [("yes", "en-us"), ("seven", "en-gb+f3"), ("stop", "en-us+m3"), ("left", "en-us+f2"), ("house", "de"),
         ("zero", "fr-fr"), ("nine", "en-us"), ("off", "en-gb")]
GAINS = (0.003, 0.1, 1.0, 8.0)

# name -> (sha256 of the input int16 bytes, sha256 of the int8 frames)
FROZEN = {
    "generated_stream": ("5fb393e45726a5f4a65448b01eb56f465737e785a3aa263e160da7930a49ddf8",
        "d088c72a08602af3d5c76be9bb60772d245c9ce92a323737b04be63e9aaa8250"),
    "espeak_clips": ("f73b55eefc17a536be2df37b2db8bec68ac2ebeda837586b381392315ad74001",
        "85b506273982b13ec2abe8d8d45af5677fbf80a7d4b44dab416c4d3ca8f67d1c"),
    "speech_commands_clips": ("de46fabbc3a41a40a66e5148714ea00552bbf2b74a645a2b5baa9f3feef92fcd",
        "f8c28e8203b3968432d09b61e723da83259d223dae5730ddd3ad687f8f7f1b19"),
    "background_stream": ("6401c35e168fa689e7fbfa6a9776c8156c81098dc71f5fd0abaeed7fe9d24c48",
        "e77ef86a487dae1655942ad698e3890722161ceac82a7d980caf099627e3e072"),
}


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def as_int16(x) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def generated_stream(seconds: int = 24) -> np.ndarray:
    """Deterministic test stream: one second of each kind of signal, every level from 1 LSB to clipping."""
    rng = np.random.default_rng(24)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    parts = [np.zeros(SAMPLE_RATE)]
    for level in (1, 3, 30, 300, 3000, 30000):
        f = rng.uniform(60, 7900)
        parts.append(level * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)))
    for sigma in (0.6, 2, 40, 1000, 12000, 1e6):                       # 1e6: full-scale clipping noise
        parts.append(rng.normal(0, sigma, SAMPLE_RATE))
    parts.append(9000 * np.sin(2 * np.pi * (100 * t + 3900 * t ** 2)))  # chirp through the whole band
    parts.append(np.where(np.sin(2 * np.pi * 440 * t) >= 0, 40000, -40000))   # square, full scale
    parts.append(np.where(np.arange(SAMPLE_RATE) % 2, 32767, -32768))          # Nyquist, full scale
    parts.append(np.full(SAMPLE_RATE, -32768.0) + 0.0 * t)                      # DC, most negative
    clicks = np.zeros(SAMPLE_RATE)
    clicks[rng.integers(0, SAMPLE_RATE, 12)] = rng.choice([32767, -32768, 5, -1], 12)
    parts.append(clicks)
    # level jumps every 20 ms hop: the block-floating-point shift changes at every hop
    gains = 2.0 ** rng.integers(-2, 16, SAMPLE_RATE // HOP).repeat(HOP)
    parts.append(gains * rng.normal(0, 1, SAMPLE_RATE))
    for _ in range(seconds - len(parts)):                              # random mixtures
        mix = rng.normal(0, rng.uniform(1, 5000), SAMPLE_RATE)
        for _ in range(3):
            mix += rng.uniform(0, 20000) * np.sin(2 * np.pi * rng.uniform(30, 8000) * t + rng.uniform(0, 6.3))
        parts.append(mix)
    return as_int16(np.concatenate(parts))


def espeak_clips() -> np.ndarray | None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    clips = []
    with tempfile.TemporaryDirectory() as folder:
        for i, (word, voice) in enumerate(WORDS):
            wav = Path(folder) / f"{i}.wav"
            subprocess.run([exe, "-v", voice, "-w", str(wav), word], check=True, capture_output=True)
            x, rate = read_wav(wav)
            clip = fit_to_one_second(resample(to_mono(x), rate, SAMPLE_RATE), align="center").astype(np.float64)
            clips += [as_int16(clip * g) for g in GAINS]
    return np.stack(clips)


def speech_commands_clips() -> np.ndarray | None:
    folder = DATA / "speech_commands_v2_dev"
    if not folder.is_dir():
        return None
    return np.stack([read_wav(p)[0] for p in sorted(folder.glob("*/*.wav"))]).astype(np.int16)


def background_stream() -> np.ndarray | None:
    path = DATA / "background_noise" / "doing_the_dishes.wav"
    if not path.is_file():
        return None
    return read_wav(path)[0][:30 * SAMPLE_RATE].astype(np.int16)


def host_frames(name: str, audio: np.ndarray) -> np.ndarray:
    """Streams are pushed hop by hop from a fresh state; clip sets go through bitear_frontend_clips."""
    if name.endswith("_stream"):
        return F.StreamingFrontend().push_many(audio)
    return F.compute_features(audio)


INPUTS = {
    "generated_stream": generated_stream,
    "espeak_clips": espeak_clips,
    "speech_commands_clips": speech_commands_clips,
    "background_stream": background_stream,
}


def check_frozen(name: str, audio: np.ndarray | None, frames) -> None:
    if audio is None:
        pytest.skip(f"{name}: its source (espeak-ng or ../shared/data) is not available")
    in_hash, out_hash = FROZEN[name]
    if sha(audio) != in_hash:
        pytest.skip(f"{name}: the input differs from the recorded one (another espeak-ng or data set)")
    assert sha(frames(audio)) == out_hash, f"{name}: the front end's output bytes changed"


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_host_output_is_frozen(name):
    check_frozen(name, INPUTS[name](), lambda a: host_frames(name, a))


needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None and os.environ.get("CI") != "true",
                               reason="arm-none-eabi-gcc not installed")


@needs_arm
@pytest.mark.parametrize("build", ["m4_dsp", "m4_dsp_profile", "m4_plain_c", "m0plus"])
def test_emulated_output_is_frozen(build):
    """The generated stream, pushed hop by hop on the emulated cores, gives the frozen bytes (also the
    profiling build of host.bench_frontend, whose stages are out of line)."""
    from host.bench_frontend import M4Frontend

    audio = generated_stream()
    with M4Frontend(dsp=build.startswith("m4_dsp"), cpu="m0plus" if build == "m0plus" else "m4",
                    profile=build.endswith("profile")) as fe:
        frames = np.stack([fe.push(audio[i * HOP:(i + 1) * HOP], counting=None)[0] for i in range(len(audio) // HOP)])
    check_frozen("generated_stream", audio, lambda a: frames)


@needs_arm
def test_emulated_m4_on_real_clips_is_frozen():
    """A sample of real clips (every 25th) through the Cortex-M4 DSP path equals the host's frozen bytes."""
    from host.bench_frontend import M4Frontend

    clips = speech_commands_clips()
    if clips is None:
        pytest.skip("../shared/data is not available")
    sample = clips[::25]
    with M4Frontend(dsp=True) as fe:
        assert np.array_equal(fe.features(sample), F.compute_features(sample))
    check_frozen("speech_commands_clips", clips, lambda a: F.compute_features(a))


def main() -> int:
    print("FROZEN = {")
    for name, make in INPUTS.items():
        audio = make()
        if audio is not None:
            print(f'    "{name}": ("{sha(audio)}",\n        "{sha(host_frames(name, audio))}"),')
    print("}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
