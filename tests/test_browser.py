"Headless Chromium (Debian's) driven by Playwright: upload a clip to the running web app and read the predicted movement."
from pathlib import Path

import pytest

from conftest import ROOT
from crossfit_nb.inference import Classifier
from crossfit_nb.webapp import create_app
from crossfit_nb.testing import running_app
from deployment_helpers import clips, tiny_models  # noqa: F401 (fixtures)

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run']
SCREENSHOTS = ROOT/'runs'/'screenshots'


@pytest.fixture(scope='module')
def browser():
    if not Path(CHROMIUM).exists(): pytest.fail(f'{CHROMIUM} is missing: run scripts/setup.sh (Debian package chromium)')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def test_upload_a_clip_and_read_the_movement(browser, tiny_models, clips):
    clf = Classifier.load(tiny_models['tflite float32'])
    good, bad = clips['good'][1], clips['dir']/'notes.txt'
    want = clf.predict(good)
    with running_app(create_app(clf, {'clip2': clips['good'][2]})) as url:
        page = browser.new_page(viewport={'width': 900, 'height': 1300})
        page.goto(url, wait_until='networkidle')
        assert 'Clasificación de movimientos de CrossFit' in page.inner_text('h1')

        page.set_input_files('#upload input[type=file]', str(good))
        page.wait_for_function("document.querySelector('#movement').innerText.length > 0", timeout=30000)
        assert page.inner_text('#movement') == want.label
        rows = page.locator('.top5 tbody tr')
        assert rows.count() == 5 and want.label in rows.nth(0).inner_text()
        assert page.get_attribute('#preview', 'src').startswith('data:video/mp4;base64,')
        page.wait_for_selector('#chart .main-svg', timeout=30000)
        assert 'total' in page.inner_text('#timings')
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS/'webapp-upload.png'), full_page=True)

        page.set_input_files('#upload input[type=file]', str(bad))
        page.wait_for_function("document.querySelector('#error').innerText.length > 0", timeout=30000)
        assert 'notes.txt' in page.inner_text('#error') and 'not a readable video' in page.inner_text('#error')
        assert page.inner_text('#movement') == ''

        page.click('text=Ejemplos')
        page.click('#example')
        page.click('text=clip2')
        page.wait_for_function("document.querySelector('#movement').innerText.length > 0", timeout=30000)
        assert page.inner_text('#movement') == clf.predict(clips['good'][2]).label
        page.screenshot(path=str(SCREENSHOTS/'webapp-examples.png'), full_page=True)
        page.close()
