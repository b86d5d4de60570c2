"""MoViNet building, Kinetics-600 checkpoint restore (asserted), downloader, freeze policies, stream parity."""
import functools
import http.server
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from crossfit_nb.core import NUM_CLASSES
from crossfit_nb.modeling import (KINETICS_600, CheckpointError, apply_freeze, build_backbone, build_classifier,
                                  build_model, build_stream_model, download_checkpoint, model_spec, resolve_checkpoint,
                                  restore_backbone, stream_logits)

T, R = 4, 64  # tiny clips keep the suite fast on a CPU


def assert_same_weights(a: tf_keras.Model, b: tf_keras.Model):
    "Same variables, matched by name (get_weights() orders by trainability, which freezing changes)."
    va, vb = {v.name: v.numpy() for v in a.variables}, {v.name: v.numpy() for v in b.variables}
    assert va.keys() == vb.keys() and len(va) == len(a.variables)
    for k in va: np.testing.assert_array_equal(va[k], vb[k], err_msg=k)


@pytest.fixture(scope='module')
def official_like(tmp_path_factory):
    "A randomly initialised A0-base 600-class model saved with the layout of movinet_a0_base.tar.gz."
    root = tmp_path_factory.mktemp('ckpt')
    src = build_classifier(model_spec('a0', 'base', '3d'), KINETICS_600, T, R)
    tf.train.Checkpoint(model=src).save(str(root/'movinet_a0_base'/'ckpt'))
    www = root/'www'; www.mkdir()
    with tarfile.open(www/'movinet_a0_base.tar.gz', 'w:gz') as tar:
        tar.add(root/'movinet_a0_base', 'movinet_a0_base')
    return src, root


@pytest.fixture
def http_server(official_like):
    _, root = official_like
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root/'www'))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True); thread.start()
    yield f'http://127.0.0.1:{srv.server_port}'
    srv.shutdown(); srv.server_close(); thread.join()


def test_checkpoint_restore_is_asserted(official_like):
    src, root = official_like
    model, info = build_model('a0', 'base', num_frames=T, resolution=R, pretrained=True, checkpoint=root/'movinet_a0_base')
    assert info['spec']['conv_type'] == '3d'
    assert info['checkpoint']['backbone_kernels_restored'] > 50
    assert_same_weights(src.backbone, model.backbone)
    assert model(tf.zeros([1, T, R, R, 3])).shape == (1, NUM_CLASSES)
    assert info['trainable_backbone_layers'] == [] and model.backbone.trainable is False


@pytest.mark.parametrize('model_id,conv_type', [('a0', '2plus1d'), ('a0', '3d_2plus1d'), ('a1', '3d')])
def test_mismatched_checkpoint_fails_clearly(official_like, model_id, conv_type):
    _, root = official_like
    spec = model_spec(model_id, 'base', conv_type)
    with pytest.raises(CheckpointError, match=f'does not fit MoViNet-{model_id.upper()} base with conv_type'):
        restore_backbone(build_backbone(spec), resolve_checkpoint(root/'movinet_a0_base'), spec, T, R)


def test_pretrained_needs_checkpoint_conv_type(tmp_path):
    with pytest.raises(CheckpointError, match='cannot load them'):
        build_model('a0', 'base', conv_type='2plus1d', pretrained=True, cache_dir=tmp_path)


def test_downloader_against_local_server(official_like, http_server, tmp_path):
    src, _ = official_like
    folder = download_checkpoint('a0', 'base', tmp_path, url=f'{http_server}/movinet_a0_base.tar.gz')
    assert folder == tmp_path/'movinet_a0_base' and (tmp_path/'movinet_a0_base.tar.gz').exists()
    assert not list(tmp_path.glob('.partial/*'))   # no half-downloaded file left
    # the cache is found without the network afterwards
    model, info = build_model('a0', 'base', num_frames=T, resolution=R, cache_dir=tmp_path, freeze='full')
    assert info['checkpoint']['checkpoint'].startswith(str(tmp_path))
    assert_same_weights(src.backbone, model.backbone)
    with pytest.raises(CheckpointError, match='could not download'):
        download_checkpoint('a1', 'base', tmp_path, url=f'{http_server}/movinet_a1_base.tar.gz')
    assert not (tmp_path/'movinet_a1_base.tar.gz').exists() and not list(tmp_path.glob('.partial/*'))   # no half-downloaded file left


def test_offline_without_checkpoint_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr('crossfit_nb.modeling.CHECKPOINT_URL', 'http://127.0.0.1:9/movinet_{model_id}_{model_type}.tar.gz')
    with pytest.raises(CheckpointError, match='pretrained=False'):
        build_model('a0', 'base', num_frames=T, resolution=R, cache_dir=tmp_path)


def test_resolve_checkpoint_forms(official_like, tmp_path):
    _, root = official_like
    prefix = resolve_checkpoint(root/'movinet_a0_base')
    assert Path(prefix).name == 'ckpt-1'
    assert resolve_checkpoint(prefix) == prefix
    tar = tmp_path/'movinet_a0_base.tar.gz'
    tar.write_bytes((root/'www'/'movinet_a0_base.tar.gz').read_bytes())
    assert Path(resolve_checkpoint(tar)).parent == tmp_path/'movinet_a0_base'
    (tmp_path/'bad.tar.gz').write_bytes(b'not a tarball')
    with pytest.raises(CheckpointError, match='bad.tar.gz'):
        resolve_checkpoint(tmp_path/'bad.tar.gz')


def test_freeze_policies():
    model = build_classifier(model_spec('a0', pretrained=False), NUM_CLASSES, T, R)
    head = model.layers[-1]
    assert apply_freeze(model, 'head') == []
    assert {v.ref() for v in model.trainable_variables} == {v.ref() for v in head.trainable_variables}
    last1 = apply_freeze(model, 'last-1')
    assert last1 == ['block4_layer0', 'block4_layer1', 'block4_layer2', 'block4_layer3', 'head']
    n1 = len(model.trainable_variables)
    assert all(not v.name.startswith(('stem', 'block0', 'block3')) for v in model.trainable_variables)
    apply_freeze(model, 2)
    n2 = len(model.trainable_variables)
    apply_freeze(model, 'full')
    assert len(head.trainable_variables) < n1 < n2 < len(model.trainable_variables)
    assert len(model.non_trainable_variables) == len([v for v in model.variables if 'moving' in v.name])
    with pytest.raises(ValueError, match='unknown freeze policy'):
        apply_freeze(model, 'most')
    with pytest.raises(ValueError, match='has 5 blocks'):
        apply_freeze(model, 'last-9')


def test_stream_fine_tuning_parity():
    "Fine-tune a causal model without external states, rebuild with states: streaming = whole clip."
    spec = model_spec('a0', 'stream', pretrained=False)
    assert (spec.causal, spec.conv_type, spec.se_type) == (True, '2plus1d', '2plus3d')
    r = 32
    clip = tf.random.stateless_uniform([2, 8, r, r, 3], seed=(0, 1))
    trained = build_classifier(spec, NUM_CLASSES, 8, r)
    before = [w.copy() for w in trained.get_weights()]
    trained.compile(tf_keras.optimizers.SGD(0.05), tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trained.train_on_batch(clip, tf.constant([1, 2]))  # fine-tuning works without external states
    assert any(not np.array_equal(a, b) for a, b in zip(before, trained.get_weights()))
    stream = build_stream_model(trained, spec, NUM_CLASSES, r)
    whole = trained(clip, training=False).numpy()
    streamed = stream_logits(stream, clip).numpy()
    assert np.abs(whole - streamed).max() < 1e-4
    with pytest.raises(ValueError, match='causal'):
        build_stream_model(trained, model_spec('a0', 'base', pretrained=False))
