"""Frame-by-frame speed on one core: MoViNet-A0 stream (causal, states carried between frames) as TFLite against the
whole-clip A0 that must run its whole clip again for each new frame, at the Model Garden's 172 px and at the demo's
64 px; then the live judge (`crossfit-nb stream`: BlazePose + the judging model) against `judge` on the same workout.

    .venv/bin/python tests/benchmarks/bench_stream.py [--frames 120] [--preset demo]

The MoViNet weights are fresh (speed does not depend on them); the live-judge part needs a run's judging model
(runs/<preset>/export/judge.tflite) and a workout video (data/<preset>-wod/videos), and says so when they are missing.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def movinet_rates(resolution, num_frames, frames, work):
    "Frames/s of the A0 stream TFLite fed one frame at a time, and of the whole-clip A0 TFLite re-run per new frame."
    from crossfit_nb.core import LABELS
    from crossfit_nb.export import convert_tflite, export_saved_model, export_stream_tflite
    from crossfit_nb.inference import Classifier, StreamClassifier
    from crossfit_nb.modeling import build_classifier, model_spec
    stream_spec, base_spec = model_spec('a0', 'stream', pretrained=False), model_spec('a0', 'base', '2plus1d', pretrained=False)
    info = lambda spec: {'spec': spec.to_dict(), 'labels': list(LABELS), 'num_frames': num_frames, 'resolution': resolution}
    stream_path = export_stream_tflite(build_classifier(stream_spec, len(LABELS), num_frames, resolution), info(stream_spec),
                                       work/f'stream-{resolution}.tflite')
    base_model = build_classifier(base_spec, len(LABELS), num_frames, resolution)
    base_path = convert_tflite(export_saved_model(base_model, work/f'base-{resolution}', info(base_spec)),
                               work/f'base-{resolution}.tflite')
    clip = np.random.default_rng(0).uniform(0, 1, (frames, resolution, resolution, 3)).astype(np.float32)
    stream = StreamClassifier(stream_path, num_threads=1)
    for f in clip[:3]: stream.step(f)                                   # warm up
    stream.reset()
    t0 = time.perf_counter()
    for f in clip: stream.step(f)
    t_stream = (time.perf_counter() - t0)/frames
    base = Classifier.load(base_path, num_threads=1)
    windows = [clip[i:i + num_frames] for i in range(0, frames - num_frames + 1, max(1, (frames - num_frames)//20))]
    base.probabilities(windows[0])                                       # warm up
    t0 = time.perf_counter()
    for w in windows: base.probabilities(w)
    t_clip = (time.perf_counter() - t0)/len(windows)
    return t_stream, t_clip


def live_rates(preset):
    "Frames/s of the live judge and of the offline judge (one pose thread each) on one workout video."
    from crossfit_nb.judging import judge_video
    from crossfit_nb.live import LiveJudge, live_judge, video_frames
    model = ROOT/'runs'/preset/'export'/'judge.tflite'
    videos = sorted((ROOT/'data'/f'{preset}-wod'/'videos').glob('*.mp4'))
    if not model.exists() or not videos: return None
    video = videos[0]
    fps, frames = video_frames(video)
    judge = LiveJudge(model, fps)
    t0 = time.perf_counter(); live = live_judge(frames, judge); t_live = time.perf_counter() - t0
    t0 = time.perf_counter(); offline = judge_video(video, model, workers=1, cache=False, progress=False); t_off = time.perf_counter() - t0
    return video, live.frame_count, t_live, t_off, live.totals == offline.totals


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--frames', type=int, default=120, help='frames fed to each MoViNet')
    p.add_argument('--preset', default='demo', help="the run whose judging model and workouts the live part uses")
    args = p.parse_args()
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    with tempfile.TemporaryDirectory() as work:
        for resolution, num_frames in ((172, 8), (64, 8)):
            t_stream, t_clip = movinet_rates(resolution, num_frames, args.frames, Path(work))
            print(f"MoViNet-A0 at {resolution} px, one thread: stream TFLite {1/t_stream:6.1f} frames/s "
                  f"({1000*t_stream:.1f} ms a frame); whole {num_frames}-frame clip {1000*t_clip:.1f} ms, so re-running it "
                  f"for each new frame gives {1/t_clip:.1f} frames/s: the stream model is {t_clip/t_stream:.1f}x as fast")
    r = live_rates(args.preset)
    if r is None: print(f"live judge: no runs/{args.preset}/export/judge.tflite or data/{args.preset}-wod videos (run the chain first)")
    else:
        video, n, t_live, t_off, same = r
        print(f"live judge on {video.name} ({n} frames, one pose thread): {n/t_live:.1f} frames/s live, "
              f"{n/t_off:.1f} frames/s offline judge: live is {t_off/t_live:.2f}x the offline speed; same score sheet: {same}")


if __name__ == '__main__':
    main()
