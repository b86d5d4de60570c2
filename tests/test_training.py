"""Training: the recipe learns, an interrupted run resumes on the same schedule, the exported model serves."""
import json

import numpy as np
import pytest
import tensorflow as tf

from crossfit_nb.core import LABELS, NUM_CLASSES
from crossfit_nb.modeling import apply_freeze, build_classifier, model_spec
from crossfit_nb.artifacts import SAVED_MODEL
from crossfit_nb.core import softmax
from crossfit_nb.inference import Classifier
from crossfit_nb.modeling import load_run
from crossfit_nb.training import TrainConfig, current_lr, make_loss, make_metrics, make_optimizer, train, train_config
from crossfit_nb.testing import toy_dataset

T, R = 4, 32
CFG = TrainConfig(model_id='a0', conv_type='2plus1d', pretrained=False, freeze='full', resolution=R, num_frames=T,
                  batch_size=4, epochs=3)


def test_profiles():
    thesis = train_config('thesis')
    assert (thesis.model_id, thesis.resolution, thesis.num_frames, thesis.epochs, thesis.batch_size) == ('a2', 224, 10, 10, 8)
    assert thesis.spec().conv_type == '3d' and thesis.pretrained and thesis.freeze == 'head'
    ci = train_config('ci')
    assert ci.spec().conv_type == '2plus1d' and not ci.pretrained
    recipe = TrainConfig()
    assert (recipe.learning_rate, recipe.rho, recipe.momentum, recipe.epsilon, recipe.clipnorm, recipe.label_smoothing,
            recipe.batch_size) == (0.01, 0.9, 0.9, 1.0, 1.0, 0.1, 8)
    with pytest.raises(ValueError, match='unknown profile'):
        train_config('huge')


def test_loss_drops_on_a_fixed_batch():
    "The thesis recipe (RMSprop, cosine decay, label smoothing) fits a fixed small batch."
    tf.keras.utils.set_random_seed(0)
    x, y = next(iter(toy_dataset(n=8, num_frames=T, resolution=R, batch_size=8)))
    y = tf.one_hot(y, NUM_CLASSES)
    model = build_classifier(model_spec('a0', pretrained=False), NUM_CLASSES, T, R)
    apply_freeze(model, 'full')
    model.compile(make_optimizer(CFG, total_steps=20), make_loss(CFG), make_metrics())
    losses = [float(model.train_on_batch(x, y)[0]) for _ in range(20)]
    first, last = np.mean(losses[:3]), np.mean(losses[-3:])
    assert last < 0.6 * first, (first, last, losses)


def test_interrupted_run_resumes_on_the_same_schedule(tmp_path):
    train_ds, val_ds = toy_dataset(18, T, R, 4, seed=0), toy_dataset(9, T, R, 4, seed=1)
    steps = 5  # ceil(18 / 4)
    first = train(CFG, train_ds, val_ds, tmp_path/'run', stop_after_epoch=1, verbose=0)
    assert (first['status'], first['completed_epochs'], first['optimizer_step']) == ('interrupted', 1, steps)
    assert not (tmp_path/'run'/'saved_model').exists()
    done = train(CFG, train_ds, val_ds, tmp_path/'run', verbose=0)
    assert (done['status'], done['completed_epochs'], done['optimizer_step']) == ('complete', 3, 3 * steps)
    hist = json.loads((tmp_path/'run'/'history.json').read_text())
    assert [r['epoch'] for r in hist] == [1, 2, 3]
    # an uninterrupted run ends epoch k at step k * steps, where the cosine schedule of all 3 epochs gives lr
    assert [r['step'] for r in hist] == [steps, 2 * steps, 3 * steps]
    schedule = make_optimizer(CFG, 3 * steps)
    for r in hist:
        schedule.iterations.assign(r['step'])
        assert r['lr'] == pytest.approx(current_lr(schedule), rel=1e-6)
    for key in ('loss', 'top1', 'top5', 'val_loss', 'val_top1', 'val_top5'):
        assert key in hist[0]
    assert (tmp_path/'run'/'history.csv').read_text().splitlines()[0].startswith('epoch,')
    assert list((tmp_path/'run'/'logs').rglob('events.out.tfevents.*'))
    best = max(hist, key=lambda r: r['val_top1'])
    assert done['best']['value'] == pytest.approx(best['val_top1'])
    # train_info.json and the exported model
    info = json.loads((tmp_path/'run'/'train_info.json').read_text())
    assert info['labels'] == list(LABELS) and info['class_map']['0'] == LABELS[0]
    assert (info['model_id'], info['conv_type'], info['resolution'], info['num_frames']) == ('a0', '2plus1d', R, T)
    serve = tf.saved_model.load(str(tmp_path/'run'/SAVED_MODEL)).signatures['serving_default']
    clip = next(iter(val_ds))[0][:1]
    out = serve(image=clip)
    assert out['logits'].shape == (1, NUM_CLASSES) and out['logits'].dtype == tf.float32
    served = Classifier.load(tmp_path/'run')             # a training run serves through its SavedModel and sidecar
    np.testing.assert_allclose(served.probabilities(clip.numpy()[0]), softmax(out['logits'].numpy()[0]), atol=1e-6)
    np.testing.assert_allclose(served.probabilities(clip.numpy()[0]).sum(), 1.0, rtol=1e-5)
    model, _ = load_run(tmp_path/'run')
    np.testing.assert_allclose(model(clip, training=False).numpy(), out['logits'].numpy(), atol=1e-4)
    # a different configuration in the same folder is refused
    with pytest.raises(ValueError, match='another configuration'):
        train(CFG.replace(resolution=48), train_ds, val_ds, tmp_path/'run', verbose=0)


def test_train_command_is_a_typer_command():
    from typer.testing import CliRunner
    from crossfit_nb.cli import build_app
    result = CliRunner().invoke(build_app(), ['train', '--help'])
    assert result.exit_code == 0, result.output
    for opt in ('--profile', '--conv-type', '--freeze', '--no-pretrained', '--resume'):
        assert opt in result.output
