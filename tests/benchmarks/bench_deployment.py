"""Benchmark of chapter 3.3 (serving), as ratios on the same clips in one run.

    .venv/bin/python tests/benchmarks/bench_deployment.py [--model runs/ci/export/model-float32.tflite]
        [--dataset-dir data/ci] [--clips 3] [--resolution 172] [--requests 40] [--concurrency 4]

1. Clip -> prediction latency. Ours: `Classifier.predict` on a MoViNet-A0 TFLite float32 model, one
   thread (probe + decode the 10 sampled frames + resize + infer). The thesis' way, reproduced: a Keras
   MoViNet-A0 with conv_type '3d', every frame of the clip decoded with OpenCV (BGR), resized, divided by
   225, the whole clip fed at once. Without --model, an (untrained) A0 `2plus1d` at --resolution is built
   and exported once to runs/bench/; latency does not depend on the weights.
2. Requests per second of the running web app (`POST /api/predict`, the Lambda payload) on 127.0.0.1
   under --concurrency clients, against calling `Classifier.predict` in a loop.
Clips: the dataset's (manifest.json), else source-like clips (854x480, 25-55 frames) written to a temp dir.
"""
import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np

from crossfit_nb.inference import Classifier, example_clips

ROOT = Path(__file__).resolve().parents[2]


def a0_tflite(resolution: int, num_frames: int = 10) -> Path:
    "An A0 2plus1d float32 TFLite model (untrained head), exported once under runs/bench/."
    out = ROOT/'runs'/'bench'/f'a0-2plus1d-{num_frames}x{resolution}'
    path = out/'model-float32.tflite'
    if not path.exists():
        from crossfit_nb.export import export_all
        from crossfit_nb.modeling import build_classifier, model_spec
        model = build_classifier(model_spec('a0', 'base', '2plus1d', pretrained=False), num_frames=num_frames, resolution=resolution)
        export_all(model, out, {'model_id': 'a0', 'conv_type': '2plus1d', 'num_frames': num_frames, 'resolution': resolution},
                   ('float32',))
    return path


def thesis_predict(model, path: Path, resolution: int) -> np.ndarray:
    "The thesis' serving path: all frames with OpenCV (BGR), resized, /225, the whole clip at once."
    import cv2
    cap, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = cap.read()
        if not ok: break
        frames.append(cv2.resize(frame, (resolution, resolution)))
    cap.release()
    x = np.asarray(frames, np.float32)[None]/225
    return model(x, training=False).numpy()[0]


def latency(args, clips, clf):
    from crossfit_nb.modeling import build_classifier, model_spec
    thesis = build_classifier(model_spec('a0', 'base', '3d', pretrained=False), num_frames=10, resolution=clf.resolution)
    clf.predict(clips[0]); thesis_predict(thesis, clips[0], clf.resolution)        # warm up both
    ours, theirs = [], []
    for path in clips:
        start = time.perf_counter(); clf.predict(path); ours.append(time.perf_counter() - start)
        start = time.perf_counter(); thesis_predict(thesis, path, clf.resolution); theirs.append(time.perf_counter() - start)
        print(f"  {path.name}: ours {ours[-1]*1000:.0f} ms, thesis' way {theirs[-1]:.2f} s", flush=True)
    o, t = statistics.mean(ours), statistics.mean(theirs)
    print(f"clip -> prediction: ours (TFLite A0 float32, 1 thread) {o*1000:.0f} ms/clip, thesis' way (Keras A0 3d, "
          f"all frames, OpenCV) {t:.2f} s/clip: {t/o:.0f}x faster")
    return t/o


def throughput(args, clips, clf):
    from crossfit_nb.webapp import create_app
    from crossfit_nb.testing import running_app
    payloads = [json.dumps({'video': base64.b64encode(p.read_bytes()).decode()}).encode() for p in clips]
    start = time.perf_counter()
    for i in range(args.requests): clf.predict(clips[i % len(clips)])
    direct = args.requests/(time.perf_counter() - start)
    with running_app(create_app(clf)) as url:
        def post(i):
            req = urllib.request.Request(f'{url}/api/predict', payloads[i % len(payloads)], {'Content-Type': 'application/json'})
            with urllib.request.urlopen(req, timeout=60) as r: return r.status
        post(0)
        start = time.perf_counter()
        with ThreadPoolExecutor(args.concurrency) as pool: statuses = list(pool.map(post, range(args.requests)))
        served = args.requests/(time.perf_counter() - start)
    assert statuses == [200]*args.requests, statuses
    print(f"web app: {served:.1f} requests/s with {args.concurrency} concurrent clients on 127.0.0.1 "
          f"({args.requests} requests), {direct:.1f} clips/s calling Classifier.predict in a loop: ratio {served/direct:.2f}")
    return served


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--model', type=Path)
    p.add_argument('--dataset-dir', type=Path, default=ROOT/'data'/'ci')
    p.add_argument('--clips', type=int, default=3)
    p.add_argument('--resolution', type=int, default=172)
    p.add_argument('--requests', type=int, default=40)
    p.add_argument('--concurrency', type=int, default=4)
    args = p.parse_args(argv)
    clips = list(example_clips(args.dataset_dir).values())[:args.clips] if (args.dataset_dir/'manifest.json').exists() else []
    if not clips:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_preprocessing import source_like_clips
        tmp = Path(tempfile.mkdtemp(prefix='bench-deploy-'))
        source_like_clips(tmp, args.clips)
        clips = sorted((tmp/'clips').glob('*.mp4'))
    clf = Classifier.load(args.model or a0_tflite(args.resolution), num_threads=1)
    print(f"{clf}; {len(clips)} clips from {clips[0].parent}", flush=True)
    latency(args, clips, clf)
    throughput(args, clips, clf)


if __name__ == '__main__':
    main()
