"Reliability as a user meets it: pools inside Jupyter kernels, path overrides, interrupted commands, bad options."
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import CLI, ROOT, run_cli

ENV_COMMANDS = {   # command line -> the override the error (or output) must name
    'extract': 'DATA/ci/annotations', 'preprocess': 'DATA/ci: no manifest', 'train': 'DATA/ci/records',
    'evaluate': 'RUNS/ci/models', 'export': 'RUNS/ci/models', 'predict CLIP': 'RUNS/ci/export',
    'serve': 'RUNS/ci/export'}


def _env(tmp_path, **extra):
    return {**os.environ, 'CROSSFIT_DATA_DIR': str(tmp_path/'d'), 'CROSSFIT_RUNS_DIR': str(tmp_path/'r'),
            'CROSSFIT_PRESET': 'ci', **extra}


def _made(root: Path, steps: tuple[str, ...]) -> Path:
    "Run `crossfit-nb` `steps` once in `root`: a module's template that each test copies rather than making it again."
    env = _env(root)
    for step in steps:
        assert subprocess.run([str(CLI), step], cwd=root, env=env, capture_output=True, timeout=300).returncode == 0
    return root/'d'


@pytest.fixture(scope='module')
def synthesized(tmp_path_factory) -> Path:
    "The ci preset's videos, written by `crossfit-nb synth`."
    return _made(tmp_path_factory.mktemp('synthesized'), ('synth',))


@pytest.fixture(scope='module')
def extracted(synthesized, tmp_path_factory) -> Path:
    "The same videos, then cut into clips by `crossfit-nb extract`."
    root = tmp_path_factory.mktemp('extracted')
    shutil.copytree(synthesized, root/'d')
    return _made(root, ('extract',))


def _processes_mentioning(text: str) -> list[str]:
    out = subprocess.run(['ps', '-eo', 'pid,ppid,args'], capture_output=True, text=True).stdout
    return [l for l in out.splitlines()[1:] if text in l and 'ps -eo' not in l]


@pytest.mark.parametrize('command', list(ENV_COMMANDS))
def test_every_command_reads_the_path_variables(tmp_path, command):
    "From a folder without data/ or runs/, every command looks where CROSSFIT_* point, and says so in one line."
    cwd = tmp_path/'elsewhere'; cwd.mkdir()
    clip = tmp_path/'clip.mp4'; clip.write_bytes(b'')
    args = [a.replace('CLIP', str(clip)) for a in command.split()]
    proc = subprocess.run([str(CLI), *args], cwd=cwd, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    want = ENV_COMMANDS[command].replace('DATA', str(tmp_path/'d')).replace('RUNS', str(tmp_path/'r'))
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith('error: ') and want in last, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (cwd/'data').exists() and not (cwd/'runs').exists()


def test_synth_writes_where_the_variable_points(tmp_path):
    cwd = tmp_path/'elsewhere'; cwd.mkdir()
    proc = subprocess.run([str(CLI), 'synth'], cwd=cwd,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert len(list((tmp_path/'d'/'ci'/'videos').glob('*.mp4'))) == 6
    assert not (cwd/'data').exists()


def test_pools_work_inside_a_jupyter_kernel(tmp_path):
    "generate_dataset and extract_dataset with two workers, in a kernel that has used OpenCV, under a watchdog."
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name='python3', cwd=str(ROOT))
    code = textwrap.dedent(f"""
        import cv2, numpy as np, threading
        cv2.setNumThreads(4)
        img = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), np.uint8)
        for _ in range(5): cv2.GaussianBlur(cv2.resize(img, (960, 540)), (31, 31), 0)   # OpenCV's pool is up
        from crossfit_nb.core import Config
        from crossfit_nb.synthetic import generate_dataset
        from crossfit_nb.extraction import extract_dataset
        cfg = Config(data_dir={str(tmp_path/'data')!r}, preset='ci')
        videos = generate_dataset(cfg, workers=2, progress=False)
        res = extract_dataset(cfg.annotations_dir, cfg.videos_dir, cfg.dataset_dir, workers=2, progress=False)
        print('RESULT', len(videos), len(res.manifest['clips']), threading.active_count())
        """)
    try:
        msg_id = kc.execute(code)
        deadline, out, error = time.time() + 600, '', None
        while True:
            remaining = deadline - time.time()
            if remaining <= 0: pytest.fail(f'the kernel hung (no result in 600 s); output so far: {out}')
            try: msg = kc.get_iopub_msg(timeout=remaining)
            except Exception: continue
            if msg['parent_header'].get('msg_id') != msg_id: continue
            kind, content = msg['msg_type'], msg['content']
            if kind == 'stream': out += content['text']
            elif kind == 'error': error = '\n'.join(content['traceback'])
            elif kind == 'status' and content['execution_state'] == 'idle': break
        assert error is None, error
        line = [l for l in out.splitlines() if l.startswith('RESULT')][0]
        _, videos, clips, _ = line.split()
        assert (int(videos), int(clips)) == (6, 72)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _start_and_kill(args, cwd, env, ready, sig=signal.SIGKILL, wait=120):
    "Start `crossfit-nb args`, wait until `ready()` holds, send `sig`; return the process after it ended."
    # a parent started with SIGINT ignored (a script's background job, as CI may be) passes that on, and Python then
    # never raises KeyboardInterrupt: the command gets SIGINT's default back before it starts, as from a terminal
    default_sigint = [sys.executable, '-c', 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])']
    proc = subprocess.Popen([*default_sigint, str(CLI), *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + wait
    while not ready() and time.time() < deadline and proc.poll() is None: time.sleep(0.05)
    assert proc.poll() is None, 'the command finished before it could be interrupted'
    proc.send_signal(sig)
    proc.wait(30)
    return proc


def _partials(root: Path) -> list[Path]:
    return [p for d in root.rglob('.partial') for p in d.iterdir()]


@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_interrupted_synth_leaves_no_worker_and_resumes(tmp_path, sig):
    env = _env(tmp_path)
    videos = tmp_path/'d'/'ci'/'videos'
    proc = _start_and_kill(['synth'], tmp_path, env, lambda: bool(_partials(tmp_path/'d')), sig)
    time.sleep(2)
    assert _processes_mentioning(str(tmp_path)) == [], 'a worker outlived its command'
    assert all(json.loads(p.read_text())['framesCount'] for p in (tmp_path/'d'/'ci'/'annotations').glob('*.json'))
    done = subprocess.run([str(CLI), 'synth'], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert len(list(videos.glob('*.mp4'))) == 6
    assert _partials(tmp_path/'d') == [], 'stale temporaries of the killed run are still there'


@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_extract_leaves_no_worker_and_resumes(tmp_path, sig, synthesized):
    env = _env(tmp_path)
    shutil.copytree(synthesized, tmp_path/'d')
    clips = tmp_path/'d'/'ci'/'clips'
    _start_and_kill(['extract'], tmp_path, env, lambda: clips.exists() and bool(_partials(clips)), sig)
    time.sleep(2)
    assert _processes_mentioning(str(tmp_path)) == [], 'a worker outlived its command'
    n_before = len(list(clips.rglob('*.mp4')))
    time.sleep(1)
    assert len(list(clips.rglob('*.mp4'))) == n_before, 'clips are still being written after the kill'
    done = subprocess.run([str(CLI), 'extract'], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path/'d'/'ci'/'manifest.json').read_text())
    assert len(manifest['clips']) == 72
    assert _partials(clips) == []


@pytest.mark.parametrize('k', ['0', '-1', '10'])
def test_predict_top_k_out_of_range_is_a_usage_error(tmp_path, k):
    proc = run_cli('predict', tmp_path/'x.mp4', '--top-k', k, check=False)
    assert proc.returncode == 2
    assert 'top-k' in proc.stderr and 'Traceback' not in proc.stderr


@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGINT])
def test_interrupted_preprocess_leaves_nothing_half_written_and_resumes(tmp_path, sig, extracted):
    env = _env(tmp_path)
    shutil.copytree(extracted, tmp_path/'d')
    records = tmp_path/'d'/'ci'/'records'
    proc = _start_and_kill(['preprocess', '--resolution', '112', '--shard-size', '8'], tmp_path, env,
                           lambda: records.exists() and any(records.rglob('*.tfrecord*')), sig, wait=240)
    assert proc.returncode != 0, 'preprocess went on to the end after the signal'
    time.sleep(1)
    assert _processes_mentioning(str(tmp_path)) == []
    assert not (records/'dataset_card.json').exists(), f'interrupted (exit {proc.returncode}), yet the dataset card was written'
    done = subprocess.run([str(CLI), 'preprocess', '--resolution', '112', '--shard-size', '8'], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    card = json.loads((records/'dataset_card.json').read_text())
    assert card['totals']['train'] + card['totals']['test'] == 72
    assert _partials(records) == []


def test_killed_training_resumes_from_its_last_epoch(tmp_path, extracted):
    "SIGKILL after the first epoch's checkpoint: no process left, and the next `train` goes on from epoch 2."
    env = _env(tmp_path)
    shutil.copytree(extracted, tmp_path/'d')
    preprocess = [str(CLI), 'preprocess', '--resolution', '112']
    assert subprocess.run(preprocess, cwd=tmp_path, env=env, capture_output=True, timeout=300).returncode == 0
    models = tmp_path/'r'/'ci'/'models'
    args = ['train', '--epochs', '3', '--steps-per-epoch', '2', '--batch-size', '4', '--resolution', '112']
    _start_and_kill(args, tmp_path, env, lambda: (models/'state.json').exists(), signal.SIGKILL, wait=600)
    time.sleep(1)
    assert _processes_mentioning(str(tmp_path)) == []
    done_before = json.loads((models/'state.json').read_text())['completed_epochs']
    assert 1 <= done_before < 3
    assert json.loads((models/'train_info.json').read_text())['status'] == 'training'   # never taken as a finished run
    done = subprocess.run([str(CLI), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    history = json.loads((models/'history.json').read_text())
    assert [r['epoch'] for r in history] == [1, 2, 3]                  # no epoch trained twice, none lost
    info = json.loads((models/'train_info.json').read_text())
    assert info['status'] == 'complete' and info['completed_epochs'] == 3 and (models/'saved_model').is_dir()
    assert _partials(models) == []
