"""Benchmark of the synthetic workout generator (`crossfit_nb.synthetic`): frames generated per second.

Run: `python tests/benchmarks/bench_synthetic.py [--frames 300] [--ci]`. It prints, on the same frames of
a thesis-preset video in this process:
- render only (pose, drawing, noise), in frames per second of one process;
- encode only (the same frames, already in memory, through `video.write_video`), the reference: the cost
  any generator writing H.264 must pay;
- render + encode (what `write_workout` does), and its ratio to encode only;
and the estimated wall time of the `thesis` preset with one process per CPU core. With `--ci` it also
generates the `ci` preset end to end into a temporary folder and prints the wall time.
"""
import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2

from crossfit_nb.core import Config
from crossfit_nb.video import write_video
from crossfit_nb.synthetic import PRESETS, plan_workout, render_workout, workout_specs, generate_dataset


def _timed(fn):
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--frames', type=int, default=300, help='frames of the sample video to time')
    ap.add_argument('--ci', action='store_true', help='also time the ci preset end to end')
    ap.add_argument('--x264', default=None, help="x264 preset to time (default: the thesis preset's)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    plan = plan_workout(workout_specs('thesis')[0], seed=0)
    n = min(args.frames, plan['n_frames'])
    x264 = args.x264 or PRESETS['thesis']['x264']
    frames, w_r, c_r = _timed(lambda: list(render_workout(plan, [], [], frames=range(n))))
    # the list above pays for fresh memory per frame; time streaming rendering as the writer consumes it
    _, w_r, c_r = _timed(lambda: sum(1 for _ in render_workout(plan, [], [], frames=range(n))))
    with tempfile.TemporaryDirectory() as d:
        _, w_e, c_e = _timed(lambda: write_video(Path(d)/'enc.mp4', frames, crf=plan['scene'].crf, preset=x264))
        _, w_b, c_b = _timed(lambda: write_video(Path(d)/'both.mp4', render_workout(plan, frames=range(n)),
                                                 crf=plan['scene'].crf, preset=x264))
    total = sum(plan_workout(s, 0)['n_frames'] for s in workout_specs('thesis'))
    cores = os.cpu_count() or 1
    per_cpu = n/c_b
    print(f'sample: {n} frames of {plan["name"]} (854x480), x264 preset {x264!r}, {cores} CPU cores')
    print(f'render only        : {n/w_r:7.1f} frames/s wall, {n/c_r:7.1f} frames per CPU-second')
    print(f'encode only (ref.) : {n/w_e:7.1f} frames/s wall, {n/c_e:7.1f} frames per CPU-second')
    print(f'render + encode    : {n/w_b:7.1f} frames/s wall, {per_cpu:7.1f} frames per CPU-second '
          f'({c_b/c_e:.2f}x the CPU time of encoding alone)')
    print(f'thesis preset      : {len(workout_specs("thesis"))} videos, {total} frames, '
          f'{total/30/60:.1f} min of video; estimated {total/per_cpu/cores/60:.1f} min with {cores} processes '
          f'({total/(n/w_b)/60:.1f} min in one process)')
    if args.ci:
        with tempfile.TemporaryDirectory() as d:
            cfg = Config(data_dir=d, preset='ci')
            _, w, _ = _timed(lambda: generate_dataset(cfg, progress=False))
            frames_ci = sum(plan_workout(s, 0)['n_frames'] for s in workout_specs('ci'))
            print(f'ci preset          : {len(workout_specs("ci"))} videos, {frames_ci} frames written in {w:.1f} s '
                  f'({frames_ci/w:.0f} frames/s)')


if __name__ == '__main__':
    main()
