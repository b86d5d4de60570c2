"""Benchmark of chapter 3.2.2 (records), as ratios against the thesis' format on the same clips in one run.

    .venv/bin/python tests/benchmarks/bench_preprocessing.py [--dataset-dir data/ci] [--clips 24]

Without a dataset (a folder with manifest.json from extraction) it writes source-like clips: 854x480,
~39 frames, a moving textured scene. The thesis' writer is reproduced faithfully: every frame of the
clip decoded, 10 equally spaced frames, tf.image.resize to 224, /255, float32 serialized with
tf.io.serialize_tensor, one thread, gzip TFRecords.
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np

from crossfit_nb import preprocessing as pp
from crossfit_nb.artifacts import DATASET_CARD
from crossfit_nb.core import LABELS, LABEL_TO_ID
from crossfit_nb.video import iter_frames, sample_clip, write_video


def source_like_clips(root: Path, n: int) -> Path:
    "`n` clips like the source's (854x480, 25-55 frames, moving textured scene) and their manifest."
    rng, entries = np.random.default_rng(0), []
    yy, xx = np.mgrid[0:480, 0:854].astype(np.float32)
    texture = rng.normal(0, 6, (480, 854, 1)).astype(np.float32)
    for i in range(n):
        label, frames = LABELS[i % len(LABELS)], int(rng.integers(25, 55))
        colour = rng.uniform(40, 200, 3).astype(np.float32)
        def frame(t):
            cx, cy = 427 + 150*np.sin(t/6 + i), 240 + 80*np.cos(t/5)
            body = 90*np.exp(-((xx - cx)**2/3000 + (yy - cy)**2/9000))[..., None]
            return np.clip(colour + 30*np.sin(xx/40 + yy/60)[..., None] + body + texture, 0, 255).astype(np.uint8)
        rel = f'clips/{i:03d}.mp4'
        write_video(root/rel, (frame(t) for t in range(frames)), fps=30)
        entries.append({'clip_id': f'c{i:03d}', 'label': label, 'class_id': LABEL_TO_ID[label], 'source_video': f'v{i % 5}',
                        'clip_path': rel, 'num_frames': frames, 'fps': 30.0})
    (root/'manifest.json').write_text(json.dumps({'format_version': 1, 'clips': entries}))
    return root


def thesis_write(clips, path: Path, resolution: int = 224, num_frames: int = 10) -> Path:
    "The thesis' records: all frames decoded, float32 [T,H,W,3] in [0, 1] serialized as one tensor, gzip."
    import tensorflow as tf
    with tf.io.TFRecordWriter(str(path), options='GZIP') as writer:
        for row in clips.itertuples():
            frames = np.stack(list(iter_frames(row.path)))
            idx = np.linspace(0, len(frames) - 1, num_frames).astype(int)
            x = tf.image.resize(frames[idx], (resolution, resolution))/255.0
            feature = {'video': tf.train.Feature(bytes_list=tf.train.BytesList(value=[tf.io.serialize_tensor(tf.cast(x, tf.float32)).numpy()])),
                       'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[int(row.class_id)]))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path


def thesis_read_rate(path: Path, n: int, resolution: int = 224, num_frames: int = 10, batch_size: int = 8) -> float:
    "Clips per second reading the thesis' records with tf.data."
    import tensorflow as tf
    spec = {'video': tf.io.FixedLenFeature([], tf.string), 'label': tf.io.FixedLenFeature([], tf.int64)}
    def parse(s):
        ex = tf.io.parse_single_example(s, spec)
        return tf.ensure_shape(tf.io.parse_tensor(ex['video'], tf.float32), [num_frames, resolution, resolution, 3]), ex['label']
    ds = tf.data.TFRecordDataset(str(path), compression_type='GZIP').map(parse, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return passes_rate(ds, n)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def passes_rate(ds, n: int, seconds: float = 3.0) -> float:
    "Clips per second over whole passes of `ds` (`n` clips each) after one warm-up pass, timing at least `seconds`."
    for _ in ds: pass
    passes, start = 0, time.perf_counter()
    while passes == 0 or time.perf_counter() - start < seconds:
        for _ in ds: pass
        passes += 1
    return passes*n/(time.perf_counter() - start)


def read_rate(records: Path, split: str, n: int, **kw) -> float:
    "Clips per second through `make_dataset`."
    return passes_rate(pp.make_dataset(records, split, batch_size=8, **kw), n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dataset-dir', type=Path, help='a dataset folder with manifest.json (default: clips written here)')
    ap.add_argument('--clips', type=int, default=24, help='clips to use')
    ap.add_argument('--workers', type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix='bench_pre_'))
    ds_dir = args.dataset_dir or source_like_clips(tmp/'ds', args.clips)
    clips = pp.load_clips(ds_dir).head(args.clips).assign(split='train')
    n, mp4 = len(clips), sum(Path(p).stat().st_size for p in clips.path)
    print(f"{n} clips from {ds_dir}, {mp4/n/1e3:.0f} KB of mp4 per clip")

    import tensorflow as tf  # noqa: F401  (import time is not write time)
    _, t_thesis = timed(lambda: thesis_write(clips, tmp/'thesis.tfrecord'))
    thesis_bytes = (tmp/'thesis.tfrecord').stat().st_size
    rows = {}
    for name, kw in {'jpeg q80 4:4:4 (ours)': dict(encoding='jpeg'), 'jpeg q90 4:4:4': dict(encoding='jpeg', quality=90),
                     'raw uint8': dict(encoding='raw'), 'raw uint8 + gzip': dict(encoding='raw', compression='GZIP'),
                     'ours, 1 thread': dict(encoding='jpeg', workers=1)}.items():
        out = tmp/name.replace(' ', '_').replace(',', '').replace(':', '').replace('(', '').replace(')', '')
        shards, t = timed(lambda: pp.write_records(clips, out, resolution=224, progress=False, **{'workers': args.workers, **kw}))
        rows[name] = (sum(s['bytes'] for s in shards), t)
    print(f"\nAt 224 px, 10 frames ({'thesis float32+gzip'}: {thesis_bytes/n/1e3:.0f} KB/clip, {n/t_thesis:.1f} clips/s)")
    print(f"{'format':24s} {'KB/clip':>8s} {'ours/mp4':>9s} {'ours/thesis':>12s} {'clips/s':>8s} {'write vs thesis':>16s}")
    for name, (b, t) in rows.items():
        print(f"{name:24s} {b/n/1e3:8.1f} {b/mp4:8.2f}x {b/thesis_bytes:11.3f}x {n/t:8.1f} {t_thesis/t:15.1f}x")

    card = lambda r: {'sampling': {'num_frames': 10, 'resolution': r}, 'encoding': {'frames': 'jpeg', 'compression': None},
                      'shards': [{'file': 'train-00000-of-00001.tfrecord', 'split': 'train', 'num_examples': n}]}
    for r in (172, 224):
        out = tmp/f'read{r}'
        pp.write_records(clips, out, resolution=r, progress=False, workers=args.workers)
        (out/DATASET_CARD).write_text(json.dumps(card(r)))
    thesis_rate = thesis_read_rate(tmp/'thesis.tfrecord', n)
    print("\ntf.data read (batch 8, decode + normalise), clips/s:")
    print(f"  A0 172 px: {read_rate(tmp/'read172', 'train', n):.0f}   A2 224 px: {(ours := read_rate(tmp/'read224', 'train', n)):.0f}"
          f"   A2 training (shuffle + augment): {read_rate(tmp/'read224', 'train', n, training=True):.0f}")
    print(f"  thesis format 224 px: {thesis_rate:.0f}   ours/thesis: {ours/thesis_rate:.2f}x")

    frames = [(sample_clip(p, 10, 224)*255).round().astype(np.uint8) for p in clips.path]
    options = [dict(quality=q, chroma=c) for c in ('4:4:4', '4:2:0') for q in (75, 80, 85, 90)]
    costs = pp.encoding_costs(frames, options)
    print("\nJPEG settings at 224 px on the same clips (PSNR of decoded frames against sample_clip's):")
    for r in costs.itertuples():
        print(f"  q{r.quality:.0f} {r.chroma}: {r.kb_per_clip:6.1f} KB/clip  {r.kb_per_clip*1e3*n/mp4:5.2f}x mp4  {r.psnr_db:5.2f} dB")
    import shutil
    shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
