"Chapter 3.2.2: sampling, records, splits and the tf.data pipeline, on small clips written here."
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import frame_numbers, numbered_frames
from crossfit_nb import preprocessing as pp
from crossfit_nb.core import LABELS, LABEL_TO_ID, UnknownLabelError
from crossfit_nb.video import VideoReader, write_video


def make_dataset_dir(root, videos=4, clips_per_movement=2, labels=LABELS, size=(48, 64)):
    "A dataset folder like extraction's: smooth moving clips of each movement in each source video, and manifest.json."
    rng, entries = np.random.default_rng(1), []
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    for v in range(videos):
        for label in labels:
            for r in range(clips_per_movement):
                n = int(rng.integers(8, 30))                        # some clips shorter than 10 frames
                colour = rng.integers(30, 220, 3)
                frames = [np.clip(colour + 60*np.sin((xx + 3*t)/9.0 + yy/13.0)[..., None], 0, 255).astype(np.uint8)
                          for t in range(n)]
                clip_id = f'w{v}_{LABEL_TO_ID[label]}_{r}'
                rel = f"clips/{label.replace(' ', '-')}/{clip_id}.mp4"
                write_video(root/rel, frames, fps=29.97)
                entries.append({'clip_id': clip_id, 'label': label, 'class_id': LABEL_TO_ID[label], 'source_video': f'w{v}.mp4',
                                'video_path': f'videos/w{v}.mp4', 'annotation': f'annotations/w{v}.json', 'tag_id': r,
                                'start_frame': 0, 'end_frame': n - 1, 'num_frames': n, 'fps': 29.97, 'start_time': 0.0,
                                'duration': n/29.97, 'clip_path': rel})
    (root/'manifest.json').write_text(json.dumps({'format_version': 1, 'clips': entries}))
    return root


@pytest.fixture(scope='module')
def dataset(tmp_path_factory):
    return make_dataset_dir(tmp_path_factory.mktemp('pre')/'ds')


@pytest.fixture(scope='module')
def jpeg_records(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp('rec')/'jpeg'
    return out, pp.preprocess(dataset, out, resolution=32, shard_size=20, progress=False)


# Sampling

def test_indices_are_equally_spaced_from_first_to_last():
    for n in range(10, 400):
        idx = pp.sample_indices(n, 10)
        assert idx[0] == 0 and idx[-1] == n - 1
        gaps = np.diff(idx)
        assert gaps.min() >= 1 and gaps.max() - gaps.min() <= 1


def test_short_clips_repeat_every_frame_in_order():
    for n in range(1, 10):
        idx = pp.sample_indices(n, 10)
        assert len(idx) == 10 and set(idx) == set(range(n)) and (np.diff(idx) >= 0).all()
    with pytest.raises(ValueError, match='frame_count=0'): pp.sample_indices(0, 10)


@pytest.mark.parametrize('n', [4, 45, 150])
def test_sample_clip_decodes_only_the_sampled_frames(tmp_path, monkeypatch, n):
    path = write_video(tmp_path/'numbered.mp4', numbered_frames(n), crf=0)
    asked, real = [], VideoReader.read
    def spy(self, indices, **kw):
        asked.append((list(indices), kw.get('size')))
        return real(self, indices, **kw)
    monkeypatch.setattr(VideoReader, 'read', spy)
    x = pp.sample_clip(path, 10, 40)
    assert x.shape == (10, 40, 40, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert asked == [(pp.sample_indices(n, 10).tolist(), (40, 40))]
    assert frame_numbers(x*255) == pp.sample_indices(n, 10).tolist()


def test_resize_modes_keep_or_ignore_the_aspect_ratio(tmp_path):
    tall = write_video(tmp_path/'tall.mp4', [np.full((80, 40, 3), 255, np.uint8)]*3)
    assert (pp.sample_clip(tall, 3, 20, 'squash') > 0.97).all()
    pad = pp.sample_clip(tall, 3, 20, 'pad')[0]
    assert (pad[:, :5] == 0).all() and (pad[:, 5:15] > 0.97).all() and (pad[:, 15:] == 0).all()
    assert (pp.sample_clip(tall, 3, 20, 'crop') > 0.97).all()
    with pytest.raises(ValueError, match='resize mode'): pp.sample_clip(tall, 3, 20, 'stretch')


def test_scaling_while_decoding_stays_close_to_a_resize_of_the_source_frames(tmp_path):
    from PIL import Image
    yy, xx = np.mgrid[0:96, 0:128]
    frames = [np.clip(np.stack([128 + 100*np.sin((xx + 3*t)/9.0 + yy/13.0), 60 + xx, 200 - yy], -1), 0, 255).astype(np.uint8)
              for t in range(12)]
    path = write_video(tmp_path/'smooth.mp4', frames, crf=0)       # lossless but for YUV 4:2:0 colour
    truth = np.stack([np.asarray(Image.fromarray(frames[i]).resize((32, 24), Image.BILINEAR)) for i in pp.sample_indices(12, 10)])
    error = pp.sample_clip(path, 10, 32, 'pad')[:, 4:28]*255 - truth  # pad: 32x24 centred in 32x32
    assert np.abs(error).mean() < 2.5 and np.abs(error).max() <= 8
    assert np.abs(error.mean((0, 1, 2))).max() < 1                   # no colour cast


# Manifest

def test_manifest_problems_are_named(tmp_path, dataset):
    with pytest.raises(FileNotFoundError, match='no manifest'): pp.load_clips(tmp_path)
    (tmp_path/'manifest.json').write_text(json.dumps({'format_version': 2, 'clips': []}))
    with pytest.raises(ValueError, match="manifest format 2"): pp.load_clips(tmp_path)
    m = json.loads((dataset/'manifest.json').read_text())
    m['clips'][0]['label'] = 'wall ball'
    (tmp_path/'manifest.json').write_text(json.dumps(m))
    with pytest.raises(UnknownLabelError, match='wall ball'): pp.load_clips(tmp_path)


# Splits

def workout_table(videos=40, movements_per_video=3, reps=15, seed=0):
    "Clips like the source: each athlete video holds a few movements of one workout, ~15 reps each."
    rng, rows = np.random.default_rng(seed), []
    workouts = [LABELS[i:i + movements_per_video] for i in range(0, len(LABELS), movements_per_video)]
    for v in range(videos):
        for label in workouts[v % len(workouts)]:
            rows += [{'clip_id': f'{v}-{label}-{r}', 'label': label, 'source_video': f'v{v}'} for r in range(int(rng.integers(reps - 3, reps + 3)))]
    return pd.DataFrame(rows)


@pytest.mark.parametrize('seed', range(5))
def test_group_split_never_shares_a_source_video_and_is_stratified(seed):
    clips = workout_table(seed=seed)
    split = pp.split_clips(clips, 0.2, seed)
    assert not set(clips.source_video[split == 'train']) & set(clips.source_video[split == 'test'])
    share = (split == 'test').groupby(clips.label).mean()
    assert set(share.index) == set(LABELS) and share.between(0.12, 0.28).all(), share
    assert pp.split_clips(clips, 0.2, seed).equals(split)


def test_movements_with_a_single_source_video_are_split_by_rep_order():
    clips = workout_table(videos=4, reps=5)       # workout 0 filmed twice, workouts 1 and 2 once
    clips['start_frame'] = clips.groupby('source_video').cumcount()*30
    split = pp.split_clips(clips, 0.2, 0)
    assert set(clips.label[split == 'train']) == set(LABELS) == set(clips.label[split == 'test'])
    shared = pp.shared_source_videos(clips, split)
    assert shared == ['v1', 'v2']                  # only the videos of the single-video movements
    for label, reps in clips[clips.source_video.isin(shared)].groupby('label'):
        sides = split[reps.sort_values('start_frame').index].tolist()
        k = max(1, round(0.2*len(reps)))
        assert sides == ['train']*(len(reps) - k) + ['test']*k, (label, sides)
    single = clips[clips.source_video == 'v0'].head(1)
    assert pp.split_clips(single, 0.2, 0).tolist() == ['train']


# Records and the card

def test_card_describes_the_records(jpeg_records, dataset):
    out, card = jpeg_records
    assert card == pp.read_card(out)
    assert card['format_version'] == 1 and card['class_map'] == LABEL_TO_ID and card['seed'] == 0
    assert card['sampling']['num_frames'] == 10 and card['sampling']['resolution'] == 32 and card['sampling']['resize_mode'] == 'squash'
    assert card['encoding']['frames'] == 'jpeg' and card['errors'] == []
    manifest = pp.load_clips(dataset)
    assert sorted(card['clips']['train'] + card['clips']['test']) == sorted(manifest.clip_id)
    assert sum(card['totals'].values()) == len(manifest) == sum(s['num_examples'] for s in card['shards'])
    assert all(card['counts']['train'][l] for l in LABELS)
    assert not set(card['split']['source_videos']['train']) & set(card['split']['source_videos']['test'])
    assert card['split']['shared_source_videos'] == []
    assert sorted(p.name for p in out.glob('*.tfrecord')) == sorted(s['file'] for s in card['shards'])
    assert not list((out/'.partial').glob('*'))   # no half-written shard


def read_all(records, split, **kw):
    xs, ys, ids = [], [], []
    for x, y, meta in pp.make_dataset(records, split, batch_size=5, with_metadata=True, **kw):
        xs.append(x.numpy()); ys.append(y.numpy()); ids += [c.decode() for c in meta['clip_id'].numpy()]
    return np.concatenate(xs), np.concatenate(ys), ids


def test_raw_records_equal_sample_clip_exactly(dataset, tmp_path):
    pp.preprocess(dataset, tmp_path, resolution=32, encoding='raw', compression='GZIP', progress=False)
    x, y, ids = read_all(tmp_path, 'test')
    clips = pp.load_clips(dataset).set_index('clip_id')
    for xi, yi, c in zip(x, y, ids):
        np.testing.assert_array_equal(xi, pp.sample_clip(clips.path[c], 10, 32))
        assert yi == clips.class_id[c]


def test_jpeg_records_match_sample_clip_within_jpeg_error(jpeg_records, dataset):
    out, card = jpeg_records
    x, y, ids = read_all(out, 'test')
    assert sorted(ids) == sorted(card['clips']['test'])
    clips = pp.load_clips(dataset).set_index('clip_id')
    ref = np.stack([pp.sample_clip(clips.path[c], 10, 32) for c in ids])
    err = np.abs(x - ref)
    assert err.mean() < 2/255 and np.percentile(err, 99) < 12/255, (err.mean(), np.percentile(err, 99))


def test_metadata_travels_with_each_clip(jpeg_records, dataset):
    out, _ = jpeg_records
    clips = pp.load_clips(dataset).set_index('clip_id')
    _, _, meta = next(iter(pp.make_dataset(out, 'train', batch_size=3, with_metadata=True)))
    for i, c in enumerate(meta['clip_id'].numpy()):
        row = clips.loc[c.decode()]
        assert meta['label'][i].numpy().decode() == row.label and meta['source_video'][i].numpy().decode() == row.source_video
        assert meta['frame_count'][i].numpy() == row.num_frames
        assert abs(meta['fps'][i].numpy() - 29.97) < 0.01
        assert meta['frame_indices'][i].numpy().tolist() == pp.sample_indices(row.num_frames, 10).tolist()


def test_pipeline_is_deterministic_and_resamples_on_read(jpeg_records):
    out, _ = jpeg_records
    batches = lambda seed: [(x.numpy(), y.numpy()) for x, y in pp.make_dataset(out, 'train', training=True, seed=seed)]
    a, b, c = batches(0), batches(0), batches(1)
    assert all((xa == xb).all() and (ya == yb).all() for (xa, ya), (xb, yb) in zip(a, b))
    assert any((ya != yc).any() for (_, ya), (_, yc) in zip(a, c))
    x, y = next(iter(pp.make_dataset(out, 'train', batch_size=4, resolution=24, num_frames=6)))
    assert x.shape == (4, 6, 24, 24, 3) and x.dtype.name == 'float32' and y.dtype.name == 'int32'
    plain = next(iter(pp.make_dataset(out, 'train', training=True, augment=False)))[0].numpy()
    augmented = next(iter(pp.make_dataset(out, 'train', training=True, augment=True)))[0].numpy()
    assert plain.shape == augmented.shape and not np.array_equal(plain, augmented)
    assert 0 <= augmented.min() and augmented.max() <= 1
    with pytest.raises(ValueError, match="no records for split 'val'"): pp.make_dataset(out, 'val')


def test_same_seed_same_bytes(dataset, jpeg_records, tmp_path):
    out, card = jpeg_records
    again = pp.preprocess(dataset, tmp_path, resolution=32, shard_size=20, progress=False)
    assert again['clips'] == card['clips']
    for s in card['shards']:
        assert (tmp_path/s['file']).read_bytes() == (out/s['file']).read_bytes()


def test_resume_rewrites_only_missing_shards(dataset, tmp_path):
    card = pp.preprocess(dataset, tmp_path, resolution=24, shard_size=20, progress=False)
    files = [s['file'] for s in card['shards']]
    before = {f: (tmp_path/f).stat().st_mtime_ns for f in files}
    (tmp_path/files[1]).unlink()                                   # interrupted before this shard was renamed
    (tmp_path/'.partial').mkdir(exist_ok=True)
    (tmp_path/'.partial'/f'123-{files[1]}').write_bytes(b'half')   # what it left behind
    pp.preprocess(dataset, tmp_path, resolution=24, shard_size=20, progress=False)
    after = {f: (tmp_path/f).stat().st_mtime_ns for f in files}
    assert [f for f in files if after[f] != before[f]] == [files[1]]
    card = pp.preprocess(dataset, tmp_path, resolution=24, shard_size=50, progress=False)   # another layout
    assert sorted(p.name for p in tmp_path.glob('*.tfrecord')) == sorted(s['file'] for s in card['shards'])


def test_the_same_dataset_named_another_way_resumes(dataset, tmp_path, monkeypatch):
    card = pp.preprocess(dataset, tmp_path, resolution=24, shard_size=20, progress=False)
    before = {s['file']: (tmp_path/s['file']).stat().st_mtime_ns for s in card['shards']}
    monkeypatch.chdir(dataset.parent)                               # a relative path: the CLI's `data/<preset>`
    pp.preprocess(Path(dataset.name), tmp_path, resolution=24, shard_size=20, progress=False)
    assert {f: (tmp_path/f).stat().st_mtime_ns for f in before} == before


def test_a_corrupt_clip_is_named_and_the_rest_goes_on(tmp_path, capsys):
    ds = make_dataset_dir(tmp_path/'ds', videos=2, clips_per_movement=1, labels=LABELS[:3])
    manifest = json.loads((ds/'manifest.json').read_text())
    broken = manifest['clips'][2]['clip_path']
    (ds/broken).write_bytes(b'\x00\x01garbage'*50)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')            # 2 videos: the card's split notes are not this test's subject
        card = pp.preprocess(ds, resolution=24, progress=False)
    assert [e['clip_id'] for e in card['errors']] == [manifest['clips'][2]['clip_id']]
    assert broken in card['errors'][0]['error']
    assert sum(card['totals'].values()) == 5
    printed = capsys.readouterr()
    assert broken in printed.out + printed.err


def test_preprocess_command(dataset, tmp_path):
    "Through the `crossfit-nb` application as the CLI builds it (in process: the subprocess path is tests/test_cli.py's)."
    from typer.testing import CliRunner
    from crossfit_nb.cli import build_app
    shutil.copytree(dataset, tmp_path/'ci')
    res = CliRunner().invoke(build_app(), ['preprocess', '--data-dir', str(tmp_path), '--preset', 'ci', '--resolution', '32'])
    assert res.exit_code == 0 and 'train /' in res.output, res.output
    assert pp.read_card(tmp_path/'ci'/'records')['sampling']['resolution'] == 32
    res = CliRunner().invoke(build_app(), ['preprocess', '--data-dir', str(tmp_path), '--preset', 'nope'])
    assert res.exit_code == 2 and 'no manifest' in res.output


def test_same_seed_same_record_bytes(jpeg_records, dataset, tmp_path):
    "Two runs with the same inputs and seed write byte-identical shards (protobuf maps serialised in a fixed order)."
    import hashlib
    first, _ = jpeg_records
    again = tmp_path/'again'
    pp.preprocess(dataset, again, resolution=32, shard_size=20, workers=1, progress=False)
    digest = lambda root: {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                           for p in sorted(root.rglob('*.tfrecord*'))}
    assert digest(first) and digest(first) == digest(again)
