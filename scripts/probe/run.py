"""GPU probe, one variant: `python scripts/probe/run.py VARIANT EPOCHS` (run by scripts/probe/go.sh).

Trains the student variant on the data scripts/probe/prep.py wrote (.probe/data.pkl.xz) with
model.train.distill (no mixes: the probe data carry no teacher MFCC), then prints one RESULT line
of JSON: validation clips (early exit at thresholds calibrated on clips + stream windows, and full
depth), validation stream windows (agreement with the teacher), and a 16.5 min stream of
validation speakers scored with the C detector's arithmetic (host.detector, default parameters)
for full depth, early exit and the teacher on the same windows. Float student, not the firmware:
for comparing variants; shipped figures come from host.streaming_quality.
"""
import copy
import json
import sys
import time
from pathlib import Path
import numpy as np
import tinygrad.nn.state as _st
_st.safe_save = lambda *a, **k: None  # the device's CPU compiler flags fail; no resume state needed here
from model.train import Pool, StreamCheck, TrainConfig, distill
from model.student import DEFAULT_CONFIG
from model.evaluate import calibrate_thresholds, early_exit, exit_logits, summarize
from scripts.probe.common import load_data, stream_score, stream_windows

name, epochs = sys.argv[1], int(sys.argv[2])
d = load_data()

def config(padding: str, blocks: list[tuple[int, int, int, bool]] | None = None) -> dict:
    """The shipped config with this time padding and, if given, other blocks (kernel, stride, channels, exit)."""
    c = copy.deepcopy(DEFAULT_CONFIG)
    c["time_padding"] = padding
    if blocks:
        c["blocks"] = [{"kernel": k, "stride": s, "channels": ch, "exit": e} for k, s, ch, e in blocks]
    return c


DEEP = [(5, 2, 64, True), (3, 1, 128, False), (3, 1, 128, True), (3, 1, 128, True)]
S1 = [(5, 1, 64, True), (5, 2, 128, True), (3, 1, 128, True)]      # block 0 without stride
S2 = [(5, 1, 64, True), (5, 1, 128, True), (3, 2, 128, True)]      # blocks 0 and 1 without stride
variants = {
    "same_nowin": dict(config=config("same"), win=False), "same_win": dict(config=config("same"), win=True),
    "same_real_win": dict(config=config("same"), win=True, precision="real"),
    "same_s2_win": dict(config=config("same", S2), win=True),
    "valid_nowin": dict(config=config("valid"), win=False), "valid_win": dict(config=config("valid"), win=True),
    "valid_real_win": dict(config=config("valid"), win=True, precision="real"),
    "valid_deep_win": dict(config=config("valid", DEEP), win=True), "valid_s1_win": dict(config=config("valid", S1), win=True),
    "valid_s2_win": dict(config=config("valid", S2), win=True), "valid_s2_nowin": dict(config=config("valid", S2), win=False),
    "valid_s2_real_win": dict(config=config("valid", S2), win=True, precision="real"),
}
v = variants[name]
keep = np.ones(len(d["train_y"]), bool) if v["win"] else ~d["train_win"]
pool = Pool(d["train_x"][keep], d["train_t"][keep], d["train_y"][keep], np.array(["x"] * keep.sum()))
cfg = TrainConfig(epochs=epochs, mix_fraction=0.0, config=v["config"], precision=v.get("precision", "binary"))
vs = StreamCheck(d["vs_x"], d["vs_y"])
t0 = time.time()
student, hist = distill(cfg, pool, d["val_x"], d["val_y"], Path(f"/tmp/state_{name}"), progress=False, val_stream=vs,
                        log=lambda s: print(name, s, flush=True))
macs = student.binary_macs_to_exit()
L = exit_logits(student, d["val_x"], stage=cfg.precision)
LS = exit_logits(student, d["vs_x"], stage=cfg.precision)
thr = calibrate_thresholds(L, d["val_y"], macs, 0.95, stream=(LS, d["vs_y"]))
thr_clip = calibrate_thresholds(L, d["val_y"], macs, 0.95)
rep = summarize(L, d["val_y"], thr, macs); reps = summarize(LS, d["vs_y"], thr, macs)
X, hops = stream_windows(d)
LX = exit_logits(student, X, stage=cfg.precision)
score = lambda logits: stream_score(d, hops, logits)  # noqa: E731
pred, taken = early_exit(LX, thr)
ee = np.stack(LX)[taken, np.arange(len(taken))]
out = dict(name=name, epochs=epochs, minutes=round((time.time() - t0) / 60, 1), macs=macs, thr=thr, thr_clip=thr_clip,
           clip_acc=rep["accuracy"], clip_full=rep["accuracy_full_depth"], clip_avg_macs=rep["avg_binary_macs"],
           clip_exit_acc=[e["accuracy_if_all_stopped_here"] for e in rep["exits"]],
           win_acc=reps["accuracy"], win_full=reps["accuracy_full_depth"], win_avg_macs=reps["avg_binary_macs"],
           stream_full=score(LX[-1]), stream_early=score(ee), stream_exit_frac=[float((taken == i).mean()) for i in range(len(LX))],
           stream_avg_macs=float(np.asarray(macs)[taken].mean()), teacher_stream=score(d["teacher_stream"][:len(hops)]),
           last_epochs=[h["val_exit_accuracy"] for h in hist[-3:]])
print("RESULT", json.dumps(out), flush=True)
