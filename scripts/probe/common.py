"""What the GPU probes share: the carried data, the stream's windows, and stream scoring (detector + matching)."""
import lzma
import os
import pickle
from pathlib import Path

import numpy as np

from host.detector import DetectorParams, detect
from model.facts import HOP_MS, LABELS

DATA = Path(os.environ.get("PROBE_DATA", ".probe/data.pkl.xz"))
LATENCY_MS = 2000  # a detection answers a keyword 0..2000 ms after its onset (host.demo's rule)


def load_data() -> dict:
    with lzma.open(DATA) as f:
        return pickle.load(f)


def stream_windows(d: dict) -> tuple[np.ndarray, np.ndarray]:
    """(windows (N, 49, 40) int8, hops): the window at hop h holds frames h-50 .. h-2, which end at sample 320 h."""
    frames, hops = d["frames"], d["hops"]
    hops = hops[hops - 1 <= len(frames)]
    return np.stack([frames[h - 50:h - 1] for h in hops]), hops


def stream_score(d: dict, hops: np.ndarray, logits: np.ndarray) -> dict:
    """Detection rate, wrong labels, false detections per hour and median latency from onset, for per-window logits."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    q = np.floor(p * 32768).astype(int)
    events = detect([int(h) * HOP_MS for h in hops], [list(r) for r in q], DetectorParams())
    dets = sorted((t, LABELS[label]) for t, label, _ in events)
    used = [False] * len(dets)
    hits = wrong = 0
    latency = []
    for onset, word in sorted(d["truth"]):
        window = [i for i, (t, _) in enumerate(dets) if not used[i] and 0 <= t - onset <= LATENCY_MS]
        right = [i for i in window if dets[i][1] == word]
        if right or window:
            i = (right or window)[0]
            used[i] = True
            if dets[i][1] == word:
                hits += 1
                latency.append(dets[i][0] - onset)
            else:
                wrong += 1
    hours = d["stream_len"] / 16000 / 3600
    return dict(det=round(hits / len(d["truth"]), 4), wrong=wrong, false_h=round((len(dets) - sum(used)) / hours, 1),
                lat=float(np.median(latency)) if latency else None)
