"""Training throughput on this machine: the default conv type against '3d', and the input pipeline against the step.

    python tests/benchmarks/bench_training.py [--resolution 112] [--frames 8] [--batch 4] [--steps 3] [--records DIR]

Prints clips/s of a MoViNet-A0 training step (thesis optimizer and loss) for conv_type '2plus1d' (the default
when training from scratch or from the stream checkpoints) and '3d' (what the base checkpoints need), their
ratio, and the clips/s of the input pipeline: the preprocessing chapter's `make_dataset` over `--records`
when given, else a TFRecord pipeline of JPEG-encoded frames written here (decode + resize + batch), which
must be well above the training step's so that the pipeline is not the bottleneck.
"""
import argparse
import os
import tempfile
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
import numpy as np
import tensorflow as tf

from crossfit_nb.core import NUM_CLASSES
from crossfit_nb.modeling import apply_freeze, build_classifier, model_spec
from crossfit_nb.training import TrainConfig, make_loss, make_metrics, make_optimizer


def train_clips_per_s(conv_type: str, res: int, frames: int, batch: int, steps: int) -> float:
    model = build_classifier(model_spec('a0', 'base', conv_type, pretrained=False), NUM_CLASSES, frames, res)
    apply_freeze(model, 'full')
    cfg = TrainConfig()
    model.compile(make_optimizer(cfg, 100), make_loss(cfg), make_metrics())
    x = tf.random.stateless_uniform([batch, frames, res, res, 3], seed=(0, 0))
    y = tf.one_hot(tf.range(batch) % NUM_CLASSES, NUM_CLASSES)
    model.train_on_batch(x, y)  # trace + warm up
    t0 = time.perf_counter()
    for _ in range(steps): model.train_on_batch(x, y)
    return batch * steps / (time.perf_counter() - t0)


def jpeg_records(path: str, n: int, frames: int, stored_res: int = 128):
    rng = np.random.default_rng(0)
    with tf.io.TFRecordWriter(path) as w:
        for i in range(n):
            clip = rng.integers(0, 255, (frames, stored_res, stored_res, 3), dtype=np.uint8)
            feats = {'frames': tf.train.Feature(bytes_list=tf.train.BytesList(
                        value=[tf.io.encode_jpeg(f).numpy() for f in clip])),
                     'label': tf.train.Feature(int64_list=tf.train.Int64List(value=[i % NUM_CLASSES]))}
            w.write(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())


def jpeg_pipeline(path: str, res: int, batch: int):
    spec = {'frames': tf.io.VarLenFeature(tf.string), 'label': tf.io.FixedLenFeature([], tf.int64)}
    def parse(s):
        ex = tf.io.parse_single_example(s, spec)
        f = tf.map_fn(lambda b: tf.io.decode_jpeg(b, channels=3), tf.sparse.to_dense(ex['frames']), fn_output_signature=tf.uint8)
        f = tf.image.resize(tf.cast(f, tf.float32) / 255.0, [res, res])
        return f, tf.cast(ex['label'], tf.int32)
    return (tf.data.TFRecordDataset(path).shuffle(64, seed=0).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch).prefetch(tf.data.AUTOTUNE))


def pipeline_clips_per_s(ds) -> float:
    n, t0 = 0, None
    for i, (x, _) in enumerate(ds):
        if i == 0: t0 = time.perf_counter(); continue  # the first batch pays the start-up
        n += int(x.shape[0])
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--resolution', type=int, default=112)
    ap.add_argument('--frames', type=int, default=8)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--records', default=None, help="records folder of the preprocessing chapter (e.g. data/ci/records)")
    a = ap.parse_args()
    print(f"MoViNet-A0 training step, {a.frames} frames at {a.resolution} px, batch {a.batch}, {a.steps} timed steps, "
          f"{os.cpu_count()} CPUs, GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    fast = train_clips_per_s('2plus1d', a.resolution, a.frames, a.batch, a.steps)
    print(f"  conv_type 2plus1d (default): {fast:7.2f} clips/s")
    slow = train_clips_per_s('3d', a.resolution, a.frames, a.batch, a.steps)
    print(f"  conv_type 3d               : {slow:7.2f} clips/s")
    print(f"  ratio 2plus1d / 3d         : {fast / slow:7.1f}x")
    if a.records:
        from crossfit_nb.preprocessing import make_dataset
        ds = make_dataset(a.records, 'train', batch_size=a.batch, training=True, resolution=a.resolution,
                          num_frames=a.frames).repeat(3)
        what = f"make_dataset({a.records})"
    else:
        tmp = tempfile.mkdtemp()
        jpeg_records(f'{tmp}/clips.tfrecord', 96, a.frames)
        ds, what = jpeg_pipeline(f'{tmp}/clips.tfrecord', a.resolution, a.batch), 'TFRecord JPEG pipeline (96 clips)'
    pipe = pipeline_clips_per_s(ds)
    print(f"input pipeline, {what}: {pipe:7.2f} clips/s = {pipe / fast:.1f}x the 2plus1d training step "
          f"({'not the bottleneck' if pipe > fast else 'THE BOTTLENECK'})")


if __name__ == '__main__':
    main()
