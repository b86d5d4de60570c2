"The inference API, the predict command, the Lambda handler and the web app's server side, on a tiny stand-in model."
import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import run_cli
from crossfit_nb.core import LABELS
from crossfit_nb.video import VideoError
from crossfit_nb.core import softmax
from crossfit_nb.inference import Classifier, ModelError
from crossfit_nb.video import sample_clip
from deployment_helpers import NUM_FRAMES, RESOLUTION, clips, tiny_models  # noqa: F401 (fixtures)


@pytest.fixture(scope='module')
def clf(tiny_models):
    return Classifier.load(tiny_models['tflite float32'])


def test_predict_top_k_probabilities_and_timings(clf, clips):
    for path in clips['good']:
        pred = clf.predict(path, top_k=5)
        assert len(pred.top) == 5 and {l for l, _ in pred.top} <= set(LABELS)
        probs = [p for _, p in pred.top]
        assert probs == sorted(probs, reverse=True) and abs(pred.probabilities.sum() - 1) < 1e-5
        assert set(pred.timings) == {'sample', 'inference', 'total'} and pred.timings['total'] >= pred.timings['inference']
        np.testing.assert_allclose(clf.predict(path.read_bytes(), name=path.name).probabilities, pred.probabilities, atol=1e-6)
    assert len(clf.predict(clips['good'][0], top_k=9).top) == 9


def test_serving_feeds_the_model_exactly_like_training(clf, tiny_models, clips):
    "The classifier's input is sample_clip's output; TFLite float32 and SavedModel give the Keras model's probabilities."
    keras, saved = tiny_models['keras'], Classifier.load(tiny_models['savedmodel'])
    for path in clips['good']:
        x = sample_clip(path, NUM_FRAMES, RESOLUTION)
        np.testing.assert_array_equal(clf.sample(path), x)
        want = softmax(keras(x[None], training=False).numpy()[0])
        np.testing.assert_allclose(clf.predict(path).probabilities, want, atol=1e-5)
        np.testing.assert_allclose(saved.predict(path).probabilities, want, atol=1e-5)


def test_api_equals_the_evaluation_pipeline(clf, tiny_models, clips, tmp_path):
    "Clips written as records and read back by make_dataset get the same probabilities as through the API (1e-5)."
    from crossfit_nb.preprocessing import make_dataset, preprocess
    d = tmp_path/'ds'
    d.mkdir()
    rows = []
    for i, src in enumerate(clips['good']*2):
        (d/f'c{i}.mp4').write_bytes(src.read_bytes())
        rows.append({'clip_id': f'c{i}', 'label': LABELS[i], 'source_video': f'v{i}', 'clip_path': f'c{i}.mp4'})
    (d/'manifest.json').write_text(json.dumps({'format_version': 1, 'clips': rows}))
    card = preprocess(d, num_frames=NUM_FRAMES, resolution=RESOLUTION, encoding='raw', progress=False)
    for split, ids in card['clips'].items():
        if not ids: continue
        ds = make_dataset(d/'records', split, batch_size=1, with_metadata=True)
        for frames, _, meta in ds.as_numpy_iterator():
            clip_id = meta['clip_id'][0].decode()
            np.testing.assert_allclose(clf.probabilities(frames[0]), clf.predict(d/f'{clip_id}.mp4').probabilities, atol=1e-5)


BAD = {'notes.txt': 'not a readable video', 'empty.mp4': 'empty file', 'corrupt.mp4': 'corrupt|not a readable|could not decode',
       'noframes.y4m': 'no frames', 'audio.m4a': 'no video stream', 'missing.mp4': 'not found'}


@pytest.mark.parametrize('name', list(BAD))
def test_bad_input_is_a_clear_error_never_a_prediction(clf, clips, name):
    with pytest.raises(VideoError, match=BAD[name]) as e:
        clf.predict(clips['dir']/name)
    assert name in str(e.value)
    if (clips['dir']/name).exists():
        with pytest.raises(VideoError, match=name):
            clf.predict((clips['dir']/name).read_bytes(), name=name)


def test_huge_files_are_refused_before_decoding(tiny_models, clips):
    small = Classifier.load(tiny_models['tflite float32'], max_bytes=1000)
    with pytest.raises(VideoError, match='too large'): small.predict(clips['good'][0])
    with pytest.raises(VideoError, match='big.mp4: file too large'): small.predict(b'0'*2000, name='big.mp4')


def test_load_refuses_what_is_not_a_model(tmp_path):
    (tmp_path/'m.tflite').write_bytes(b'garbage')
    with pytest.raises(ModelError, match='not a loadable TFLite'): Classifier.load(tmp_path/'m.tflite')
    with pytest.raises(ModelError, match='not a .tflite file or a SavedModel'): Classifier.load(tmp_path)


def test_quantized_variant_stays_close(tiny_models, clips):
    ref, dyn = Classifier.load(tiny_models['tflite float32']), Classifier.load(tiny_models['tflite dynamic'])
    for path in clips['good']:
        assert np.abs(ref.predict(path).probabilities - dyn.predict(path).probabilities).max() < 0.05


def test_predict_command(tiny_models, clips):
    "The installed console script: good clips are classified, a bad one is an error on stderr and exit status 1."
    model, good = tiny_models['tflite float32'], clips['good']
    proc = run_cli('predict', *good, clips['dir']/'notes.txt', '--model', model, '--json', '--top-k', '3', check=False)
    assert proc.returncode == 1 and 'notes.txt: not a readable video' in proc.stderr
    out = json.loads(proc.stdout)
    assert [r['source'] for r in out] == [str(p) for p in good] + [str(clips['dir']/'notes.txt')]
    assert all(len(r['prediction']) == 3 for r in out[:3]) and 'prediction' not in out[3]
    assert out[0]['prediction'][0][0] == Classifier.load(model).predict(good[0]).label


def test_predict_command_text_and_bad_model(tiny_models, clips):
    from typer.testing import CliRunner
    from crossfit_nb.cli import build_app
    app = build_app()
    good = clips['good'][0]
    r = CliRunner().invoke(app, ['predict', str(good), '--model', str(tiny_models['savedmodel'])])
    assert r.exit_code == 0 and r.stdout.startswith(f"{good}: {Classifier.load(tiny_models['savedmodel']).predict(good).label} ")
    r = CliRunner().invoke(app, ['predict', str(good), '--model', str(clips['dir']/'notes.txt')])
    assert r.exit_code == 2 and 'not a .tflite file' in r.output


def _event(path):
    return {'video': base64.b64encode(path.read_bytes()).decode()}


def test_lambda_handler_events(tiny_models, clips, monkeypatch):
    from crossfit_nb import lambda_handler as lh
    monkeypatch.setenv(lh.MODEL_ENV, str(tiny_models['tflite float32']))
    monkeypatch.setattr(lh, '_models', None)
    good = clips['good'][0]
    r = lh.handler(_event(good), None)
    assert r['statusCode'] == 200 and r['headers']['Content-Type'] == 'application/json'
    body = json.loads(r['body'])
    assert [l for l, _ in body['prediction']] == [l for l, _ in Classifier.load(tiny_models['tflite float32']).predict(good).top]
    assert lh.get_models() is lh.get_models()                          # loaded once per container
    http = {'body': base64.b64encode(json.dumps({**_event(good), 'top_k': 2}).encode()).decode(), 'isBase64Encoded': True}
    assert len(json.loads(lh.handler(http)['body'])['prediction']) == 2
    for name in ('notes.txt', 'corrupt.mp4', 'noframes.y4m', 'audio.m4a', 'empty.mp4'):
        r = lh.handler(_event(clips['dir']/name) if name != 'empty.mp4' else {'video': ''})
        assert r['statusCode'] == 400 and 'prediction' not in json.loads(r['body']), (name, r)
    for bad in ({}, {'video': 3}, {'video': '%%%'}, {'body': 'not json'}, [1, 2], {'video': _event(good)['video'], 'top_k': 'x'}):
        r = lh.handler(bad)
        assert r['statusCode'] == 400 and json.loads(r['body'])['error'], bad


def test_serving_path_imports_no_tensorflow(tiny_models, clips):
    "What the Lambda image runs (handler + TFLite) imports only NumPy, PyAV and ai-edge-litert, and no module the image does not copy."
    code = f"""
import base64, json, os, sys
os.environ['CROSSFIT_MODEL'] = {str(tiny_models['tflite float32'])!r}
from crossfit_nb.lambda_handler import handler, IMAGE_MODULES
r = handler({{'video': base64.b64encode(open({str(clips['good'][0])!r}, 'rb').read()).decode()}})
assert r['statusCode'] == 200, r
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'keras', 'official', 'dash', 'plotly', 'ipywidgets',
                                                            'pandas', 'PIL', 'cv2', 'typer', 'tqdm', 'scipy', 'sklearn'))
ours = sorted(m.split('.')[1] for m in sys.modules if m.startswith('crossfit_nb.'))
print(json.dumps({{'heavy': heavy, 'ours': ours, 'image': IMAGE_MODULES}}))
"""
    out = json.loads(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.splitlines()[-1])
    assert out['heavy'] == []
    assert set(out['ours']) <= set(out['image'])


def test_dockerfile_copies_the_image_modules():
    from crossfit_nb.lambda_handler import IMAGE_MODULES
    from conftest import ROOT
    text = (ROOT/'deploy'/'lambda'/'Dockerfile').read_text()
    assert text.startswith('#') and 'FROM public.ecr.aws/lambda/python:3.11' in text
    assert all(f'crossfit_nb/{m}.py' in text for m in IMAGE_MODULES)
    reqs = (ROOT/'deploy'/'lambda'/'requirements.txt').read_text().lower()
    assert 'ai-edge-litert' in reqs and 'av' in reqs and 'tensorflow' not in reqs.replace('no tensorflow', '')


def test_web_app_server_side(clf, clips):
    from crossfit_nb.webapp import classify_upload, create_app, data_url
    from crossfit_nb.testing import running_app
    good = clips['good'][1]
    r = classify_upload(clf, data_url(good), good.name)
    assert r['movement'] == clf.predict(good).label and r['error'] == ''
    r = classify_upload(clf, data_url(clips['dir']/'notes.txt', 'text/plain'), 'notes.txt')
    assert r['movement'] == '' and 'notes.txt: not a readable video' in r['error']
    with running_app(create_app(clf, {'clip': good})) as url:
        assert 'CrossFit' in urllib.request.urlopen(url, timeout=30).read().decode()
        post = lambda payload: urllib.request.urlopen(urllib.request.Request(
            f'{url}/api/predict', json.dumps(payload).encode(), {'Content-Type': 'application/json'}), timeout=30)
        assert json.loads(post(_event(good)).read())['prediction'][0][0] == clf.predict(good).label
        with pytest.raises(urllib.error.HTTPError) as e: post(_event(clips['dir']/'notes.txt'))
        assert e.value.code == 400 and 'not a readable video' in json.loads(e.value.read())['error']


def test_export_command_refuses_unknown_variants(tmp_path):
    from typer.testing import CliRunner
    from crossfit_nb.cli import build_app
    app = build_app()
    r = CliRunner().invoke(app, ['export', '--variant', 'int4', '--runs-dir', str(tmp_path)])
    assert r.exit_code == 2 and 'unknown variants' in r.output
    r = CliRunner().invoke(app, ['export', '--runs-dir', str(tmp_path), '--data-dir', str(tmp_path)])
    assert r.exit_code == 2 and 'no trained model' in r.output


def test_lambda_accepts_a_body_that_is_already_an_object(tiny_models, clips, monkeypatch):
    "The Lambda console's test event carries `body` as a JSON object, not a string."
    from crossfit_nb import lambda_handler as lh
    monkeypatch.setenv(lh.MODEL_ENV, str(tiny_models['tflite float32']))
    monkeypatch.setattr(lh, '_models', None)
    r = lh.handler({'body': {**_event(clips['good'][0]), 'top_k': 3}})
    assert r['statusCode'] == 200 and len(json.loads(r['body'])['prediction']) == 3


@pytest.mark.parametrize('name', ['a.mp\u0000', 'a.' + 'x'*300, '../../x.mp4', '\u0007.mp4'])
def test_hostile_upload_names_get_an_answer_not_a_crash(clf, clips, tiny_models, monkeypatch, name):
    "A file name from the user never reaches the operating system as it is (API, Dash upload, Lambda)."
    from crossfit_nb import lambda_handler as lh
    from crossfit_nb.webapp import classify_upload, create_app, data_url
    from crossfit_nb.testing import running_app
    good = clips['good'][0]
    assert classify_upload(clf, data_url(good), name)['movement'] == clf.predict(good).label
    monkeypatch.setenv(lh.MODEL_ENV, str(tiny_models['tflite float32']))
    monkeypatch.setattr(lh, '_models', None)
    assert lh.handler({**_event(good), 'name': name})['statusCode'] == 200
    with running_app(create_app(clf, {'clip': good})) as url:
        req = urllib.request.Request(f'{url}/api/predict', json.dumps({**_event(good), 'name': name}).encode(),
                                     {'Content-Type': 'application/json'})
        assert json.loads(urllib.request.urlopen(req, timeout=30).read())['prediction'][0][0] == clf.predict(good).label


def test_variable_frame_rate_and_rotated_uploads(clf, clips, tmp_path, ffmpeg):
    "Phone-like files: variable frame rate (frames dropped, timestamps kept) and a portrait display matrix."
    src = clips['good'][2]
    vfr, turned = tmp_path/'vfr.mp4', tmp_path/'turned.mp4'
    subprocess.run([ffmpeg, '-loglevel', 'error', '-i', src, '-vf', r"select='not(eq(mod(n\,10)\,5))'",
                    '-fps_mode', 'passthrough', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', vfr], check=True)
    subprocess.run([ffmpeg, '-loglevel', 'error', '-i', src, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', turned], check=True)
    for path in (vfr, turned):
        pred = clf.predict(path)
        assert len(pred.top) == 5 and abs(sum(pred.probabilities) - 1) < 1e-4
        assert clf.predict(path.read_bytes(), name=path.name).top == pred.top
    # the model sees the clip upright: the stored frames, sampled and scaled, then turned as a player turns them
    assert np.array_equal(clf.sample(turned), np.rot90(clf.sample(src), 1, axes=(1, 2)))
