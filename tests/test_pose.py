"The keypoint pathway from the command line: `fetch-pose`, `predict --model {movinet,pose,ensemble}`, bad inputs."
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, numbered_frames, run_cli

REAL = ROOT.parent/'shared'/'real'


@pytest.fixture(scope='module')
def pose_model(tmp_path_factory):
    "An untrained keypoint classifier exported as the keypoints chapter exports it."
    from crossfit_nb.keypoint_model import build_keypoint_tcn, export_keypoint_tcn
    return export_keypoint_tcn(build_keypoint_tcn(), tmp_path_factory.mktemp('pose')/'pose-classifier.tflite')


@pytest.fixture(scope='module')
def movinet_model(tmp_path_factory):
    from crossfit_nb.artifacts import export_saved_model
    from crossfit_nb.export import convert_tflite
    from crossfit_nb.testing import tiny_classifier
    d = tmp_path_factory.mktemp('movinet')
    return convert_tflite(export_saved_model(tiny_classifier(4, 32), d/'sm', {}), d/'tiny.tflite')


def test_fetch_pose_keeps_checked_models_and_refuses_a_wrong_wheel(tmp_path):
    from crossfit_nb.pose import POSE_MODELS, pose_models_dir
    r = run_cli('fetch-pose')                                    # the setup fetched them: nothing to do
    assert 'checked' in r.stdout and all((pose_models_dir()/n).exists() for n in POSE_MODELS)
    wheel = tmp_path/'mediapipe-0.10.21-fake.whl'
    with zipfile.ZipFile(wheel, 'w') as zf:
        for name, (member, _) in POSE_MODELS.items(): zf.writestr(member, b'not a model')
    r = run_cli('fetch-pose', '--wheel', wheel, '--models-dir', tmp_path/'models', check=False)
    assert r.returncode == 2 and 'SHA-256' in r.stderr and not any((tmp_path/'models').glob('*.tflite'))


@pytest.mark.skipif(not REAL.exists(), reason='../shared/real is not here')
def test_predict_each_model_on_a_real_clip(pose_model, movinet_model):
    clip = REAL/'thruster_32.mp4'
    for kind in ('movinet', 'pose', 'ensemble'):
        r = run_cli('predict', clip, '--model', kind, '--movinet-model', movinet_model, '--pose-model', pose_model, '--json', '--top-k', '3')
        out = json.loads(r.stdout)[0]
        assert out['model'] == kind and len(out['prediction']) == 3 and out['timings']['total'] > 0
        assert ('pose' in out['timings']) == (kind != 'movinet')
        if kind != 'movinet': assert out['pose_found'] == '16/16'
    r = run_cli('predict', clip, '--model', movinet_model, '--json')   # a file still works as --model
    assert json.loads(r.stdout)[0]['model'] == 'movinet'


def test_predict_pose_bad_inputs(pose_model, tmp_path):
    from crossfit_nb.video import write_video
    empty = write_video(tmp_path/'nobody.mp4', numbered_frames(20, 96, 160))
    (tmp_path/'notes.mp4').write_text('not a video')
    r = run_cli('predict', empty, tmp_path/'notes.mp4', '--model', 'pose', '--pose-model', pose_model, '--json', check=False)
    out = json.loads(r.stdout)
    assert r.returncode == 1 and [o['source'] for o in out] == [str(empty), str(tmp_path/'notes.mp4')]
    assert 'no athlete' in out[0]['error'] and 'notes.mp4' in out[1]['error']
    r = run_cli('predict', empty, '--model', 'keypoints', check=False)
    assert r.returncode == 2 and 'expected one of movinet, pose, ensemble' in r.stderr
    r = run_cli('predict', empty, '--model', 'pose', '--pose-model', tmp_path/'none.tflite', check=False)
    assert r.returncode == 2 and 'none.tflite' in r.stderr

