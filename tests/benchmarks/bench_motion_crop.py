"""Motion crop without OpenCV: `video.motion_crop` (NumPy) against the OpenCV code it replaced, on the same decoded
frames of the real clips in ../shared/real (8 sampled frames each, 64 px), as a ratio; also whole-clip sampling.

    .venv/bin/python tests/benchmarks/bench_motion_crop.py
"""
import sys
from pathlib import Path
import time, glob, numpy as np, cv2
from crossfit_nb.video import VideoReader, sample_indices, motion_crop, scaled_size
def cv_box(frames, margin=1.4, min_side=0.3):   # the motion box as it was written with OpenCV (before this change)
    t, h, w = frames.shape[:3]
    small = np.stack([cv2.GaussianBlur(cv2.cvtColor(np.ascontiguousarray(f[::2, ::2]), cv2.COLOR_RGB2GRAY), (5, 5), 0) for f in frames]).astype(np.float32)
    spread = small.std(0)
    ys, xs = np.nonzero(spread > max(8.0, 0.25*float(np.percentile(spread, 99.9))))
    if t >= 2 and len(xs) >= 20:
        (x0, x1), (y0, y1) = 2*np.percentile(xs, [1, 99]), 2*np.percentile(ys, [1, 99])
        side = int(round(min(max(max(x1 - x0, y1 - y0)*margin, min_side*h), h, w)))
        cx, cy = (x0 + x1)/2, (y0 + y1)/2
        return int(round(min(max(cx - side/2, 0), w - side))), int(round(min(max(cy - side/2, 0), h - side))), side
    side = min(h, w); return (w - side)//2, (h - side)//2, side
def cv_crop(frames, res):
    x, y, s = cv_box(frames)
    return np.stack([cv2.resize(f[y:y + s, x:x + s], (res, res), interpolation=cv2.INTER_AREA) for f in frames])
clips = sorted(str(p) for p in (Path(__file__).resolve().parents[3]/'shared'/'real').glob('*.mp4'))
if not clips: sys.exit('no clips in ../shared/real: nothing to measure')
decoded = []
t0 = time.perf_counter()
for p in clips:
    with VideoReader(p) as r: decoded.append(r.read(sample_indices(r.info.frame_count, 8)))
dec = (time.perf_counter() - t0)/len(clips)
def per_clip(fn, reps=5):
    fn(decoded[0]); t = time.perf_counter()
    for _ in range(reps):
        for f in decoded: fn(f)
    return (time.perf_counter() - t)/(reps*len(decoded))
np_t, cv_t = per_clip(lambda f: motion_crop(f, 64)), per_clip(lambda f: cv_crop(f, 64))
same = sum(np.array_equal(motion_crop(f, 64), cv_crop(f, 64)) for f in decoded)
print(f"decode 8 frames: {dec*1000:.1f} ms/clip; motion crop numpy {np_t*1000:.1f} ms, opencv {cv_t*1000:.1f} ms (x{np_t/cv_t:.2f}); "
      f"sample_clip total x{(dec + np_t)/(dec + cv_t):.2f}; identical crops {same}/{len(decoded)}")
