"""The report as a reader gets it: render the book and the slides with Quarto from the chapters in runs/report (in the
test command, the ci run that precedes pytest), read every page as text, and open the pages offline in Debian's
Chromium: every figure shows an image or a drawn plot, nothing is fetched from another site. Screenshots of each
page and each slide go to runs/report/screenshots/ for review."""
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from crossfit_nb.report import rendered_problems

CHROMIUM = '/usr/bin/chromium'
ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run']
SHOTS = ROOT/'runs'/'report'/'screenshots'
OVERFLOW = """() => { const s = Reveal.getCurrentSlide(), box = document.querySelector('.reveal .slides').getBoundingClientRect();
    if (s.classList.contains('scrollable')) return getComputedStyle(s).overflowY === 'auto' ? [] : ['scrollable but not scrolling'];
    return [...s.querySelectorAll('*')].filter(e => { const r = e.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && (r.bottom > box.bottom + 1 || r.right > box.right + 1 || r.top < box.top - 1); })
      .map(e => `${e.tagName} ${(e.textContent || '').trim().slice(0, 50)}`).slice(0, 3); }"""
FIGURES_SHOWN = """() => [...document.querySelectorAll('figure.quarto-float-fig, div.quarto-float-fig')].map(f => {
    const img = f.querySelector('img'), plot = f.querySelector('.plotly-graph-div');
    return {id: f.id || (f.closest('[id]') || {}).id || '', img: !!img && img.complete && img.naturalWidth > 0,
            plot: !!plot && !!plot.querySelector('.main-svg')};
})"""


@pytest.fixture(scope='module')
def rendered():
    if not (ROOT/'runs/report/run.json').exists(): pytest.skip('no executed chapters in runs/report (crossfit-nb run)')
    proc = run_cli('report', '--skip-run', '--profile', 'ci', check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'rendered: _book, _slides' in proc.stdout
    return {'book': ROOT/'_book', 'slides': ROOT/'_slides'}


@pytest.fixture(scope='module')
def offline_browser():
    if not Path(CHROMIUM).exists(): pytest.fail(f'{CHROMIUM} is missing: run scripts/setup.sh (Debian package chromium)')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = b.new_context(offline=True, viewport={'width': 1280, 'height': 720})
        yield context
        b.close()


def _open(context, page_path: Path):
    page, remote = context.new_page(), []
    page.on('request', lambda r: remote.append(r.url) if r.url.startswith(('http:', 'https:')) and r.resource_type in
            ('script', 'image', 'media', 'xhr', 'fetch') else None)   # the theme's web font may fall back; content may not
    page.goto(page_path.as_uri(), wait_until='load')
    return page, remote


def test_the_rendered_pages_show_no_defects(rendered):
    for site in rendered.values(): assert rendered_problems(site, ROOT) == []


def test_the_memoria_pdf_has_the_chapters_and_figures(rendered):
    import re, shutil, subprocess
    pdf = rendered['book']/'memoria.pdf'
    assert pdf.exists() and pdf.stat().st_size > 100_000
    if not shutil.which('pdftotext'): pytest.fail('pdftotext is missing: run scripts/setup.sh (Debian package poppler-utils)')
    text = subprocess.run(['pdftotext', '-layout', str(pdf), '-'], capture_output=True, text=True, check=True).stdout
    for chapter in ('Introducción', 'Estado del arte', 'Desarrollo', 'Conclusiones y trabajo futuro', 'Referencias', 'Anexo'):
        assert chapter in text, chapter
    figures = set(re.findall(r'Figura\s+(\d+\.\d+):', text))
    assert len(figures) >= 15, sorted(figures)
    images = subprocess.run(['pdfimages', '-list', str(pdf)], capture_output=True, text=True, check=True).stdout
    assert len(images.splitlines()) - 2 >= len(figures)                      # every figure is a picture, not a blank
    for defect in ('\\xa0', 'Unable to display', 'PosixPath(', 'IPython.core', '?@fig', str(ROOT)):
        assert defect not in text, defect


def test_every_figure_of_the_book_shows_offline(rendered, offline_browser):
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = [rendered['book']/'index.html', *sorted((rendered['book']/'report').glob('*.html'))]
    figures = 0
    for path in pages:
        page, remote = _open(offline_browser, path)
        page.wait_for_function("[...document.querySelectorAll('.plotly-graph-div')].every(d => d.querySelector('.main-svg'))",
                               timeout=30000)
        shown = page.evaluate(FIGURES_SHOWN)
        assert [f for f in shown if not (f['img'] or f['plot'])] == [], path.name
        assert remote == [], (path.name, remote)
        figures += len(shown)
        page.screenshot(path=str(SHOTS/f'book-{path.stem}.png'), full_page=True)
        page.close()
    assert figures >= 15                                   # the book's figures are there, not an empty shell


def test_every_slide_renders_offline_and_fits(rendered, offline_browser):
    page, remote = _open(offline_browser, rendered['slides']/'report'/'slides.html')
    page.wait_for_function('window.Reveal && Reveal.isReady()', timeout=30000)
    page.evaluate("Reveal.configure({transition: 'none', backgroundTransition: 'none'})")   # screenshots without fades
    total = page.evaluate('Reveal.getTotalSlides()')
    assert total >= 10
    plots, overflowing = 0, {}
    for i in range(total):
        page.evaluate(f'Reveal.slide({i})')
        page.wait_for_timeout(150)
        shown = page.evaluate(FIGURES_SHOWN.replace('document.querySelectorAll', 'Reveal.getCurrentSlide().querySelectorAll'))
        assert [f for f in shown if not (f['img'] or f['plot'])] == [], f'slide {i + 1}'
        plots += sum(f['plot'] for f in shown)
        title = page.evaluate("(Reveal.getCurrentSlide().querySelector('h1, h2') || {}).textContent || ''")
        overflowing[f'{i + 1} {title}'] = page.evaluate(OVERFLOW)
        page.screenshot(path=str(SHOTS/f'slide-{i + 1:02d}.png'))
    assert plots >= 1 and remote == [], remote              # the confusion heatmap is drawn, with no CDN
    assert {k: v for k, v in overflowing.items() if v} == {}  # at 1280x720 nothing runs off a slide (long lists scroll)


def test_the_overflow_check_catches_a_slide_that_runs_off(offline_browser, tmp_path):
    import subprocess
    from crossfit_nb.report import find_quarto
    items = '\n'.join(f'- punto {i}' for i in range(40))
    (tmp_path/'deck.qmd').write_text(f'---\ntitle: Prueba\nformat: revealjs\nhtml-math-method: plain\n---\n\n'
                                     f'## Demasiado\n\n{items}\n\n## Con scroll {{.scrollable}}\n\n{items}\n\n## Cabe\n\n- uno\n')
    subprocess.run([find_quarto(), 'render', 'deck.qmd'], cwd=tmp_path, check=True, capture_output=True)
    page, _ = _open(offline_browser, tmp_path/'deck.html')
    page.wait_for_function('window.Reveal && Reveal.isReady()', timeout=30000)
    page.evaluate("Reveal.configure({transition: 'none'})")
    found = []
    for i in (1, 2, 3):
        page.evaluate(f'Reveal.slide({i})'); page.wait_for_timeout(400)
        found.append(page.evaluate(OVERFLOW))
    assert any('punto' in f for f in found[0]), found       # the list that runs off the slide is caught
    assert found[1] == [] and found[2] == [], found


def test_the_checks_catch_each_defect_in_a_real_render(tmp_path):
    "A stand-in project whose cells bring back every defect the first render had; Quarto renders it, the checks list each."
    import base64, io, os, subprocess, sys
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    from PIL import Image
    from crossfit_nb.report import find_quarto
    png = io.BytesIO(); Image.new('RGB', (40, 30), 'red').save(png, 'png')
    picture = {'image/png': base64.b64encode(png.getvalue()).decode(), 'text/plain': '<Figure>'}
    cells = [new_code_cell('#| label: fig-paths\n#| fig-cap: "Rutas"\nsave_figures()', execution_count=1, outputs=[
                 new_output('execute_result', data={'text/plain': f"[PosixPath('{tmp_path}/runs/ci/figures/a.png')]"},
                            execution_count=1)]),
             new_code_cell('#| label: fig-plotly\n#| fig-cap: "Plotly solo"\nfig', execution_count=2, outputs=[
                 new_output('display_data', data={'application/vnd.plotly.v1+json': {'data': [], 'layout': {}}})]),
             new_code_cell('#| label: fig-ok\n#| fig-cap: "Bien"\nshow_figure()', execution_count=3, outputs=[
                 new_output('display_data', data=picture)]),
             new_code_cell('#| label: fig-gif\n#| fig-cap: "Animación"\nImage(gif)', execution_count=3, outputs=[
                 new_output('execute_result', data={'text/plain': '<IPython.core.display.Image object>'}, execution_count=3)])]
    nbformat.write(new_notebook(cells=cells, metadata={'kernelspec': {'name': 'python3', 'display_name': 'Python 3',
                                                                      'language': 'python'}}), str(tmp_path/'nb.ipynb'))
    (tmp_path/'_quarto.yml').write_text('project:\n  type: default\n  output-dir: _site\n  render: [page.qmd]\n'
                                         'execute:\n  echo: false\n')
    (tmp_path/'page.qmd').write_text('---\ntitle: Prueba\njupyter: python3\n---\n\n```{python}\nx = "25,0\\u00a0%"\n```\n\n'
                                      'Acierta el `{python} x` (@fig-nada).\n\n{{< embed nb.ipynb#fig-paths >}}\n\n'
                                      '{{< embed nb.ipynb#fig-plotly >}}\n\n{{< embed nb.ipynb#fig-gif >}}\n\n{{< embed nb.ipynb#fig-ok >}}\n')
    env = {**os.environ, 'QUARTO_PYTHON': sys.executable}
    subprocess.run([find_quarto(), 'render'], cwd=tmp_path, env=env, check=True, capture_output=True)
    found = rendered_problems(tmp_path/'_site', tmp_path)
    for what in ('a literal escape', "Jupyter's stand-in", 'a Python object repr', 'absolute path', 'unresolved cross-reference',
                 'a figure without an image or a plot'):
        assert any(what in p for p in found), (what, "\n".join(found))
    assert not any('Bien' in p for p in found)           # the figure with its picture passes
