"Downloads through yt-dlp against a local HTTP server: naming, index, skipping, resuming, failures, CLI."
import json

import pytest
import typer
from typer.testing import CliRunner

from crossfit_nb.video import write_video
from crossfit_nb.extraction import download_videos, load_download_index, read_url_list, serve_directory
from crossfit_nb.extraction import download_command
from conftest import numbered_frames


def cli(*args):
    "Run `crossfit-nb download` in this process (the console script itself is exercised by test_extraction)."
    app = typer.Typer()
    app.command('download')(download_command)
    app.command('other')(lambda: None)
    return CliRunner().invoke(app, ['download', *map(str, args)])


@pytest.fixture(scope='module')
def www(tmp_path_factory):
    d = tmp_path_factory.mktemp('www')
    write_video(d/'rep one.mp4', numbered_frames(90, 128, 160), fps=30)
    write_video(d/'rep2.mp4', numbered_frames(30), fps=25)
    return d


def test_downloads_by_id_with_index_and_a_failure(www, tmp_path):
    with serve_directory(www) as server:
        urls = [f'{server.url}/rep%20one.mp4', f'{server.url}/gone.mp4', f'{server.url}/rep2.mp4']
        results = download_videos(urls, tmp_path/'videos', progress=False)
    assert [r['action'] for r in results] == ['downloaded', 'failed', 'downloaded']
    assert (tmp_path/'videos/rep_one.mp4').read_bytes() == (www/'rep one.mp4').read_bytes()
    assert (tmp_path/'videos/rep2.mp4').read_bytes() == (www/'rep2.mp4').read_bytes()
    assert 'gone.mp4' in results[1]['error'] and '404' in results[1]['error']
    index = load_download_index(tmp_path/'videos/downloads.json')
    rec = index[urls[0]]
    assert (rec['id'], rec['title'], rec['path'], rec['status']) == ('rep one', 'rep one', 'rep_one.mp4', 'done')
    assert rec['size'] == (www/'rep one.mp4').stat().st_size
    assert index[urls[1]]['status'] == 'failed'
    assert set(rec) >= {'id', 'title', 'url', 'path', 'size', 'status'}


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


def test_url_list_and_cli(www, tmp_path):
    with serve_directory(www) as server:
        urls = tmp_path/'urls.txt'
        urls.write_text(f'# two reps\n{server.url}/rep2.mp4   # 25 fps\n\n{server.url}/missing.mp4\n{server.url}/rep2.mp4\n')
        assert read_url_list(urls) == [f'{server.url}/rep2.mp4', f'{server.url}/missing.mp4']
        res = cli(urls, '--data-dir', tmp_path/'data', '--preset', 'mine')
    assert res.exit_code == 1, res.output
    assert 'failed: http' in res.output and 'missing.mp4' in res.output
    assert '2 URLs: 1 downloaded, 1 failed' in res.output
    assert (tmp_path/'data/mine/videos/rep2.mp4').exists()
    index = json.loads((tmp_path/'data/mine/videos/downloads.json').read_text())
    assert [v['status'] for v in index['videos']] == ['done', 'failed']
    res = cli(tmp_path/'nope.txt')
    assert res.exit_code == 2 and 'nope.txt' in res.output
