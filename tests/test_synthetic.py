"""The synthetic workout generator (`crossfit_nb.synthetic`): determinism, label coverage, annotation validity,
rep lengths, keypoints, mp4s, resuming, the CLI.

The `ci` preset is generated once per session (about 10-20 s on 2 cores); determinism is checked on a tiny
two-movement video written twice. The athlete's poses and the drawing are checked in the notebooks
`01_athlete` and `01a_rendering`.
"""
import json
import os

import numpy as np
import pytest

from crossfit_nb.core import LABELS, Config, normalize_label
from crossfit_nb.video import iter_frames, probe_video
from crossfit_nb import synthetic as syn

ANN_KEYS = {'videoId', 'videoName', 'createdAt', 'updatedAt', 'description', 'size', 'framesCount', 'objects',
            'frames', 'tags'}
TAG_KEYS = {'name', 'id', 'tagId', 'frameRange', 'labelerLogin', 'createdAt', 'updatedAt'}
TINY = dict(name='tiny_du-thruster', workout='tiny', movements=['double-unders', 'thruster'], rounds=[2])


@pytest.fixture(scope='session')
def ci(tmp_path_factory):
    cfg = Config(data_dir=tmp_path_factory.mktemp('data'), preset='ci', seed=0)
    videos = syn.generate_dataset(cfg, progress=False)
    return cfg, videos


def _load(cfg, video):
    ann = json.loads((cfg.annotations_dir/f'{video.name}.json').read_text())
    gt = json.loads((cfg.groundtruth_dir/f'{video.stem}.json').read_text())
    return ann, gt


def test_ci_covers_every_movement(ci):
    cfg, videos = ci
    assert [v.name for v in videos] == [f"{s['name']}.mp4" for s in syn.workout_specs('ci')]
    counts = {m: 0 for m in LABELS}
    for v in videos:
        ann, gt = _load(cfg, v)
        for t in ann['tags']: counts[normalize_label(t['name'])] += 1
        assert sum(gt['counts'].values()) == len(ann['tags']) == len(gt['reps'])
    assert all(n >= 3 for n in counts.values()), counts


def test_annotations_are_valid_supervisely(ci):
    cfg, videos = ci
    for v in videos:
        ann, gt = _load(cfg, v)
        assert set(ann) == ANN_KEYS and ann['videoName'] == v.name
        assert ann['size'] == {'height': 480, 'width': 854} and ann['objects'] == [] and ann['frames'] == []
        ranges = []
        for t in ann['tags']:
            assert set(t) == TAG_KEYS
            assert t['name'] in LABELS                                 # canonical labels by default
            s, e = t['frameRange']
            assert isinstance(s, int) and isinstance(e, int) and 0 <= s <= e < ann['framesCount']
            ranges.append((s, e))
        ranges.sort()
        assert all(e0 < s1 for (_, e0), (s1, _) in zip(ranges, ranges[1:])), 'tags overlap'
        assert [(r['start'], r['end']) for r in gt['reps']] == [tuple(t['frameRange']) for t in ann['tags']]
        assert len({t['id'] for t in ann['tags']}) == len(ann['tags'])


def test_mp4_frame_count_matches_annotation(ci):
    cfg, videos = ci
    for v in videos:
        ann, gt = _load(cfg, v)
        info = probe_video(v)
        assert (info.width, info.height, info.fps, info.codec) == (854, 480, 30.0, 'h264')
        assert info.frame_count == ann['framesCount'] == gt['framesCount']
    n = sum(1 for _ in iter_frames(videos[0]))                             # decode every frame of one video
    assert n == _load(cfg, videos[0])[0]['framesCount']


def test_keypoints_in_frame(ci):
    cfg, videos = ci
    for v in videos:
        _, gt = _load(cfg, v)
        kp, vis = np.array(gt['keypoints']), np.array(gt['visibility'])
        assert kp.shape == (gt['framesCount'], 17, 2) and vis.shape == (gt['framesCount'], 17)
        assert (vis == 2).mean() > 0.99
        inside = kp[vis == 2]
        assert (inside[:, 0] >= 0).all() and (inside[:, 0] <= 853).all()
        assert (inside[:, 1] >= 0).all() and (inside[:, 1] <= 479).all()
        assert len(gt['keypoint_names']) == 17


def test_resume_skips_finished_videos(ci):
    cfg, videos = ci
    before = [os.stat(v).st_mtime_ns for v in videos]
    assert syn.generate_dataset(cfg, progress=False) == videos
    assert [os.stat(v).st_mtime_ns for v in videos] == before


def test_cli_synth_resumes(ci):
    from typer.testing import CliRunner
    from crossfit_nb.cli import build_app
    cfg, videos = ci
    before = {v: v.stat().st_mtime_ns for v in videos}
    res = CliRunner().invoke(build_app(), ['synth', '--preset', 'ci', '--data-dir', str(cfg.data_dir)])
    assert res.exit_code == 0, res.output
    assert f"{len(syn.workout_specs('ci'))} videos" in res.output
    assert {v: v.stat().st_mtime_ns for v in videos} == before   # complete videos are not written again


def test_same_seed_same_outputs(tmp_path):
    paths = []
    for d in ('a', 'b'):
        cfg = Config(data_dir=tmp_path/d, preset='tiny')
        v = syn.write_workout(cfg, TINY, seed=7, x264='ultrafast')
        paths.append((v, cfg.annotations_dir/f'{v.name}.json', cfg.groundtruth_dir/f'{v.stem}.json'))
    (va, aa, ga), (vb, ab, gb) = paths
    assert aa.read_bytes() == ab.read_bytes() and ga.read_bytes() == gb.read_bytes()
    fa, fb = list(iter_frames(va)), list(iter_frames(vb))
    assert len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa, fb))
    other = syn.plan_workout(TINY, seed=8)
    assert other['reps'] != syn.plan_workout(TINY, seed=7)['reps']        # another seed, another workout


def test_rep_lengths_follow_the_thesis():
    lengths = {m: [] for m in LABELS}
    for spec in syn.workout_specs('thesis'):
        for r in syn.plan_workout(spec, seed=0)['reps']: lengths[r['movement']].append(r['end'] - r['start'] + 1)
    assert {m: len(v) for m, v in lengths.items()} == {m: 300 for m in LABELS}
    allr = np.concatenate([np.array(v) for v in lengths.values()])
    assert allr.min() >= syn.MIN_REP_FRAMES
    assert abs(allr.mean() - 39.0) < 0.03*39.0
    for m, v in lengths.items(): assert abs(np.mean(v) - syn.REP_FRAMES[m]) < 0.06*syn.REP_FRAMES[m], m
    assert np.mean(lengths['double-unders']) < np.mean(lengths['thruster']) < np.mean(lengths['power clean'])
