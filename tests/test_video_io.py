"Video I/O edge cases beyond the core notebook: odd frame rates, broken files, other writers."
import subprocess

import av
import numpy as np
import pytest

from crossfit_nb.video import VideoError, probe_video, read_frames, write_video
from conftest import frame_numbers, numbered_frames


def test_odd_frame_rate_is_read_not_assumed(tmp_path):
    clip = write_video(tmp_path/'odd.mp4', numbered_frames(53), fps=26.4)
    info = probe_video(clip)
    assert abs(info.fps - 26.4) < 1e-3
    assert info.frame_count == 53
    assert abs(info.duration - 53/26.4) < 1e-3
    picks = [0, 1, 26, 52]
    assert frame_numbers(read_frames(clip, picks)) == picks


def test_frames_written_by_ffmpeg_with_bframes_are_exact(tmp_path, ffmpeg):
    src = write_video(tmp_path/'src.mp4', numbered_frames(120), fps=30)
    out = tmp_path/'bframes.mp4'
    subprocess.run([ffmpeg, '-v', 'error', '-i', str(src), '-c:v', 'libx264', '-bf', '3', '-g', '24',
                    str(out)], check=True)
    picks = [0, 7, 8, 50, 100, 119]
    assert frame_numbers(read_frames(out, picks)) == picks
    assert frame_numbers(read_frames(out)) == list(range(120))


def test_truncated_file_fails_with_its_name(tmp_path):
    clip = write_video(tmp_path/'whole.mp4', numbered_frames(60), fps=30)
    broken = tmp_path/'truncated.mp4'
    broken.write_bytes(clip.read_bytes()[:len(clip.read_bytes())//3])
    with pytest.raises(VideoError, match='truncated.mp4'):
        read_frames(broken, [59])


def test_audio_only_file_is_refused(tmp_path):
    path = tmp_path/'voice.m4a'
    with av.open(str(path), 'w', format='mp4') as out:
        stream = out.add_stream('aac', rate=16000)
        for i in range(20):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format='fltp', layout='mono')
            frame.sample_rate, frame.pts = 16000, i*1024
            for p in stream.encode(frame): out.mux(p)
        for p in stream.encode(): out.mux(p)
    with pytest.raises(VideoError, match='voice.m4a: no video stream'):
        probe_video(path)


def test_write_refuses_odd_sizes_and_leaves_nothing(tmp_path):
    with pytest.raises(VideoError, match='even sizes'):
        write_video(tmp_path/'odd.mp4', [np.zeros((63, 96, 3), np.uint8)])
    with pytest.raises(VideoError, match='no frames'):
        write_video(tmp_path/'none.mp4', [])
    assert [p.name for p in tmp_path.rglob('*')] == ['.partial']


def test_sparse_reads_far_from_any_keyframe(tmp_path, ffmpeg):
    "One keyframe for the whole file: every seek lands far before its target and must decode forward to it."
    src = write_video(tmp_path/'src.mp4', numbered_frames(240), fps=30)
    out = tmp_path/'one_gop.mp4'
    subprocess.run([ffmpeg, '-v', 'error', '-i', str(src), '-c:v', 'libx264', '-g', '1000', '-sc_threshold', '0',
                    '-bf', '2', str(out)], check=True)
    picks = [198, 231, 199, 5, 120]
    assert frame_numbers(read_frames(out, picks)) == picks
    assert frame_numbers(read_frames(out, picks, seek_gap=0)) == picks


def test_containers_without_a_frame_count_are_counted(tmp_path, ffmpeg):
    "Matroska stores no frame count: probe counts packets, and reading still works after counting."
    src = write_video(tmp_path/'src.mp4', numbered_frames(90), fps=30)
    out = tmp_path/'clip.mkv'
    subprocess.run([ffmpeg, '-v', 'error', '-i', str(src), '-c', 'copy', str(out)], check=True)
    assert av.open(str(out)).streams.video[0].frames == 0
    assert probe_video(out).frame_count == 90
    picks = [0, 3, 70, 89]
    assert frame_numbers(read_frames(out, picks)) == picks
