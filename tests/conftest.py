import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent/'crossfit-nb'


def numbered_frames(n, h=64, w=96):
    "Frames that carry their index: red for i % 32, green for i // 32, in steps of 8."
    for i in range(n):
        frame = np.zeros((h, w, 3), np.uint8)
        frame[..., 0], frame[..., 1] = 8*(i % 32), 8*(i // 32)
        yield frame


def frame_numbers(frames):
    "The indices carried by frames made with `numbered_frames`."
    return [int(round(f[..., 0].mean()/8)) + 32*int(round(f[..., 1].mean()/8)) for f in frames]


def run_cli(*args, cwd=ROOT, check=True):
    "Run the installed `crossfit-nb` console script."
    proc = subprocess.run([str(CLI), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"crossfit-nb {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope='session')
def ffmpeg():
    path = shutil.which('ffmpeg')
    if path is None: pytest.fail('ffmpeg is not installed: run scripts/setup.sh')
    return path
