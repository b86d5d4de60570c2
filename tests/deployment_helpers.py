"Shared fixtures of the deployment tests: a tiny exported model and small clips, good and bad."

import av
import numpy as np
import pytest

from crossfit_nb.video import write_video

NUM_FRAMES, RESOLUTION = 10, 64


def moving_frames(n, seed, h=120, w=160):
    "Frames of a bright square moving across a coloured background (RGB uint8)."
    rng = np.random.default_rng(seed)
    bg, fg = rng.integers(0, 120, 3), rng.integers(130, 256, 3)
    for i in range(n):
        frame = np.empty((h, w, 3), np.uint8)
        frame[:] = bg
        x = int((w - 30)*i/max(1, n - 1))
        frame[40:70, x:x + 30] = fg
        yield frame


@pytest.fixture(scope='session')
def clips(tmp_path_factory):
    "Three small good clips (different lengths) and a folder of bad files."
    d = tmp_path_factory.mktemp('clips')
    good = [write_video(d/f'clip{i}.mp4', moving_frames(n, i)) for i, n in enumerate((14, 39, 67))]
    (d/'notes.txt').write_text('not a video at all')
    (d/'empty.mp4').write_bytes(b'')
    data = good[1].read_bytes()
    (d/'corrupt.mp4').write_bytes(data[:64] + bytes(len(data) - 64))
    (d/'noframes.y4m').write_bytes(b'YUV4MPEG2 W64 H64 F30:1 Ip A1:1 C420jpeg\n')   # a video stream without frames
    with av.open(str(d/'audio.m4a'), 'w', format='mp4') as out:          # audio only
        s = out.add_stream('aac', rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format='fltp', layout='mono')
        frame.sample_rate = 16000
        for _ in range(16):
            for p in s.encode(frame): out.mux(p)
        for p in s.encode(): out.mux(p)
    return {'good': good, 'dir': d}


@pytest.fixture(scope='session')
def tiny_models(tmp_path_factory):
    "A tiny stand-in classifier exported as SavedModel and TFLite float32 / dynamic: {name: path}, plus the Keras model."
    from crossfit_nb.export import export_all
    from crossfit_nb.testing import tiny_classifier
    d = tmp_path_factory.mktemp('models')
    model = tiny_classifier(NUM_FRAMES, RESOLUTION)
    out = export_all(model, d, {'model_id': 'tiny'}, ('float32', 'dynamic'), progress=None)
    return {**out, 'keras': model}
