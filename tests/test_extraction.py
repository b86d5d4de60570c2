"Supervisely -> manifest -> clips: frame exactness, broken inputs, re-runs, atomic writes, the CLI."
import json
import os

import pandas as pd
import pytest
from typer.testing import CliRunner

from crossfit_nb.video import read_frames, probe_video, write_video
from crossfit_nb.annotations import load_manifest
from crossfit_nb.cli import build_app
from crossfit_nb.extraction import cut_clips, dataset_table, extract_dataset, make_previews
from crossfit_nb.testing import frame_numbers, numbered_frames, supervisely_annotation
from conftest import run_cli


def supervisely(video_name, tags, frames):
    "A Supervisely video annotation for tags = [(name, range), ...], tag ids from 500."
    return supervisely_annotation(video_name, tags, frames, first_id=500)


def make_dataset(root, videos):
    "videos = {name: (frame count, fps, tags)}: numbered videos and their annotations under `root`."
    for name, (n, fps, tags) in videos.items():
        write_video(root/'videos'/name, numbered_frames(n), fps=fps)
        (root/'annotations').mkdir(parents=True, exist_ok=True)
        (root/'annotations'/f'{name}.json').write_text(json.dumps(supervisely(name, tags, n)))
    return root


GOOD = {
    'a.mp4': (120, 26.4, [('thruster', [0, 9]), ('power-clean', [10, 49]), ('ohs', [49, 80]), ('du', [119, 119]),
                          ('deadlift', [60, 70])]),
    'b.mp4': (75, 30000/1001, [('ghd', [5, 34]), ('shspu', [35, 74])]),
    'c.mp4': (50, 30, [('chest-to-bar', [0, 49])]),
}


@pytest.fixture(scope='module')
def extracted(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp('ds'), GOOD)
    return root, extract_dataset(root/'annotations', root/'videos', root, workers=2, progress=False)


def test_every_clip_is_frame_exact_at_the_source_rate(extracted):
    root, res = extracted
    assert res.errors == [] and res.cut == 8
    df = load_manifest(root/'manifest.json')
    assert len(df) == 8 and df.clip_id.is_unique
    for c in df.itertuples():
        frames = read_frames(root/c.clip_path)
        assert frame_numbers(frames) == list(range(c.start_frame, c.end_frame + 1)), c.clip_id
        assert abs(probe_video(root/c.clip_path).fps - c.fps) < 1e-3
    a = df.set_index('clip_id').loc['a_000010_000049']
    assert (a.label, a.class_id, a.source_video, a.num_frames) == ('power clean', 6, 'a.mp4', 40)
    assert a.clip_path == 'clips/power-clean/a_000010_000049.mp4' and a.video_path == 'videos/a.mp4'
    assert a.fps == pytest.approx(26.4) and a.start_time == pytest.approx(10/26.4)
    assert a.duration == pytest.approx(40/26.4) and a.annotation == 'annotations/a.mp4.json' and a.tag_id == 501
    assert df.set_index('clip_id').loc['b_000005_000034'].fps == pytest.approx(29.97, abs=1e-3)
    absolute = load_manifest(root/'manifest.json', absolute=True)
    assert all(os.path.isfile(p) for p in absolute.clip_path)


def test_rerun_skips_up_to_date_clips_and_recuts_lost_ones(extracted, tmp_path):
    root, _ = extracted
    res = extract_dataset(root/'annotations', root/'videos', root, workers=2, progress=False)
    assert (res.cut, res.up_to_date) == (0, 8)
    (root/'clips/ghd/b_000005_000034.mp4').unlink()
    res = extract_dataset(root/'annotations', root/'videos', root, workers=1, progress=False)
    assert (res.cut, res.up_to_date, len(res.manifest['clips'])) == (1, 7, 8)


def test_broken_inputs_are_named_and_the_rest_is_cut(tmp_path):
    root = make_dataset(tmp_path, {'v.mp4': (40, 30, [
        ('deadlift', [0, 9]), ('snatch', [10, 20]), ('ohs', [30, 40]), ('ghd', [20, 12]), ('ghd', []),
        ('thruster', [-1, 3]), ('ohs', ['1', 5]), ('deadlift', [0, 9]), ('ohs', [0, 9]), ('thruster', [10, 20])])})
    ann = root/'annotations'
    (ann/'broken.mp4.json').write_text('{"videoName": "v.mp4", "tags": [{"name": ')
    (ann/'orphan.mp4.json').write_text(json.dumps(supervisely('orphan.mp4', [('ohs', [0, 5])], 10)))
    (ann/'list.mp4.json').write_text('[1, 2]')
    write_video(root/'videos/corrupt.mp4', numbered_frames(60), fps=30)
    (root/'videos/corrupt.mp4').write_bytes((root/'videos/corrupt.mp4').read_bytes()[:1500])
    (ann/'corrupt.mp4.json').write_text(json.dumps(supervisely('corrupt.mp4', [('ohs', [0, 5])], 60)))
    res = extract_dataset(ann, root/'videos', root, workers=1, progress=False)
    messages = [e['message'] for e in res.errors]
    text = '\n'.join(messages)
    v = f"{ann/'v.mp4.json'}: "
    assert v + "tag 501 ('snatch'): unknown movement label 'snatch'" in text
    assert v + "tag 502 ('ohs'): frame range [30, 40] outside the video (frames 0..39)" in text
    assert v + "tag 503 ('ghd'): inverted frame range [20, 12]" in text
    assert v + "tag 504 ('ghd'): empty frame range" in text
    assert v + "tag 505 ('thruster'): frame range [-1, 3] outside the video" in text
    assert v + "tag 506 ('ohs'): frameRange must be two integers" in text
    assert v + "tag 507 ('deadlift'): frames 0..9 repeats tag 500; kept the first" in text
    assert v + "tag 508 ('ohs'): frames 0..9 conflicts with (label 'deadlift') tag 500" in text
    assert f"{ann/'broken.mp4.json'}: broken JSON" in text
    assert f"{ann/'orphan.mp4.json'}: video 'orphan.mp4' not found in {root/'videos'}" in text
    assert f"{ann/'list.mp4.json'}: expected a JSON object" in text
    assert str(root/'videos/corrupt.mp4') in text
    assert len(messages) == 12, text
    df = load_manifest(root/'manifest.json')
    assert list(df.clip_id) == ['v_000000_000009', 'v_000010_000020']
    assert frame_numbers(read_frames(root/df.clip_path[1])) == list(range(10, 21))
    assert json.loads((root/'manifest.json').read_text())['errors'] == res.errors


def test_a_video_that_breaks_midway_leaves_no_truncated_clip(tmp_path):
    src = write_video(tmp_path/'long.mp4', numbered_frames(300, 128, 160), fps=30)
    data = src.read_bytes()
    (tmp_path/'cut.mp4').write_bytes(data[:len(data)*2//3])
    errors = cut_clips(tmp_path/'cut.mp4', [(0, 20, tmp_path/'out/early.mp4'), (150, 299, tmp_path/'out/late.mp4')])
    assert errors[0] is None and 'cut.mp4' in errors[1] and 'late.mp4' in errors[1]
    assert sorted(p.name for p in (tmp_path/'out').rglob('*') if p.is_file()) == ['early.mp4']   # no partial file either
    assert frame_numbers(read_frames(tmp_path/'out/early.mp4')) == list(range(21))


def test_more_annotations_add_to_the_manifest_and_changes_need_overwrite(tmp_path):
    root = make_dataset(tmp_path, {'x.mp4': (30, 30, [('ohs', [0, 9])]), 'y.mp4': (30, 30, [('ghd', [5, 15])])})
    ann = root/'annotations'
    extract_dataset([ann/'x.mp4.json'], root/'videos', root, workers=1, progress=False)
    res = extract_dataset([ann/'y.mp4.json'], root/'videos', root, workers=1, progress=False)
    assert [c['clip_id'] for c in res.manifest['clips']] == ['x_000000_000009', 'y_000005_000015']
    assert res.manifest['sources'] == ['annotations/x.mp4.json', 'annotations/y.mp4.json']
    # a second annotation file that claims the same rep with another label is a conflict: the old entry stays
    (ann/'x-copy.mp4.json').write_text(json.dumps({**supervisely('x.mp4', [('deadlift', [0, 9])], 30)}))
    res = extract_dataset([ann/'x-copy.mp4.json'], root/'videos', root, workers=1, progress=False)
    assert "clip x_000000_000009 is already in the manifest with other values (label 'ohs' -> 'deadlift')" \
        in res.errors[0]['message']
    assert load_manifest(root/'manifest.json').label.tolist() == ['ohs', 'ghd']
    res = extract_dataset([ann/'x-copy.mp4.json'], root/'videos', root, workers=1, overwrite=True, progress=False)
    assert res.errors == [] and load_manifest(root/'manifest.json').label.tolist() == ['deadlift', 'ghd']
    assert (root/'clips/deadlift/x_000000_000009.mp4').exists()
    assert not (root/'clips/ohs/x_000000_000009.mp4').exists()


def test_the_manifest_follows_edited_relabelled_and_deleted_tags(tmp_path):
    "The annotations are the truth: a re-read annotation replaces its entries, and its old clips go."
    root = make_dataset(tmp_path, {'x.mp4': (90, 30, [('ohs', [0, 9]), ('ghd', [51, 77]), ('thruster', [80, 89])]),
                                   'y.mp4': (30, 30, [('ghd', [5, 15])])})
    ann = root/'annotations'
    extract_dataset(ann, root/'videos', root, workers=2, progress=False)
    # edit one range, relabel one tag, delete one tag
    (ann/'x.mp4.json').write_text(json.dumps(supervisely('x.mp4', [('deadlift', [0, 9]), ('ghd', [51, 78])], 90)))
    res = extract_dataset(ann, root/'videos', root, workers=2, progress=False)
    df = load_manifest(root/'manifest.json')
    assert res.errors == [] and res.removed == 3
    assert sorted(zip(df.clip_id, df.label)) == [('x_000000_000009', 'deadlift'), ('x_000051_000078', 'ghd'),
                                                 ('y_000005_000015', 'ghd')]
    clips = sorted(p.relative_to(root).as_posix() for p in (root/'clips').rglob('*.mp4'))
    assert clips == sorted(df.clip_path)            # no clip of an old tag is left on disk
    assert frame_numbers(read_frames(root/'clips/ghd/x_000051_000078.mp4')) == list(range(51, 79))
    # an annotation that cannot be read keeps its entries (and says why); a deleted one takes them away
    (ann/'x.mp4.json').write_text('{broken')
    res = extract_dataset(ann, root/'videos', root, workers=1, progress=False)
    assert len(res.manifest['clips']) == 3 and 'broken JSON' in res.errors[0]['message']
    (ann/'x.mp4.json').unlink()
    res = extract_dataset(ann, root/'videos', root, workers=1, progress=False)
    assert [c['clip_id'] for c in res.manifest['clips']] == ['y_000005_000015']
    assert sorted(p.name for p in (root/'clips').rglob('*.mp4')) == ['y_000005_000015.mp4']


def test_table_and_previews(extracted, tmp_path):
    root, _ = extracted
    df = load_manifest(root/'manifest.json')
    t = dataset_table(df)
    assert t.loc['Total', 'Clips'] == 8 and t.loc['power clean', 'Fotogramas media'] == 40
    assert t.loc['Total', 'Fotogramas mín.'] == 1 and t.loc['Total', 'Fotogramas máx.'] == 50
    assert t.loc['ghd', 'Segundos máx.'] == pytest.approx(30/29.97, abs=0.01)
    paths = make_previews(df, root, tmp_path, n_frames=3, width=32)
    assert set(paths) == set(df.label) | {'grid'} and all(p.exists() for p in paths.values())


def test_extract_cli_on_a_preset(tmp_path):
    make_dataset(tmp_path/'data/mini', {'p.mp4': (40, 25, [('thruster', [0, 19]), ('ohs', [20, 45])])})
    proc = run_cli('extract', '--data-dir', tmp_path/'data', '--runs-dir', tmp_path/'runs', '--preset', 'mini',
                   '--no-progress', check=False)
    assert proc.returncode == 1
    assert "p.mp4.json: tag 501 ('ohs'): frame range [20, 45] outside the video" in proc.stderr
    assert '1 clips (1 cut, 0 up to date), 1 problems' in proc.stdout
    table = pd.read_csv(tmp_path/'runs/mini/tables/dataset.csv')
    assert table.Movimiento.tolist() == ['thruster', 'Total']
    res = CliRunner().invoke(build_app(), ['extract', '--data-dir', str(tmp_path/'data'), '--preset', 'none'])
    assert res.exit_code == 2 and 'no such annotation file or folder' in res.output
