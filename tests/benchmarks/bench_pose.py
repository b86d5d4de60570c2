"""BlazePose on one core at 854x480: tracking (the detector on the first frame, then each frame's ROI from the last
landmarks) against the detector on every frame, on the same decoded frames of the real clips in ../shared/real
(every frame of each clip), as frames/s and a ratio; also how far apart the two tracks' landmarks are, and the
landmark crop made by OpenCV against the NumPy one (the Lambda image's) on the same frames and ROIs.

    .venv/bin/python tests/benchmarks/bench_pose.py [--repeats 3]
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

from crossfit_nb.pose import LANDMARK_SIZE, PoseEstimator, Roi, crop_roi, _crop_numpy
from crossfit_nb.video import read_frames


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeats', type=int, default=3, help='timed passes over all clips (the best is kept)')
    args = p.parse_args()
    clips = sorted((Path(__file__).resolve().parents[3]/'shared'/'real').glob('*.mp4'))
    if not clips: sys.exit('no clips in ../shared/real: nothing to measure')
    videos = [read_frames(c) for c in clips]
    frames = sum(len(v) for v in videos)
    est = PoseEstimator(num_threads=1)
    est.track(videos[0][:2])                                      # warm up both interpreters
    best = {}
    for mode, every in (('tracking', 0), ('detector every frame', 1)):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            tracks = [est.track(v, redetect_every=every) for v in videos]
            times.append(time.perf_counter() - t0)
        best[mode] = (min(times), tracks)
    (t_track, tracked), (t_det, detected) = best['tracking'], best['detector every frame']
    both = [np.isfinite(a.landmarks).all((1, 2)) & np.isfinite(b.landmarks).all((1, 2)) for a, b in zip(tracked, detected)]
    gap = np.concatenate([np.linalg.norm(a.landmarks[m, :, :2] - b.landmarks[m, :, :2], axis=-1).ravel()
                          for a, b, m in zip(tracked, detected, both)])
    print(f"{len(clips)} real clips, {frames} frames of 854x480, one thread, best of {args.repeats}")
    print(f"tracking:             {frames/t_track:6.1f} frames/s ({1000*t_track/frames:.1f} ms a frame); "
          f"detector ran on {sum(int(t.detected.sum()) for t in tracked)} frames")
    print(f"detector every frame: {frames/t_det:6.1f} frames/s ({1000*t_det/frames:.1f} ms a frame)")
    print(f"tracking is {t_det/t_track:.2f}x the speed of detecting on every frame; landmarks of the two agree "
          f"within a median {np.median(gap):.1f} px (90th percentile {np.percentile(gap, 90):.1f} px)")
    pairs = [(f, Roi(*lm[:, :2].mean(0), float(1.25*np.ptp(lm[:, :2], 0).max()))) for v, t in zip(videos, tracked)   # the box of each pose
             for f, lm in zip(v, t.landmarks) if np.isfinite(lm).all()]
    crop_times = {}
    for name, crop in (('OpenCV', crop_roi), ('NumPy', _crop_numpy)):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for f, roi in pairs: crop(f, roi, LANDMARK_SIZE)
            times.append(time.perf_counter() - t0)
        crop_times[name] = min(times)
    diff = max(float(np.abs(crop_roi(f, r, LANDMARK_SIZE) - _crop_numpy(f, r, LANDMARK_SIZE)).max()) for f, r in pairs[::10])
    print(f"landmark crop ({LANDMARK_SIZE} px, {len(pairs)} frames): OpenCV {1000*crop_times['OpenCV']/len(pairs):.2f} ms, "
          f"NumPy {1000*crop_times['NumPy']/len(pairs):.2f} ms a crop; OpenCV is {crop_times['NumPy']/crop_times['OpenCV']:.1f}x "
          f"the speed, the crops differ by at most {diff:.3f} grey levels")


if __name__ == '__main__':
    main()
