"Judging whole workouts: the per-frame model learns the generator's reps (and not with shuffled targets), `crossfit-nb judge` and `stream` end to end, any frame rate, bad inputs."
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import numbered_frames, run_cli
from deployment_helpers import tiny_models  # noqa: F401 (fixture)
from test_browser import browser  # noqa: F401 (fixture)

TRAIN_ROUNDS, HELD_OUT_ROUNDS = [3], [4, 2]


def _write(cfg, names_rounds, seed):
    from crossfit_nb.synthetic import WORKOUTS, write_videos
    specs = [dict(name=f'{prefix}_{w}', workout=w, movements=list(ms), rounds=rounds)
             for prefix, rounds in names_rounds for w, ms in WORKOUTS.items()]
    return write_videos(cfg.replace(seed=seed), specs, workers=2, progress=False)


def _sequence(cfg, video, shift=0):
    from crossfit_nb.judging import frame_truth, truth_keypoints
    gt = json.loads((cfg.groundtruth_dir/f'{video.stem}.json').read_text())
    kp, vis = truth_keypoints(gt)
    truth = {k: np.roll(v, shift) for k, v in frame_truth(gt).items()}
    return kp, np.full(vis.shape, 0.9, np.float32), np.ones(len(kp), bool), truth


@pytest.fixture(scope='module')
def workouts(tmp_path_factory):
    "Three training athletes per workout and one held-out athlete per workout (other names, other seed)."
    from crossfit_nb.core import Config
    cfg = Config(data_dir=tmp_path_factory.mktemp('judging'), preset='judge-test')
    train = _write(cfg, [(f'train-{k}', TRAIN_ROUNDS) for k in 'abc'], seed=0)
    held_out = _write(cfg, [('held-out', HELD_OUT_ROUNDS)], seed=1000)
    return cfg, train, held_out


def _train(cfg, train, out, shuffled=False):
    "Train as the judging chapter does: true keypoints with the estimator's recorded errors, plus estimated keypoints."
    from crossfit_nb.judging import estimator_errors, export_judge_tcn, track_video, train_judge_tcn, training_windows
    rng = np.random.default_rng(0)
    seqs = [_sequence(cfg, v, int(rng.integers(40, 200)) if shuffled else 0) for v in train]
    estimated = [k for k, v in enumerate(train) if v.stem.startswith('train-a')][:3]
    tracks = {k: track_video(train[k], workers=2, progress=False) for k in estimated}
    gts = {k: json.loads((cfg.groundtruth_dir/f'{train[k].stem}.json').read_text()) for k in estimated}
    errors = [estimator_errors(tracks[k], gts[k]) for k in estimated]
    a = training_windows(seqs, copies=16, errors=errors, seed=0)
    b = training_windows([(*tracks[k].coco(), tracks[k].found, seqs[k][3]) for k in estimated], copies=16, seed=1)
    model, _ = train_judge_tcn({key: np.concatenate([a[key], b[key]]) for key in a}, epochs=20)
    return export_judge_tcn(model, out)


@pytest.fixture(scope='module')
def judge_model(workouts, tmp_path_factory):
    cfg, train, _ = workouts
    return _train(cfg, train, tmp_path_factory.mktemp('model')/'judge.tflite')


def _truth_scores(cfg, model_path, videos):
    "Mean normalised count error and timeline accuracy of judging `videos` from their true keypoints."
    from crossfit_nb.judging import JudgeModel, judge_keypoints, judgement_metrics
    model, errors, timeline = JudgeModel(model_path), [], []
    for v in videos:
        kp, vis, found, _ = _sequence(cfg, v)
        j = judge_keypoints(kp, vis, found, 30.0, model, str(v))
        rows, video = judgement_metrics(j, json.loads((cfg.groundtruth_dir/f'{v.stem}.json').read_text()))
        errors += rows[rows['gt'] > 0].error.tolist(); timeline.append(video['timeline_accuracy'])
    return float(np.mean(errors)), float(np.mean(timeline))


def test_judging_model_learns_reps_and_fails_with_shuffled_targets(workouts, judge_model, tmp_path):
    cfg, train, held_out = workouts
    mae, timeline = _truth_scores(cfg, judge_model, held_out)
    assert mae <= 0.15 and timeline >= 0.9, (mae, timeline)
    shuffled = _train(cfg, train, tmp_path/'shuffled.tflite', shuffled=True)     # targets shifted in time against the motion
    s_mae, s_timeline = _truth_scores(cfg, shuffled, held_out)
    assert s_timeline < timeline - 0.25 and s_mae > mae + 0.2, (s_mae, s_timeline)


def test_judge_command_json_annotated_video_and_timeline(workouts, judge_model, tmp_path):
    from crossfit_nb.judging import STATES
    from crossfit_nb.video import probe_video
    cfg, _, held_out = workouts
    video = held_out[0]
    out, timeline = tmp_path/'judged.mp4', tmp_path/'timeline.png'
    r = run_cli('judge', video, '--judge-model', judge_model, '--json', '--out', out, '--timeline', timeline, '--no-progress', '--cache')
    j = json.loads(r.stdout)
    assert set(j) >= {'video', 'fps', 'frame_count', 'duration_s', 'totals', 'segments', 'uncounted', 'pose_found', 'timings'}
    info = probe_video(video)
    assert j['frame_count'] == info.frame_count and j['fps'] == pytest.approx(info.fps) and j['pose_found'] > 0.9
    previous_end = -1
    for s in j['segments']:
        assert s['movement'] in STATES[:-1] and previous_end < s['start_frame'] <= s['end_frame'] < j['frame_count']
        assert s['count'] == len(s['reps']) >= 1 and 0 <= s['confidence'] <= 1
        assert all(s['start_frame'] - 15 <= a <= b <= s['end_frame'] + 15 for a, b in s['reps'])
        previous_end = s['end_frame']
    for u in j['uncounted']:                       # seen without a complete rep: outside every counted segment
        assert u['movement'] in STATES[:-1] and 0 <= u['start_frame'] <= u['end_frame'] < j['frame_count']
        assert all(u['end_frame'] < s['start_frame'] or s['end_frame'] < u['start_frame'] for s in j['segments'])
    totals = {}
    for s in j['segments']: totals[s['movement']] = totals.get(s['movement'], 0) + s['count']
    assert j['totals'] == totals
    gt = json.loads((cfg.groundtruth_dir/f'{video.stem}.json').read_text())
    assert abs(sum(totals.values()) - len(gt['reps'])) <= 2, (totals, gt['counts'])
    annotated = probe_video(out)
    assert annotated.frame_count == info.frame_count and timeline.stat().st_size > 10_000
    assert video.with_name(f'{video.stem}.track.npz').exists()                                # --cache kept the keypoints
    text = run_cli('judge', video, '--judge-model', judge_model, '--no-progress', '--cache').stdout      # the score sheet as text
    assert 'score sheet:' in text and all(m in text for m in totals)
    from crossfit_nb.synthetic import WORKOUTS
    judge = lambda movements: json.loads(run_cli('judge', video, '--judge-model', judge_model, '--json', '--no-progress', '--cache',
                                                 '--movements', movements).stdout)
    announced = judge(gt['workout'])                                                           # the workout's own movements
    assert set(announced['totals']) <= set(gt['counts']) and abs(sum(announced['totals'].values()) - len(gt['reps'])) <= 2
    assert sorted(announced['movements']) == sorted(WORKOUTS[gt['workout']]) and j['movements'] is None
    other = next(w for w, ms in WORKOUTS.items() if not set(ms) & set(gt['counts']))          # a workout with none of them
    assert set(judge(','.join(WORKOUTS[other]))['totals']) <= set(WORKOUTS[other])


def test_judge_any_frame_rate(workouts, judge_model, tmp_path):
    "The same workout at 15 frames/s is judged in its own frames: the same movement at the same moments, about the same reps."
    from crossfit_nb.judging import judge_video
    from crossfit_nb.video import iter_frames, write_video
    _, _, held_out = workouts
    video = held_out[1]
    half = write_video(tmp_path/'half.mp4', (f for i, f in enumerate(iter_frames(video)) if i % 2 == 0), fps=15.0)
    full, slow = judge_video(video, judge_model, progress=False), judge_video(half, judge_model, cache=False, progress=False)
    assert slow.fps == 15.0 and slow.frame_count == (full.frame_count + 1)//2
    assert all(s['end_frame'] < slow.frame_count for s in slow.segments)
    agree = (slow.states == full.states[::2][:slow.frame_count]).mean()
    assert agree >= 0.8 and abs(sum(slow.totals.values()) - sum(full.totals.values())) <= 2, (agree, slow.totals, full.totals)


def test_judge_a_single_rep(workouts, judge_model):
    from crossfit_nb.synthetic import write_videos
    cfg, _, _ = workouts
    [video] = write_videos(cfg.replace(seed=2000), [dict(name='one-rep', workout='nasty-nancy', movements=['ohs'], rounds=[1])],
                           progress=False)
    j = json.loads(run_cli('judge', video, '--judge-model', judge_model, '--json', '--no-progress').stdout)
    assert sum(j['totals'].values()) == 1 and len(j['segments']) == 1, j['segments']
    assert j['uncounted'] == [], j['uncounted']


def test_judge_bad_inputs(judge_model, tmp_path):
    from crossfit_nb.video import write_video
    (tmp_path/'notes.mp4').write_text('not a video')
    nobody = write_video(tmp_path/'nobody.mp4', numbered_frames(40, 96, 160))
    long = write_video(tmp_path/'long.mp4', (np.zeros((48, 64, 3), np.uint8) for _ in range(1900)), fps=1.0)   # 31.7 min
    cases = {tmp_path/'notes.mp4': '', nobody: 'no athlete', long: 'min long', tmp_path/'missing.mp4': 'not found'}
    for video, message in cases.items():
        out = tmp_path/f'{video.stem}-judged.mp4'
        r = run_cli('judge', video, '--judge-model', judge_model, '--out', out, '--no-progress', check=False)
        assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith('error:') and message in r.stderr, (video, r.stderr)
        assert not out.exists() and 'Traceback' not in r.stderr
    r = run_cli('judge', nobody, '--judge-model', judge_model, '--counter', 'magic', check=False)
    assert r.returncode == 2 and 'counter' in r.stderr
    r = run_cli('judge', nobody, '--judge-model', judge_model, '--movements', 'thruster,pull-up', check=False)
    assert r.returncode == 2 and "'pull-up'" in r.stderr and 'Traceback' not in r.stderr
    r = run_cli('judge', nobody, '--judge-model', tmp_path/'notes.mp4', check=False)
    assert r.returncode == 2 and 'not a TFLite model' in r.stderr


def test_stream_command_live_counts_and_the_same_final_sheet_as_judge(workouts, judge_model, tmp_path):
    "`stream` feeds the video one frame at a time: changes as JSON lines in time order, then the judgement `judge` gives."
    from crossfit_nb.video import probe_video
    cfg, _, held_out = workouts
    video, out = held_out[0], tmp_path/'live.mp4'
    lines = [json.loads(line) for line in run_cli('stream', video, '--judge-model', judge_model, '--json', '--out', out).stdout.splitlines()
             if line.startswith('{')]
    changes, final = lines[:-1], lines[-1]
    judged = json.loads(run_cli('judge', video, '--judge-model', judge_model, '--json', '--no-progress', '--workers', '1').stdout)
    assert final['totals'] == judged['totals'] and final['segments'] == judged['segments']
    assert changes and all(a['frame'] < b['frame'] and a['time_s'] <= b['time_s'] for a, b in zip(changes, changes[1:]))
    assert all(c['time_s'] <= c['frame']/final['fps'] - 0.9 for c in changes if c['frame'] > 60)      # decided 1 s behind
    gt = json.loads((cfg.groundtruth_dir/f'{video.stem}.json').read_text())
    live = final['live_totals']
    assert set(live) == set(gt['counts']) and all(abs(live[m] - n) <= 2 for m, n in gt['counts'].items()), (live, gt['counts'])
    counts = [c['totals'] for c in changes]
    assert all(sum(a.values()) <= sum(b.values()) for a, b in zip(counts, counts[1:]))          # the count only goes up
    assert probe_video(out).frame_count == final['frame_count'] and final['frames_per_s'] > 0
    from crossfit_nb.synthetic import write_videos
    [short] = write_videos(cfg.replace(seed=3000), [dict(name='short', workout='nasty-nancy', movements=['ohs'], rounds=[2])], progress=False)
    text = run_cli('stream', short, '--judge-model', judge_model, '--lag', '0.5').stdout
    assert 'live count:' in text and 'score sheet:' in text and 'x real time' in text and 'decided 0.5 s after' in text


def test_stream_bad_inputs(judge_model, tmp_path):
    from crossfit_nb.video import write_video
    (tmp_path/'notes.mp4').write_text('not a video')
    nobody = write_video(tmp_path/'nobody.mp4', numbered_frames(40, 96, 160))
    for args, message in [((tmp_path/'notes.mp4',), 'not a readable video'), ((tmp_path/'missing.mp4',), 'not found'),
                          (('--camera', '7'), 'camera 7: not available'), ((), 'give a VIDEO or --camera'),
                          ((nobody, '--camera', '0'), 'give a VIDEO or --camera'), ((nobody,), 'no athlete'),
                          ((nobody, '--movements', 'pull-up'), "'pull-up'")]:
        r = run_cli('stream', *args, '--judge-model', judge_model, check=False)
        assert r.returncode == 2 and r.stderr.strip().splitlines()[-1].startswith('error:') and message in r.stderr, (args, r.stderr)
        assert 'Traceback' not in r.stderr


def test_app_judges_an_uploaded_workout_with_progress(browser, tiny_models, workouts, judge_model, tmp_path):
    "The Dash app's 'Juzgar WOD' tab in Chromium: upload a whole workout, see progress, then the score sheet, timeline and video."
    from crossfit_nb.inference import Classifier
    from crossfit_nb.judging import judge_video
    from crossfit_nb.testing import running_app
    from crossfit_nb.webapp import WorkoutJobs, create_app
    from test_browser import SCREENSHOTS
    from crossfit_nb.synthetic import WORKOUTS
    cfg, _, held_out = workouts
    video = held_out[1]
    announced = WORKOUTS[json.loads((cfg.groundtruth_dir/f'{video.stem}.json').read_text())['workout']]
    want = judge_video(video, judge_model, progress=False, movements=announced)    # the reference (keypoints cached beside the video)
    jobs = WorkoutJobs(judge_model, work_dir=tmp_path/'jobs', max_bytes=video.stat().st_size + 10)
    with running_app(create_app(Classifier.load(tiny_models['tflite float32']), jobs=jobs)) as url:
        page = browser.new_page(viewport={'width': 900, 'height': 1400})
        page.goto(url, wait_until='networkidle')
        page.click('text=Juzgar WOD')
        for m in announced:                                                # the workout's movements, picked in the dropdown
            page.click('#wod-movements'); page.locator('.dash-dropdown-content').get_by_text(m, exact=True).click()
            page.keyboard.press('Escape')
        assert all(m in page.inner_text('#wod-movements') for m in announced), page.inner_text('#wod-movements')
        page.set_input_files('#wod-upload input[type=file]', str(video))
        page.wait_for_function("document.querySelector('#wod-status').innerText.includes('fotogramas (')", timeout=60000)
        seen = page.inner_text('#wod-status')                              # progress while the pose runs
        assert video.name in seen and '/' in seen, seen
        page.wait_for_selector('.score-sheet', timeout=180000)
        rows = [r.split('\t') for r in page.locator('.score-sheet tbody tr').all_inner_texts()]
        assert {r[0]: int(r[-1]) for r in rows} == want.totals and set(want.totals) <= set(announced)
        assert page.locator('.segments li').count() == len(want.segments)
        assert f"movimientos anunciados: {', '.join(want.movements)}" in page.inner_text('#wod-status'), page.inner_text('#wod-status')
        assert page.evaluate("document.querySelector('#wod-timeline').naturalWidth") > 300
        src = page.get_attribute('#wod-video', 'src')
        page.wait_for_function("document.querySelector('#wod-video').readyState >= 1", timeout=30000)
        assert abs(page.evaluate("document.querySelector('#wod-video').duration") - want.frame_count/want.fps) < 0.2
        assert page.request.get(url + src).headers['content-type'] == 'video/mp4'
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS/'webapp-wod.png'), full_page=True)

        (tmp_path/'notes.mp4').write_text('not a video')
        page.set_input_files('#wod-upload input[type=file]', str(tmp_path/'notes.mp4'))
        page.wait_for_function("document.querySelector('#wod-error').innerText.length > 0", timeout=60000)
        assert 'notes.mp4' in page.inner_text('#wod-error') and 'not a readable video' in page.inner_text('#wod-error')
        assert page.locator('.score-sheet').count() == 0
        big = tmp_path/'big.mp4'
        big.write_bytes(video.read_bytes() + b'\0'*64)                    # over the app's limit
        page.set_input_files('#wod-upload input[type=file]', str(big))
        page.wait_for_function("document.querySelector('#wod-error').innerText.includes('too large')", timeout=60000)
        page.close()


def test_widget_judges_an_uploaded_workout(workouts, judge_model, tmp_path):
    "The notebook's workout mode, driven as a user would: upload, progress to the end, score sheet, timeline, video."
    import datetime
    from crossfit_nb.judging import judge_video
    from crossfit_nb.video import probe_video
    from crossfit_nb.widget import WorkoutWidget
    from crossfit_nb.synthetic import WORKOUTS
    cfg, _, held_out = workouts
    video = held_out[2]
    other = WORKOUTS['nasty-nancy']                                           # announced wrongly: only ohs can be named
    want = judge_video(video, judge_model, progress=False, movements=other)
    w = WorkoutWidget(judge_model, work_dir=tmp_path, max_bytes=video.stat().st_size)
    w.movements.value = other
    seen = []
    w.progress.observe(lambda change: seen.append(change['new']), 'value')
    data = video.read_bytes()
    w.upload.value = ({'name': video.name, 'type': 'video/mp4', 'size': len(data), 'content': memoryview(data),
                       'last_modified': datetime.datetime.now(datetime.timezone.utc)},)
    assert w.judgement is not None and w.judgement.totals == want.totals and w.error.value == ''
    assert set(want.totals) <= set(other)
    assert f"movimientos anunciados: {', '.join(want.movements)}" in w.status.value, w.status.value
    assert len(seen) >= 10 and seen == sorted(seen) and seen[-1] == 1.0           # the bar moved as the pose ran
    assert all(f"<td>{m}</td>" in w.sheet.value and f"<td>{n}</td>" in w.sheet.value for m, n in want.totals.items())
    assert w.timeline.value[:8] == b'\x89PNG\r\n\x1a\n' and w.progress.layout.display == 'none'
    (tmp_path/'judged-copy.mp4').write_bytes(w.video.value)
    assert probe_video(tmp_path/'judged-copy.mp4').frame_count == want.frame_count
    assert w.judge(data + b'\0', 'big.mp4') is None and 'MB' in w.error.value and w.sheet.value == ''
