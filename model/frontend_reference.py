"""Float (numpy, float64) reference of the bitear audio front end, and the one home of its parameters.

The integer C front end (`firmware/lib/bitear/bitear_frontend.c`) computes an approximation of
exactly what this module computes in floating point:

    s       int16 samples, raw integer units (full scale = 32768)
    frame   480 samples (30 ms), hop 320 (20 ms); a 1 s clip gives 49 frames,
            frame k covering samples [320k + 160, 320k + 640)   (docs/architecture.md)
    x[n]    = s[n] * hann[n]          periodic Hann, hann[n] = 0.5 - 0.5 cos(2 pi n / 480)
    X[k]    = sum_n x[n] exp(-2 pi i n k / 512),  zero-padded 512-point DFT, k = 0..256
    E[c]    = sum_k M[k, c] |X[k]|^2   40 triangular mel filters (HTK mel, peak weight 1,
                                       triangles in the mel domain like TensorFlow's
                                       linear_to_mel_weight_matrix), edges 125..7500 Hz
    v[c]    = clamp(floor(LOG_SCALE * log2(E[c]) + 0.5) + LOG_OFFSET, -128, 127)   int8
              (E = 0, i.e. digital silence, gives -128)

`codegen/frontend_tables.py` quantizes the window, twiddles, mel weights and the log table from
the functions here into the generated C header, so the parameters are typed exactly once.

Scale/offset choice (LOG_SCALE = 6 steps per doubling of energy = 0.50 dB per step, LOG_OFFSET = -150):
  * floor -128  <->  log2 E = 22/6 ~ 3.7   (about the energy of int16 rounding noise in the
    narrowest low channels)
  * white noise of 1 LSB rms (the quietest real recording)  ->  v ~ -128 .. -74, mean ~ -92
  * full-scale sine (amplitude 32767)  ->  log2 E ~ 44.2  ->  v ~ +115
  * upper bound: a channel collects at most half the DFT energy, so by Parseval no int16 signal
    gives log2 E > log2(256 * 32768^2 * sum(hann^2)) = 45.49  ->  v <= 123: the top never
    saturates, even for full-scale clipped audio (a full-scale square wave gives ~ +120).
"""
from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
WINDOW = 480            # samples per analysis window (30 ms)
HOP = 320               # samples per hop (20 ms)
FFT_SIZE = 512
BINS = 40               # mel channels
FMIN_HZ = 125.0
FMAX_HZ = 7500.0
LOG_SCALE = 6           # int8 steps per doubling of the channel energy (log2 unit)
LOG_OFFSET = -150       # int8 value of E = 1 (before clamping)
CLIP_SAMPLES = 16000
FRAMES = (CLIP_SAMPLES - WINDOW) // HOP + 1          # 49
HISTORY = WINDOW - HOP                               # 160 samples carried between hops


def hann_window() -> np.ndarray:
    """Periodic Hann window of WINDOW samples (float64; w[0] = 0, w[240] = 1)."""
    n = np.arange(WINDOW)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / WINDOW)


def hz_to_mel(f):
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_edges() -> np.ndarray:
    """BINS + 2 band edges, equally spaced in mel from FMIN_HZ to FMAX_HZ (in mel)."""
    return np.linspace(hz_to_mel(FMIN_HZ), hz_to_mel(FMAX_HZ), BINS + 2)


def mel_bands() -> tuple[np.ndarray, np.ndarray]:
    """For every FFT bin 0..256: (band j, rising weight r), the representation the C uses.

    Band j (0..BINS) is the mel interval [edge j, edge j+1). A bin in band j lies on the rising
    slope of channel j with weight r = (mel - edge_j) / (edge_{j+1} - edge_j) and on the falling
    slope of channel j-1 with weight 1 - r (channels outside 0..BINS-1 are dropped).
    Bins outside the edges get band -1 and weight 0.
    """
    edges = mel_edges()
    mel = hz_to_mel(np.arange(FFT_SIZE // 2 + 1) * SAMPLE_RATE / FFT_SIZE)
    band = np.searchsorted(edges, mel, side="right") - 1
    band[(mel < edges[0]) | (mel >= edges[-1])] = -1
    rise = np.zeros_like(mel)
    inside = band >= 0
    j = band[inside]
    rise[inside] = (mel[inside] - edges[j]) / (edges[j + 1] - edges[j])
    return band, rise


def mel_matrix() -> np.ndarray:
    """(257, BINS) float64 weights M[k, c] of the triangular mel filters (peak weight 1)."""
    band, rise = mel_bands()
    m = np.zeros((FFT_SIZE // 2 + 1, BINS))
    for k in np.nonzero(band >= 0)[0]:
        j = band[k]
        if j < BINS:
            m[k, j] += rise[k]
        if j >= 1:
            m[k, j - 1] += 1.0 - rise[k]
    return m


def frames_of_clip(audio: np.ndarray) -> np.ndarray:
    """(FRAMES, WINDOW) float64 frames of a 1 s int16 clip, frame k = samples [320k+160, 320k+640)."""
    audio = np.asarray(audio)
    if audio.shape != (CLIP_SAMPLES,):
        raise ValueError(f"expected a ({CLIP_SAMPLES},) clip, found {audio.shape}")
    starts = HOP * np.arange(FRAMES) + (HOP - HISTORY)
    idx = starts[:, None] + np.arange(WINDOW)[None, :]
    return audio.astype(np.float64)[idx]


def frames_of_stream(audio: np.ndarray) -> np.ndarray:
    """Frames the streaming front end produces for audio pushed hop by hop into a fresh state:
    one frame per complete hop, frame j covering samples [320j - 160, 320j + 320) (zeros before 0)."""
    audio = np.asarray(audio)
    n_hops = len(audio) // HOP
    padded = np.concatenate([np.zeros(HISTORY), audio[: n_hops * HOP].astype(np.float64)])
    idx = (HOP * np.arange(n_hops))[:, None] + np.arange(WINDOW)[None, :]
    return padded[idx]


def mel_energy(frames: np.ndarray) -> np.ndarray:
    """E[..., c] = sum_k M[k, c] |DFT512(frame * hann)[k]|^2 for (..., WINDOW) float frames."""
    spectrum = np.fft.rfft(frames * hann_window(), n=FFT_SIZE, axis=-1)
    power = spectrum.real ** 2 + spectrum.imag ** 2
    return power @ mel_matrix()


def log2_energy(frames: np.ndarray) -> np.ndarray:
    """log2 of the mel energies (-inf where the energy is 0)."""
    with np.errstate(divide="ignore"):
        return np.log2(mel_energy(frames))


def quantize(log2e: np.ndarray) -> np.ndarray:
    """int8 code of log2 energies: clamp(floor(LOG_SCALE * log2 E + 0.5) + LOG_OFFSET, -128, 127)."""
    v = np.floor(LOG_SCALE * np.asarray(log2e, dtype=np.float64) + 0.5) + LOG_OFFSET
    v = np.where(np.isfinite(v), v, -128.0)
    return np.clip(v, -128, 127).astype(np.int8)


def reference_features(audio: np.ndarray) -> np.ndarray:
    """(49, 40) int8 float-reference features of one (16000,) int16 clip."""
    return quantize(log2_energy(frames_of_clip(audio)))


def reference_codes(audio: np.ndarray) -> np.ndarray:
    """(49, 40) float64 unclamped, unrounded codes LOG_SCALE*log2(E) + LOG_OFFSET (-inf for E = 0)."""
    return LOG_SCALE * log2_energy(frames_of_clip(audio)) + LOG_OFFSET
