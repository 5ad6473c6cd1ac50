"""Synthetic speech of any word with espeak-ng, flite and festival, as 1 s, 16 kHz mono int16 clips, cached on disk.

`synthesize(word, voice, speed, pitch, engine)` runs one engine once:
- espeak-ng: `voice` is a language voice with an optional variant, e.g. "en-us", "en-gb+f3", "de+m7";
  output is 22.05 kHz and resampled to 16 kHz with soxr. speed 1.0 = 175 words/min, pitch 1.0 = 50
  on espeak's 0-99 pitch scale.
- flite: `voice` is one of its built-in voices (`flite -lv`; "awb_time" is a talking clock and left
  out). kal is 8 kHz (resampled), the others 16 kHz. speed = 1/duration_stretch; pitch scales the
  voice's mean F0 (int_f0_target_mean). The clustergen voice "rms" ignores the pitch setting.
- festival: `voice` is one of the English voices of FESTIVAL_VOICES that is installed (Debian
  packages in FESTIVAL_VOICES); one `festival --pipe` per clip.
  The diphone voices kal/ked (16 kHz): speed = 1/Duration_Stretch, pitch scales the target mean F0
  of their intonation model (int_lr_params). The HTS voice slt (32 kHz, resampled): speed is the
  hts_engine's rate ("-r"); it ignores Duration_Stretch and int_lr_params, and festival's hts_engine
  ignores a half-tone shift ("-fm"), so it has no pitch control.
Unknown voices are an error (the engines would otherwise silently fall back to a default voice).
The result is trimmed of leading/trailing silence (10 ms frames 40 dB below the loudest, 20 ms
margin) and centred in 1 s (cut to the loudest second if longer).

`synthesize_words(words, n_variants, seed)` draws, per word, `n_variants` (engine, voice, speed,
pitch) combinations from a generator seeded by (seed, word), synthesizes what is not cached yet
(2 worker threads each driving an engine process), and returns a `ClipSet` whose speaker id is
"engine:voice". Cache: one .npy per clip under `cache_dir('tts')`, keyed by sha1 of word, engine,
engine version, voice, speed, pitch and SYNTH_VERSION (bump it when the processing here changes).
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from model.audio import SAMPLE_RATE, fit_to_one_second, read_wav, resample, to_mono
from model.datasets import ClipSet, label_of
from model.errors import BitearError
from model.paths import cache_dir

SYNTH_VERSION = 1
ENGINES = ("espeak-ng", "flite", "festival")
# The engines of the shipped 12-class recipe (its committed checkpoint was trained on their clips)
# and of host.stream_truth's streams: festival came later and is not drawn there, so those clips stay the same.
RECIPE_ENGINES = ("espeak-ng", "flite")
DEBIAN_PACKAGE = {"espeak-ng": "espeak-ng", "flite": "flite", "festival": "festival"}

# espeak-ng: English accents, a few other languages (accented English), and voice variants.
ESPEAK_LANGUAGES = (
    "en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
    "de", "nl", "fr-fr", "es", "it", "sv",
)
ESPEAK_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt3", "croak", "aunty", "grandpa")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
FLITE_F0_HZ = {"kal": 100.0, "kal16": 100.0, "awb": 110.0, "rms": 100.0, "slt": 165.0}  # measured default mean F0
ESPEAK_DEFAULT_WPM, ESPEAK_DEFAULT_PITCH = 175, 50
FESTIVAL_VOICES = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k", "cmu_us_slt_arctic_hts": "festvox-us-slt-hts"}  # -> Debian package
# The diphone voices' target mean F0 (int_lr_params of their voice files); the HTS voice slt has no pitch control.
FESTIVAL_F0_HZ = {"kal_diphone": 105.0, "ked_diphone": 105.0}


def _require(engine: str) -> str:
    if engine not in ENGINES:
        raise BitearError(f"unknown speech engine {engine!r}: use one of {', '.join(ENGINES)}")
    exe = shutil.which(engine)
    if exe is None:
        raise BitearError(f"{engine} is not installed: install the Debian package '{DEBIAN_PACKAGE[engine]}' (sudo apt-get install {DEBIAN_PACKAGE[engine]})")
    return exe


@functools.lru_cache(maxsize=None)
def engine_version(engine: str) -> str:
    """The engine's version line (part of the cache key)."""
    out = subprocess.run([_require(engine), "--version"], capture_output=True, text=True, timeout=30)
    text = (out.stdout + out.stderr).strip()
    return next((line.strip() for line in text.splitlines() if "version" in line.lower() or "text-to-speech" in line.lower()), text)


@functools.lru_cache(maxsize=None)
def _espeak_installed() -> tuple[frozenset[str], frozenset[str]]:
    """(language voices, variant names) that this espeak-ng installation has."""
    exe = _require("espeak-ng")

    def column(args: list[str], col: int) -> set[str]:
        lines = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30).stdout.splitlines()[1:]
        return {line.split()[col] for line in lines if len(line.split()) > col}

    languages = column(["--voices"], 1)
    variants = {f.split("/", 1)[1].lower() for f in column(["--voices=variant"], 4) if f.startswith("!v/")}
    return frozenset(languages), frozenset(variants)


@functools.lru_cache(maxsize=None)
def _flite_installed() -> frozenset[str]:
    out = subprocess.run([_require("flite"), "-lv"], capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    return frozenset(text.split(":", 1)[1].split()) if ":" in text else frozenset()


@functools.lru_cache(maxsize=None)
def _festival_installed() -> frozenset[str]:
    out = subprocess.run([_require("festival"), "--pipe"], input="(print (voice.list))", capture_output=True, text=True, timeout=30)
    return frozenset(out.stdout.strip().strip("()").split())


def english_voices(engine: str) -> list[str]:
    """`available_voices` restricted to English accents (espeak-ng "en-*"; all flite and festival voices are English)."""
    return [v for v in available_voices(engine) if engine != "espeak-ng" or v.startswith("en")]


def available_voices(engine: str) -> list[str]:
    """The voices of our chosen list that this machine's engine really has (espeak-ng: "lang" or "lang+variant")."""
    if engine == "espeak-ng":
        languages, variants = _espeak_installed()
        langs = [l for l in ESPEAK_LANGUAGES if l in languages]
        return [l + (f"+{v}" if v else "") for l in langs for v in ESPEAK_VARIANTS if not v or v in variants]
    if engine == "flite":
        installed = _flite_installed()
        return [v for v in FLITE_VOICES if v in installed]
    if engine == "festival":
        installed = _festival_installed()
        return [v for v in FESTIVAL_VOICES if v in installed]
    _require(engine)
    return []


def _check_voice(engine: str, voice: str) -> None:
    if engine == "espeak-ng":
        languages, variants = _espeak_installed()
        lang, _, variant = voice.partition("+")
        if lang not in languages or (variant and variant.lower() not in variants):
            raise BitearError(f"espeak-ng has no voice {voice!r} (see `espeak-ng --voices` and `espeak-ng --voices=variant`)")
    elif engine == "flite":
        if voice not in _flite_installed():
            raise BitearError(f"flite has no voice {voice!r} (available: {' '.join(sorted(_flite_installed()))})")
    elif engine == "festival":
        if voice not in available_voices("festival"):
            package = f"install the Debian package '{FESTIVAL_VOICES[voice]}'" if voice in FESTIVAL_VOICES else f"use one of {' '.join(FESTIVAL_VOICES)}"
            raise BitearError(f"festival has no voice {voice!r}: {package} (installed: {' '.join(available_voices('festival')) or 'none'})")
    else:
        _require(engine)


def trim_silence(x: np.ndarray, rate: int = SAMPLE_RATE, below_peak_db: float = 40.0, margin_ms: float = 20.0) -> np.ndarray:
    """Cut leading/trailing 10 ms frames whose RMS is `below_peak_db` under the loudest frame; keep a margin."""
    frame = rate // 100
    n_frames = len(x) // frame
    if n_frames == 0:
        return x
    rms = np.sqrt(np.mean(x[: n_frames * frame].astype(np.float64).reshape(n_frames, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10.0 ** (-below_peak_db / 20.0))
    if rms.max() == 0 or loud.size == 0:
        return x[:0]
    margin = int(rate * margin_ms / 1000)
    start = max(loud[0] * frame - margin, 0)
    end = min((loud[-1] + 1) * frame + margin, len(x))
    return x[start:end]


def _festival_script(word: str, voice: str, speed: float, pitch: float, out: Path) -> str:
    """The scheme that festival --pipe runs: select the voice, set speed and pitch, write `out`."""
    lines = [f"(voice_{voice})"]
    if voice in FESTIVAL_F0_HZ:  # a diphone voice
        lines.append(f"(Parameter.set 'Duration_Stretch {1.0 / speed:.4f})")
        lines.append(f"(set! int_lr_params (cons (list 'target_f0_mean {FESTIVAL_F0_HZ[voice] * pitch:.1f}) int_lr_params))")
    else:  # HTS: the engine's speech rate
        lines.append(f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {speed:.4f}))))')
    text = word.replace("\\", "\\\\").replace('"', '\\"')
    lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{text}")) "{out}" \'riff)')
    return "\n".join(lines) + "\n"


def synthesize(word: str, voice: str = "en-us", speed: float = 1.0, pitch: float = 1.0, engine: str = "espeak-ng") -> np.ndarray:
    """One word spoken by one engine/voice: int16[16000] at 16 kHz, trimmed and centred (not cached)."""
    exe = _require(engine)
    _check_voice(engine, voice)
    if not word.strip() or word.lstrip().startswith("-"):
        raise BitearError(f"cannot synthesize {word!r}: empty or starts with '-'")
    with tempfile.TemporaryDirectory(prefix="bitear-tts-") as tmp:
        out = Path(tmp) / "out.wav"
        script = None
        if engine == "espeak-ng":
            wpm = int(round(ESPEAK_DEFAULT_WPM * speed))
            p = int(np.clip(round(ESPEAK_DEFAULT_PITCH * pitch), 0, 99))
            cmd = [exe, "-v", voice, "-s", str(wpm), "-p", str(p), "-w", str(out), word]
        elif engine == "festival":
            cmd, script = [exe, "--pipe"], _festival_script(word, voice, speed, pitch, out)
        else:
            f0 = FLITE_F0_HZ.get(voice, 100.0) * pitch
            cmd = [exe, "-voice", voice, "--setf", f"duration_stretch={1.0 / speed:.4f}", "--setf", f"int_f0_target_mean={f0:.1f}", "-t", word, "-o", str(out)]
        run = subprocess.run(cmd, input=script, capture_output=True, text=True, timeout=60)
        if run.returncode != 0 or not out.is_file():
            raise BitearError(f"{engine} failed for {word!r} with voice {voice!r}: {(run.stderr or run.stdout).strip()[:300]}")
        x, rate = read_wav(out)
    x = resample(to_mono(x), rate, SAMPLE_RATE)
    speech = trim_silence(x)
    if speech.size == 0:
        raise BitearError(f"{engine} produced only silence for {word!r} with voice {voice!r}")
    return fit_to_one_second(speech, align="center")


@dataclass(frozen=True)
class Variant:
    """One way of saying a word."""

    word: str
    engine: str
    voice: str
    speed: float
    pitch: float

    def cache_key(self) -> str:
        fields = [SYNTH_VERSION, self.engine, engine_version(self.engine), self.voice, self.word, self.speed, self.pitch]
        return hashlib.sha1(json.dumps(fields).encode()).hexdigest()


def draw_variants(
    words: Sequence[str],
    n_variants: int,
    seed: int = 0,
    engines: Sequence[str] = ENGINES,
    speed_range: tuple[float, float] = (0.75, 1.3),
    pitch_range: tuple[float, float] = (0.7, 1.4),
    voices: Mapping[str, Sequence[str]] | None = None,
) -> list[Variant]:
    """Per word, n_variants random (engine, voice, speed, pitch); a word's variants depend only on (seed, word).

    voices: per engine, the voices to draw from (default: `available_voices(engine)`), e.g. to keep
    only English accents for keywords.
    """
    voices = {e: list(voices[e]) if voices and e in voices else available_voices(e) for e in engines}
    engines = [e for e in engines if voices[e]]
    if not engines:
        raise BitearError("no usable voices in the chosen speech engines")
    variants = []
    for word in words:
        rng = np.random.default_rng([seed, int(hashlib.sha1(word.encode()).hexdigest()[:12], 16)])
        for _ in range(n_variants):
            engine = engines[int(rng.integers(len(engines)))]  # engines equally likely, then a voice of it
            voice = voices[engine][int(rng.integers(len(voices[engine])))]
            speed = round(float(rng.uniform(*speed_range)), 3)
            pitch = round(float(rng.uniform(*pitch_range)), 3)
            variants.append(Variant(word, engine, voice, speed, pitch))
    return variants


def synthesize_cached(variant: Variant, cache: Path | None = None) -> np.ndarray:
    """`synthesize` for one variant, read from / written to the on-disk cache."""
    cache = cache or cache_dir("tts")
    path = cache / f"{variant.cache_key()}.npy"
    if path.is_file():
        return np.load(path)
    x = synthesize(variant.word, variant.voice, variant.speed, variant.pitch, variant.engine)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, x)
    os.replace(tmp, path)
    return x


def synthesize_words(words: Sequence[str], n_variants: int, seed: int = 0, *, workers: int = 2, progress: bool = True,
                     **variant_options: Any) -> ClipSet:
    """n_variants synthetic clips of every word (label from the word: keyword, else `_unknown_`), cached on disk.
    variant_options go to `draw_variants` (engines, speed_range, pitch_range, voices)."""
    for e in variant_options.get("engines", ENGINES):
        _require(e)
    variants = draw_variants(words, n_variants, seed, **variant_options)
    cache = cache_dir("tts")
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        audio = list(tqdm(pool.map(lambda v: synthesize_cached(v, cache), variants), total=len(variants),
                          desc="synthetic speech", unit="clip", disable=not progress, leave=False))
    return ClipSet(
        np.stack(audio) if audio else np.zeros((0, SAMPLE_RATE), np.int16),
        np.array([label_of(v.word) for v in variants], dtype=np.int64),
        [v.word for v in variants],
        [f"{v.engine}:{v.voice}" for v in variants],
        ["tts"] * len(variants),
        [f"tts:{v.engine}:{v.voice}:{v.speed}:{v.pitch}" for v in variants],
    )
