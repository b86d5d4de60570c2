"""Learning happens: a MoViNet trained briefly on real synthetic clips classifies videos it never saw, and the
same run with shuffled labels does not (so the first assertion cannot pass by accident).

The data: 3 movements, each alone in its own videos (36 athletes each, 2 reps), written as mp4, cut by the
extraction code, sampled with the motion crop into TFRecords, split by video, so the test clips show athletes,
scenes and cameras that training never saw. The model: MoViNet-A0 (2plus1d) from scratch at 64 px, 8 frames, the
demo recipe (strong augmentation), 20 short epochs. Nothing here is timed."""
import json

import pytest

from crossfit_nb.core import Config
from crossfit_nb.extraction import extract_dataset
from crossfit_nb.preprocessing import preprocess, read_card
from crossfit_nb.synthetic import write_videos
from crossfit_nb.training import load_datasets, train, train_config

MOVEMENTS = ('double-unders', 'ghd', 'shspu')
CHANCE = 1/len(MOVEMENTS)


@pytest.fixture(scope='module')
def records(tmp_path_factory):
    cfg = Config(data_dir=tmp_path_factory.mktemp('learn'), preset='learn')
    specs = [dict(name=f"learn_{m.replace(' ', '-')}_{i:03d}", workout=m, movements=[m], rounds=[2])
             for m in MOVEMENTS for i in range(36)]
    write_videos(cfg, specs, workers=2, progress=False)
    extract_dataset(cfg.annotations_dir, cfg.videos_dir, cfg.dataset_dir, workers=2, progress=False)
    card = preprocess(cfg.dataset_dir, cfg.records_dir, num_frames=8, resolution=64, resize_mode='motion', progress=False)
    assert card['split']['shared_source_videos'] == []
    assert set(card['split']['source_videos']['train']).isdisjoint(card['split']['source_videos']['test'])
    return cfg.records_dir


def held_out_top1(records, tmp_path, labels: str) -> tuple[float, int]:
    "Train with `labels` ('true' or 'shuffled'); the last epoch's top-1 on the held-out videos and their clip count."
    cfg = train_config('demo', resolution=64, num_frames=8, epochs=20, labels=labels)
    train_ds, test_ds = load_datasets(records, cfg)
    info = train(cfg, train_ds, test_ds, tmp_path/labels, resume=False, verbose=0)
    assert info['status'] == 'complete'
    last = json.loads((tmp_path/labels/'history.json').read_text())[-1]
    return last['val_top1'], read_card(records)['totals']['test']


def test_training_learns_and_shuffled_labels_do_not(records, tmp_path):
    true_top1, n = held_out_top1(records, tmp_path, 'true')
    assert n >= 36
    # well above chance (1/3) on athletes, scenes and cameras never seen in training
    assert true_top1 >= 0.6, f"held-out top-1 {true_top1:.3f} over {n} clips"
    shuffled_top1, _ = held_out_top1(records, tmp_path, 'shuffled')
    # the control: the same data, the same recipe, labels that say nothing about the clips
    assert shuffled_top1 < 0.5, f"with shuffled labels the held-out top-1 is {shuffled_top1:.3f}: the test cannot tell learning"
    assert true_top1 - shuffled_top1 >= 0.2
