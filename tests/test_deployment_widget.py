"The notebook demo widget, driven from Python as a user would: upload, pick an example, upload a bad file."
import datetime

import pytest

from crossfit_nb.inference import Classifier
from crossfit_nb.widget import DemoWidget
from deployment_helpers import clips, tiny_models  # noqa: F401 (fixtures)


def _upload(path, name=None):
    data = path.read_bytes()
    return ({'name': name or path.name, 'type': 'video/mp4', 'size': len(data), 'content': memoryview(data),
             'last_modified': datetime.datetime.now(datetime.timezone.utc)},)


@pytest.fixture()
def demo(tiny_models, clips):
    clf = Classifier.load(tiny_models['tflite float32'])
    return DemoWidget(clf, {'clip0': clips['good'][0], 'clip2': clips['good'][2]}), clf


def test_upload_shows_video_chart_and_timings(demo, clips):
    w, clf = demo
    assert w.upload.accept == 'video/*'
    good = clips['good'][1]
    w.upload.value = _upload(good)
    want = clf.predict(good)
    assert w.video.value == good.read_bytes()
    assert w.prediction.top == want.top
    bars = w.figure.data[0]
    assert list(bars.y)[::-1] == [l for l, _ in want.top] and len(bars.y) == 5
    assert 'muestreo' in w.timings.value and 'total' in w.timings.value and w.error.value == ''
    assert len(w.chart.outputs) == 1                      # the chart is displayed in the output area


def test_examples_dropdown(demo, clips):
    w, clf = demo
    assert [o[0] for o in w.examples.options] == ['— ejemplos —', 'clip0', 'clip2']
    w.examples.value = 'clip2'
    assert w.prediction.top == clf.predict(clips['good'][2]).top
    assert w.video.value == clips['good'][2].read_bytes()


@pytest.mark.parametrize('name', ['notes.txt', 'corrupt.mp4', 'audio.m4a'])
def test_bad_upload_shows_the_error_and_no_prediction(demo, clips, name):
    w, _ = demo
    w.upload.value = _upload(clips['good'][0])
    w.upload.value = _upload(clips['dir']/name)
    assert w.prediction is None and w.figure is None and w.video.value == b'' and w.timings.value == ''
    assert 'Error' in w.error.value and name in w.error.value
    assert w.chart.outputs == ()
