"A stream MoViNet exported to a frame-by-frame TFLite model gives the whole-clip model's probabilities after the last frame."
import numpy as np
import pytest

from crossfit_nb.core import LABELS
from crossfit_nb.inference import Classifier, ModelError, StreamClassifier, softmax
from crossfit_nb.video import sample_clip
from deployment_helpers import clips  # noqa: F401 (fixture)

T, R = 6, 32


def test_stream_tflite_matches_the_whole_clip_model(clips, tmp_path):
    from crossfit_nb.export import export_stream_tflite
    from crossfit_nb.modeling import build_classifier, model_spec
    spec = model_spec('a0', 'stream', pretrained=False)
    model = build_classifier(spec, len(LABELS), T, R)
    rng = np.random.default_rng(0)
    for w in model.trainable_weights[-4:]:                         # a head that tells clips apart
        w.assign(rng.normal(0, 0.02, w.shape).astype(np.float32))
    info = {'spec': spec.to_dict(), 'labels': list(LABELS), 'num_frames': T, 'resolution': R}
    path = export_stream_tflite(model, info, tmp_path/'stream.tflite')
    clf = StreamClassifier(path)
    whole = []
    for video in clips['good']:
        pred = clf.predict(video)
        logits = model(sample_clip(video, T, R)[None], training=False).numpy()[0]
        np.testing.assert_allclose(pred.probabilities, softmax(logits), atol=1e-5)
        assert clf.frame_probabilities.shape == (T, len(LABELS))
        whole.append(logits)
    assert np.abs(whole[0] - whole[1]).max() > 1e-3                # the check is not vacuous
    with pytest.raises(ModelError, match='stream'): Classifier.load(path)
    with pytest.raises(ValueError, match='causal'):
        export_stream_tflite(model, {**info, 'spec': model_spec('a0', 'base', '2plus1d', pretrained=False).to_dict()}, tmp_path/'x.tflite')
