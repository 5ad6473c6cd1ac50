"""Probe data for a GPU: `PYTHONPATH=. .venv/bin/python scripts/probe/prep.py CLIPS WINDOWS` -> .probe/data.pkl.xz.

A random subset of the cached training pool of `python -m model.train` (CLIPS augmented clips and
WINDOWS stream windows: the whole pool with its teacher MFCC is too large to carry to the device
machine), the validation speakers' clips and stream windows, and a stream of 300 keywords + 100
other words of the validation speakers (its front-end frames, truth and the teacher's logits on
the windows every 4 hops). The README's GPU probe table used `prep.py 16000 8000` (36 MB).
"""
import lzma, pickle, sys
import numpy as np
from model.train import TrainConfig, load_sources, validation_windows
from model.frontend import FRONTEND_PARAMS
from model.teacher import Teacher
from model.teacher_cache import teacher_logits_cached
from model.feature_cache import features_cached
from model.paths import cache_dir, data_dir
from model.datasets import KEYWORDS
from host.stream_truth import build_stream

root = data_dir()
cfg = TrainConfig()
teacher = Teacher.load()
sources, val, noise = load_sources(cfg, root, progress=False)
key = cfg.pool_key(teacher.sha256, str(FRONTEND_PARAMS["source_hash"]))
z = np.load(cache_dir("pools") / f"{key}.npz")
feats, tl, labels, srcs = z["features"], z["teacher"], z["labels"], z["sources"]
rng = np.random.default_rng(0)
is_win = srcs == "stream"
clip_idx = rng.permutation(np.flatnonzero(~is_win))[:int(sys.argv[1])]
win_idx = rng.permutation(np.flatnonzero(is_win))[:int(sys.argv[2])]
tlog = lambda a: teacher_logits_cached(a, teacher=teacher, progress=False)
feat = lambda a: features_cached(a, progress=False)
vs = validation_windows(cfg, val, noise, tlog, feat)
# stream of validation-speaker words (keywords + other words), 1-2 s noise gaps
srng = np.random.default_rng(0)
words = []
kw = [i for i in range(len(val)) if val.words[i] in KEYWORDS]
unk = [i for i in range(len(val)) if val.words[i] not in KEYWORDS and val.words[i] != "_silence_"]
pick = list(srng.permutation(kw)[:300]) + list(srng.permutation(unk)[:100])
pick = [pick[i] for i in srng.permutation(len(pick))]
words = [(val.words[i] if val.words[i] in KEYWORDS else "_unknown_", val.audio[i]) for i in pick]
audio, truth = build_stream(words, lambda n, r: noise.segment(srng, n, r), srng)
step = 49 * 320
nchunk = (len(audio) - 16000) // step + 1
chunks = np.stack([audio[w * step:w * step + 16000] for w in range(nchunk)])
frames = feat(chunks).reshape(-1, 40)  # global frame j covers samples [320j+160, 320j+640)
# teacher on the same windows (every 4 hops), for reference
hops = np.arange(52, len(audio) // 320 + 1, 4)
ends = hops * 320
tw = np.stack([audio[e - 16000:e] for e in ends])
teacher_stream = tlog(tw)
data = dict(train_x=feats[np.r_[clip_idx, win_idx]], train_t=tl[np.r_[clip_idx, win_idx]].astype(np.float32),
            train_y=labels[np.r_[clip_idx, win_idx]], train_win=np.r_[np.zeros(len(clip_idx), bool), np.ones(len(win_idx), bool)],
            val_x=feat(val.audio), val_y=val.labels, vs_x=vs.features, vs_y=vs.labels,
            frames=frames, hops=hops, truth=[(k[0], k[-1]) for k in truth], teacher_stream=teacher_stream.astype(np.float32), stream_len=len(audio))
with lzma.open(".probe/data.pkl.xz", "wb", preset=6) as f:
    pickle.dump(data, f)
print({k: getattr(v, "shape", len(v) if hasattr(v, "__len__") else v) for k, v in data.items()})
