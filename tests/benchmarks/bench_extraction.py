"""Clip cutting: `extract_dataset` against the thesis' way, on the same source videos, in one run.

The reference does what the thesis' splitter did: one ffmpeg process per clip, seeking with `-ss` after `-i`
(ffmpeg decodes from the start of the video to the seek point), the frame range turned into seconds, and a
re-encode with ffmpeg's libx264 defaults. Both cut the same clips from the same videos; the script prints
clips per second of each, their ratio, and how many clips of each hold exactly the annotated frames.

By default the sources are generated here: textured, moving 854x480 videos (the thesis' size) whose top-left
block carries the frame number, so every frame of every clip is checked. With `--dataset DIR` (a folder with
`videos/` and `annotations/`, e.g. data/ci from `crossfit-nb synth`) it cuts that dataset instead and checks
each clip's length and its first and last frames against the source (`verify_clip`).

    python tests/benchmarks/bench_extraction.py [--videos 2 --seconds 40 --workers 2] [--dataset data/ci]
"""
import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crossfit_nb.core import LABELS
from crossfit_nb.video import read_frames, write_video
from crossfit_nb.annotations import annotation_files, load_manifest
from crossfit_nb.extraction import extract_dataset, verify_clip

STAMP = 64   # side of the block that carries the frame number


def stamped_frames(n, h, w, seed):
    "Moving texture with the frame number in the top-left block, base 32 in steps of 8: red, green, blue digits."
    rng = np.random.default_rng(seed)
    texture = rng.integers(0, 256, (h//8 + 1, w//8 + 64, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    for i in range(n):
        x = (5*i) % 256
        frame = np.ascontiguousarray(texture[:h, x:x + w])
        frame[:STAMP, :STAMP] = (8*(i % 32), 8*(i//32 % 32), 8*(i//1024))
        yield frame


def stamp_numbers(frames):
    "The frame numbers carried by `stamped_frames` frames."
    block = frames[:, 8:STAMP - 8, 8:STAMP - 8].astype(np.float32).mean(axis=(1, 2))
    return [int(round(r/8)) + 32*int(round(g/8)) + 1024*int(round(b/8)) for r, g, b in block]


def make_sources(root, videos, seconds, fps, w, h, seed):
    "Stamped videos and Supervisely annotations with reps of 10..70 frames separated by short rests."
    rng = np.random.default_rng(seed)
    for v in range(videos):
        n, name = int(seconds*fps), f'athlete{v:02d}.mp4'
        write_video(root/'videos'/name, stamped_frames(n, h, w, seed + v), fps=fps)
        tags, start = [], int(rng.integers(0, 15))
        while True:
            length = int(rng.integers(10, 71))
            if start + length > n: break
            tags.append({'name': LABELS[len(tags) % len(LABELS)], 'id': len(tags), 'frameRange': [start, start + length - 1]})
            start += length + int(rng.integers(0, 10))
        (root/'annotations').mkdir(parents=True, exist_ok=True)
        (root/'annotations'/f'{name}.json').write_text(json.dumps({'videoName': name, 'framesCount': n, 'tags': tags}))


def reference_cut(ffmpeg, clips, root, out):
    "The thesis' splitter: one ffmpeg per clip, -ss after -i, re-encode with libx264 defaults."
    paths = []
    for c in clips:
        path = out/f'{c.clip_id}.mp4'
        subprocess.run([ffmpeg, '-v', 'error', '-y', '-i', str(root/c.video_path), '-ss', f'{c.start_time:.3f}',
                        '-t', f'{c.duration:.3f}', '-c:v', 'libx264', '-an', str(path)], check=True)
        paths.append(path)
    return paths


def accuracy(paths, clips, root, stamped):
    "Fraction of clips holding exactly their frames, and the mean absolute error in frame count."
    exact, count_err = 0, []
    for path, c in zip(paths, clips):
        if stamped:
            got = stamp_numbers(read_frames(path))
            ok = got == list(range(c.start_frame, c.end_frame + 1))
            count_err.append(abs(len(got) - c.num_frames))
        else:
            check = verify_clip(path, root/c.video_path, c.start_frame, c.end_frame)
            ok = check['exact']
            count_err.append(abs(check['frames'] - check['expected']))
        exact += ok
    return exact/len(paths), float(np.mean(count_err))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--videos', type=int, default=2)
    p.add_argument('--seconds', type=float, default=60)
    p.add_argument('--fps', type=float, default=30)
    p.add_argument('--size', default='854x480')
    p.add_argument('--workers', type=int, default=2)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--dataset', type=Path, help='cut this dataset (videos/ + annotations/) instead of generated videos')
    p.add_argument('--ffmpeg', default=shutil.which('ffmpeg') or '/usr/bin/ffmpeg')
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix='bench-extraction-'))
    try:
        if args.dataset:
            src = args.dataset.resolve()
        else:
            w, h = map(int, args.size.split('x'))
            src = work/'src'
            t = time.time()
            make_sources(src, args.videos, args.seconds, args.fps, w, h, args.seed)
            print(f"sources: {args.videos} videos of {args.seconds:g} s at {args.fps:g} fps, {w}x{h} "
                  f"(generated in {time.time() - t:.0f} s)")
        ours_dir = work/'ours'
        t = time.time()
        res = extract_dataset(annotation_files(src/'annotations'), src/'videos', ours_dir, workers=args.workers,
                              progress=False)
        ours_s = time.time() - t
        if res.errors: sys.exit('extraction problems:\n' + '\n'.join(e['message'] for e in res.errors))
        clips = list(load_manifest(ours_dir/'manifest.json').itertuples())
        (work/'ref').mkdir()
        t = time.time()
        ref_paths = reference_cut(args.ffmpeg, clips, ours_dir, work/'ref')
        ref_s = time.time() - t
        stamped = not args.dataset
        ours_acc = accuracy([ours_dir/c.clip_path for c in clips], clips, ours_dir, stamped)
        ref_acc = accuracy(ref_paths, clips, ours_dir, stamped)
        n = len(clips)
        print(f"{n} clips, {sum(c.num_frames for c in clips)} frames; check: "
              f"{'every frame number' if stamped else 'frame count, first and last frame vs source'}")
        print(f"{'method':<44} {'seconds':>8} {'clips/s':>8} {'exact':>7} {'|count err|':>11}")
        print(f"{'extract_dataset (decode once, workers=%d)' % args.workers:<44} {ours_s:8.2f} {n/ours_s:8.2f} "
              f"{ours_acc[0]:7.1%} {ours_acc[1]:11.2f}")
        print(f"{'thesis: ffmpeg per clip, -ss after -i':<44} {ref_s:8.2f} {n/ref_s:8.2f} "
              f"{ref_acc[0]:7.1%} {ref_acc[1]:11.2f}")
        print(f"ratio (clips/s, extract_dataset / thesis): {ref_s/ours_s:.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
