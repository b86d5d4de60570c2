"Downloads through yt-dlp against a local HTTP server: skipping without a request, re-fetching a lost file, resuming a partial one."
import pytest

from crossfit_nb.video import write_video
from crossfit_nb.download import download_videos
from crossfit_nb.testing import numbered_frames, serve_directory


@pytest.fixture(scope='module')
def www(tmp_path_factory):
    d = tmp_path_factory.mktemp('www')
    write_video(d/'rep one.mp4', numbered_frames(90, 128, 160), fps=30)
    write_video(d/'rep2.mp4', numbered_frames(30), fps=25)
    return d


def test_done_videos_are_skipped_without_a_request(www, tmp_path):
    with serve_directory(www) as server:
        url = f'{server.url}/rep2.mp4'
        download_videos([url], tmp_path, progress=False)
        before = len(server.requests)
        again = download_videos([url], tmp_path, progress=False)
        assert again[0]['action'] == 'skipped' and len(server.requests) == before
        (tmp_path/'rep2.mp4').unlink()   # a lost file is fetched again
        assert download_videos([url], tmp_path, progress=False)[0]['action'] == 'downloaded'


def test_partial_download_resumes_with_a_range_request(www, tmp_path):
    data = (www/'rep one.mp4').read_bytes()
    (tmp_path/'rep_one.mp4.part').write_bytes(data[:len(data)//2])
    with serve_directory(www) as server:
        [rec] = download_videos([f'{server.url}/rep%20one.mp4'], tmp_path, progress=False)
    assert rec['action'] == 'downloaded'
    assert (tmp_path/'rep_one.mp4').read_bytes() == data
    assert ('/rep%20one.mp4', f'bytes={len(data)//2}-') in server.requests
    assert not (tmp_path/'rep_one.mp4.part').exists()


def test_download_command_lists_failures_and_refuses_a_missing_list(www, tmp_path):
    from typer.testing import CliRunner
    from crossfit_nb.cli import build_app
    from crossfit_nb.download import load_download_index
    with serve_directory(www) as server:
        (tmp_path/'list.txt').write_text(f'# two reps\n{server.url}/rep2.mp4  # 25 fps\n{server.url}/missing.mp4\n')
        r = CliRunner().invoke(build_app(), ['download', str(tmp_path/'list.txt'), '--data-dir', str(tmp_path/'data'),
                                             '--preset', 'mine'])
    assert r.exit_code == 1
    assert 'failed: http' in r.output and 'missing.mp4' in r.output and '2 URLs: 1 downloaded, 1 failed' in r.output, r.output
    assert (tmp_path/'data/mine/videos/rep2.mp4').exists()
    assert [v['status'] for v in load_download_index(tmp_path/'data/mine/videos/downloads.json').values()] == ['done', 'failed']
    r = CliRunner().invoke(build_app(), ['download', str(tmp_path/'nope.txt')])
    assert r.exit_code == 2 and 'nope.txt' in r.output, r.output
