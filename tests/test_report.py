"Chapter 3.3 and the memory: the Quarto report's sources checked without Quarto (embeds, cross-references, citations, placeholders, numbers)."
import json
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook, new_output

from conftest import ROOT, run_cli
from crossfit_nb.core import CHAPTERS, LABELS, Config
from crossfit_nb.report import check_report, notebook_cells, report_embeds, report_facts

SOURCES = ('_quarto.yml', '_quarto-book.yml', '_quarto-slides.yml', 'index.qmd', 'report', 'assets')


def copy_sources(dest: Path) -> Path:
    "A copy of the report's real sources (Quarto configuration, report/, assets/) in `dest`, as a project root."
    for name in SOURCES:
        src = ROOT/name
        if src.is_dir(): shutil.copytree(src, dest/name)
        else: shutil.copy2(src, dest/name)
    (dest/'pyproject.toml').write_text('[project]\nname = "crossfit-nb"\n')
    return dest


def hand_made_notebooks(root: Path, drop=()):
    "Executed-looking notebooks in runs/report with every cell the report embeds (except `drop`), and run.json."
    wanted = {}
    for _, nb, label in report_embeds(root): wanted.setdefault(nb, []).append(label)
    params = {'data_dir': str(root/'data'), 'runs_dir': str(root/'runs'), 'preset': 'ci', 'seed': 0}
    for nb, labels in wanted.items():
        cells = []
        for label in dict.fromkeys(labels):
            if label in drop: continue
            kind = label.split('-')[0]
            out = (new_output('display_data', data={'image/png': 'iVBORw0KGgo=', 'text/plain': '<Figure>'}) if kind == 'fig'
                   else new_output('execute_result', data={'text/html': '<table></table>', 'text/plain': 't'}, execution_count=1))
            cells.append(new_code_cell(f'#| label: {label}\n#| {kind}-cap: "Un título"\nx', outputs=[out]))
        path = root/nb
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(new_notebook(cells=cells, metadata={'papermill': {'parameters': params}}), str(path))
    for chapter in CHAPTERS:      # chapters the report does not embed from still give the report its parameters
        path = root/'runs/report'/f'{chapter}.ipynb'
        if not path.exists(): nbformat.write(new_notebook(metadata={'papermill': {'parameters': params}}), str(path))
    (root/'runs/report/run.json').write_text(json.dumps(
        {c: {'profile': 'ci', 'preset': 'ci', 'executed': '', 'finished': '2024-05-01T10:00:00'} for c in CHAPTERS}))
    return root


def chapter_outputs(root: Path):
    "Small stand-ins of the tables, dataset card and training info the chapters write."
    cfg = Config(data_dir=root/'data', runs_dir=root/'runs', preset='ci')
    cfg.tables_dir.mkdir(parents=True)
    pd.DataFrame({'Movimiento': [*LABELS, 'Total'], 'Clips': [4]*9 + [36], 'Fotogramas media': [30.0]*10,
                  'Segundos media': [1.0 + i/10 for i in range(9)] + [1.4], 'Fotogramas mín.': [12]*10,
                  'Fotogramas máx.': [50]*10}).to_csv(cfg.tables_dir/'dataset.csv', index=False)
    cfg.records_dir.mkdir(parents=True)
    (cfg.records_dir/'dataset_card.json').write_text(json.dumps({
        'sampling': {'num_frames': 10, 'resolution': 112, 'resize_mode': 'squash'}, 'encoding': {'frames': 'jpeg', 'quality': 80, 'chroma': '4:4:4', 'compression': None},
        'split': {'method': 'group', 'source_videos': {'train': ['a', 'b', 'c'], 'test': ['d']}},
        'totals': {'train': 27, 'test': 9}, 'bytes': {'records': 2**20, 'clips': 3*2**20}, 'errors': []}))
    (cfg.models_dir/'m').mkdir(parents=True)
    (cfg.models_dir/'m/train_info.json').write_text(json.dumps({
        'model_id': 'a0', 'model_type': 'base', 'conv_type': '2plus1d', 'resolution': 112, 'num_frames': 8,
        'completed_epochs': 3, 'status': 'complete', 'best': {'value': 0.7, 'epoch': 2},
        'config': {'batch_size': 8, 'pretrained': False}}))
    (cfg.models_dir/'m/history.json').write_text(json.dumps([{'epoch': 3, 'top1': 0.9, 'val_top1': 0.6}]))
    (cfg.tables_dir/'metrics.json').write_text(json.dumps({'split': 'test', 'clips': 9, 'bootstrap': 100, 'metrics': {
        'top-1': {'value': 7/9, 'boot_low': 0.5, 'boot_high': 1.0}, 'top-5': {'value': 1.0}, 'balanced accuracy': {'value': 0.78}}}))
    pd.DataFrame({'movement': LABELS, 'clips': 1, 'mean': [0.9 - i/20 for i in range(9)], 'std': 0.0}
                 ).to_csv(cfg.tables_dir/'confidence.csv', index=False)
    corr = pd.DataFrame(-0.5, index=pd.Index(LABELS, name='probability of'), columns=LABELS)
    corr.loc['ohs', 'thruster'] = -0.95
    corr.to_csv(cfg.tables_dir/'correlation.csv')
    pd.DataFrame({'movement': LABELS, 'f1': [1.0]*8 + [0.4], 'support': 4}).to_csv(cfg.tables_dir/'per_movement.csv', index=False)
    pd.DataFrame({'modelo': ['tflite float32', 'tflite int8'], 'tamaño (MB)': [7.5, 2.0], 'latencia (ms/clip)': [20.0, 10.0],
                  'exactitud test': [7/9, 6/9], 'Δ exactitud vs float32': [0.0, -1/9],
                  'misma predicción que float32': [1.0, 8/9]}).to_csv(cfg.tables_dir/'export.csv', index=False)
    pd.DataFrame({'clip': ['a'], 'sample': [40.0], 'inference': [20.0], 'total': [60.0]}).to_csv(cfg.tables_dir/'latency.csv', index=False)
    return root


@pytest.fixture
def project(tmp_path):
    return hand_made_notebooks(copy_sources(tmp_path))


def test_the_real_sources_pass_against_hand_made_notebooks(project):
    assert check_report(project, data=False) == []


def test_the_report_covers_every_chapter_and_section():
    embedded = {nb for _, nb, _ in report_embeds(ROOT)}
    for chapter in ('01_synthetic', '10_extraction', '20_preprocessing', '30_training', '40_evaluation', '50_deployment'):
        assert f'runs/report/{chapter}.ipynb' in embedded
    book = (ROOT/'report/01_introduccion.qmd').read_text() + (ROOT/'report/02_estado_del_arte.qmd').read_text() + \
           (ROOT/'report/03_desarrollo.qmd').read_text() + (ROOT/'report/04_conclusiones.qmd').read_text()
    for heading in ('# Introducción', '## Motivación', '## Objetivos', '## Estructura del proyecto', '# Estado del arte',
                    '## Deep Learning', '## Cloud', '## Trabajos relacionados', '# Desarrollo',
                    '## Extracción y recolección de datos', '## Experimentación con deep learning', '### Preprocesado',
                    '### Experimentos', '### Evaluación', '## Cloud y despliegue', '### Arquitectura',
                    '### Resultado y funcionamiento', '# Conclusiones y trabajo futuro'):
        assert f'\n{heading} ' in book or book.startswith(heading), heading
    assert (ROOT/'report/anexo.qmd').read_text().startswith('# Anexo')


def test_a_missing_label_is_caught(project):
    hand_made_notebooks(project, drop=('fig-confusion',))
    problems = check_report(project, data=False)
    assert any("no cell labelled 'fig-confusion' in 40_evaluation.ipynb" in p for p in problems), problems


def test_a_cell_without_caption_or_output_is_caught(project):
    path = project/'runs/report/40_evaluation.ipynb'
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if '#| label: fig-correlation' in cell.source: cell.source = '#| label: fig-correlation\nx'
        if '#| label: tbl-metrics' in cell.source: cell.outputs = []
    nbformat.write(nb, str(path))
    problems = check_report(project, data=False)
    assert any('fig-correlation: no fig-cap caption' in p for p in problems), problems
    assert any('tbl-metrics: the cell has no output' in p for p in problems), problems


def test_a_missing_bibliography_key_is_caught(project):
    bib = project/'report/references.bib'
    text = bib.read_text()
    start = text.index('@inproceedings{kondratyuk2021movinets')
    bib.write_text(text[:start] + text[text.index('\n}\n', start) + 3:])
    problems = check_report(project, data=False)
    assert any('citation @kondratyuk2021movinets not in the bibliography' in p for p in problems), problems


@pytest.mark.parametrize('text', ['Lorem ipsum dolor sit amet.', 'INSERTAR FIGURA', 'Aquí va el texto.', 'DESPLEGAR_Y_PONER'])
def test_placeholder_text_is_caught(project, text):
    chapter = project/'report/04_conclusiones.qmd'
    chapter.write_text(chapter.read_text() + f'\n{text}\n')
    problems = check_report(project, data=False)
    assert any('04_conclusiones.qmd' in p and 'placeholder text' in p for p in problems), problems


def test_a_dangling_cross_reference_and_a_missing_image_are_caught(project):
    chapter = project/'report/02_estado_del_arte.qmd'
    chapter.write_text(chapter.read_text() + '\nComo se ve en @fig-inexistente.\n\n![Otra](../assets/no-existe.svg)\n')
    problems = check_report(project, data=False)
    assert 'report/02_estado_del_arte.qmd: cross-reference @fig-inexistente has no target in the book' in problems
    assert 'report/02_estado_del_arte.qmd: image ../assets/no-existe.svg not found' in problems


def test_the_numbers_come_from_the_chapter_outputs(project):
    problems = check_report(project)
    assert any('report data (dataset): runs/ci/tables/dataset.csv not found (written by 10_extraction)' in p for p in problems)
    chapter_outputs(project)
    assert check_report(project) == []
    f = report_facts(project)
    assert (f.run.synthetic, f.dataset.clips, f.records.videos_shared, f.evaluation.worst_f1) == (True, 36, 0, 'thruster')
    assert (f.evaluation.anticorrelated.true, f.evaluation.anticorrelated.other) == ('thruster', 'ohs')


def test_report_command_checks_then_says_quarto_is_missing(project):
    proc = run_cli('report', '--skip-run', cwd=project, check=False)
    assert proc.returncode == 1 and 'metrics.json not found' in proc.stderr
    chapter_outputs(project)
    quarto = shutil.which('quarto') is not None      # where Quarto is installed, don't render the stand-ins
    proc = run_cli('report', '--skip-run', *(['--no-render'] if quarto else []), cwd=project, check=False)
    assert proc.returncode == 0, proc.stderr
    assert 'report checks passed' in proc.stdout
    if not quarto: assert 'quarto is not on the PATH' in proc.stdout


def test_every_embedded_label_exists_in_the_chapter_sources():
    "The labels the report embeds are in the chapter notebooks of nbs/ (before any run)."
    missing = []
    for doc, nb, label in report_embeds(ROOT):
        source = ROOT/'nbs'/Path(nb).name
        if not source.exists(): missing.append(f'{doc}: {nb}: no source notebook {source.relative_to(ROOT)}')
        elif label and label not in notebook_cells(source): missing.append(f'{doc}: {nb}#{label}: no such label in nbs/')
    assert missing == []


def test_the_pages_workflow_renders_and_publishes():
    wf = yaml.safe_load((ROOT/'.github/workflows/pages.yml').read_text())
    steps = [s for job in wf['jobs'].values() for s in job['steps']]
    uses = [s.get('uses', '') for s in steps]
    runs = '\n'.join(s.get('run', '') for s in steps)
    assert any(u.startswith('quarto-dev/quarto-actions/setup@') for u in uses)
    assert any(u.startswith('actions/upload-pages-artifact@') for u in uses)
    assert any(u.startswith('actions/deploy-pages@') for u in uses)
    assert 'crossfit-nb run --profile ci' in runs and 'crossfit-nb report' in runs and 'nbdev-docs' in runs
    assert wf['permissions']['pages'] == 'write'


@pytest.mark.skipif(not (ROOT/'runs/report/run.json').exists(), reason='no executed chapters in runs/report (crossfit-nb run)')
def test_the_report_checks_pass_on_the_executed_chapters():
    assert check_report(ROOT) == []
