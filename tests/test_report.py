"Chapter 3.3 and the memory: the Quarto report's sources checked without Quarto (embeds, cross-references, citations, placeholders, numbers)."
import json
import shutil
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_notebook, new_output

from conftest import ROOT, run_cli
from crossfit_nb.core import CHAPTERS, LABELS, Config
from crossfit_nb.quarto_checks import check_report, notebook_cells, report_embeds
from crossfit_nb.report import find_quarto, report_facts

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
    "Small stand-ins of the chapters' facts, written through the chapters' own facts functions."
    from crossfit_nb.artifacts import write_facts
    from crossfit_nb.deployment import deployment_facts
    from crossfit_nb.evaluation import evaluation_facts
    from crossfit_nb.extraction import dataset_facts
    from crossfit_nb.preprocessing import records_facts
    from crossfit_nb.training import training_facts
    cfg = Config(data_dir=root/'data', runs_dir=root/'runs', preset='ci')
    clips = pd.DataFrame({'label': [l for l in LABELS for _ in range(4)], 'num_frames': [12, 50, 29, 29]*9,
                          'duration': [1.0 + i/10 for i in range(9) for _ in range(4)]})
    write_facts(cfg, '10b_extraction', dataset_facts(clips))
    write_facts(cfg, '20_preprocessing', records_facts({
        'sampling': {'num_frames': 10, 'resolution': 112, 'resize_mode': 'squash'}, 'encoding': {'frames': 'jpeg', 'quality': 80, 'chroma': '4:4:4', 'compression': None},
        'split': {'method': 'group', 'source_videos': {'train': ['a', 'b', 'c'], 'test': ['d']}},
        'totals': {'train': 27, 'test': 9}, 'bytes': {'records': 2**20, 'clips': 3*2**20}, 'errors': []}))
    write_facts(cfg, '30_training', training_facts({
        'model_id': 'a0', 'model_type': 'base', 'conv_type': '2plus1d', 'resolution': 112, 'num_frames': 8,
        'completed_epochs': 3, 'status': 'complete', 'best': {'value': 0.7, 'epoch': 2},
        'config': {'batch_size': 8, 'pretrained': False}}, [{'epoch': 3, 'top1': 0.9, 'val_top1': 0.6}]))
    metrics = pd.DataFrame({'value': [7/9, 1.0, 0.78], 'boot_low': [0.5, 1, .5], 'boot_high': [1.0, 1, 1]},
                           index=['top-1', 'top-5', 'balanced accuracy'])
    conf = pd.DataFrame({'clips': 1, 'mean': [0.9 - i/20 for i in range(9)], 'std': 0.0}, index=list(LABELS))
    corr = pd.DataFrame(-0.5, index=pd.Index(LABELS, name='probability of'), columns=list(LABELS))
    corr.loc['ohs', 'thruster'] = -0.95
    per = pd.DataFrame({'f1': [1.0]*8 + [0.4], 'support': 4}, index=list(LABELS))
    write_facts(cfg, '40b_evaluation', evaluation_facts({'metrics': metrics, 'confidence': conf, 'correlation': corr,
                                                        'per_movement': per}, 9, 'test', 100))
    export = pd.DataFrame({'tamaño (MB)': [7.5, 2.0], 'latencia (ms/clip)': [20.0, 10.0], 'exactitud test': [7/9, 6/9],
                           'Δ exactitud vs float32': [0.0, -1/9], 'misma predicción que float32': [1.0, 8/9]},
                          index=['tflite float32', 'tflite int8'])
    from crossfit_nb.keypoints import keypoint_facts
    pck_rows = pd.DataFrame({'pck': [0.6, 0.5, 0.55], 'pck_either': [0.8, 0.7, 0.75], 'mean_px': [9.0, 12.0, 10.5],
                             'median_px': [7.0, 9.0, 8.0]}, index=['nose', 'left_wrist', 'all'])
    write_facts(cfg, '42_keypoints', keypoint_facts(pck_rows, {'estimated': {'top1': 0.95, 'top1_low': 0.9, 'top1_high': 0.99,
                                                                              'minutes': 0.4}}, 'estimated', {'train': 16, 'test': 6}, 0, 0.02))
    from crossfit_nb.judging import judging_facts
    summary = pd.DataFrame({'value': [0.04, 0.96, 0.97, 0.8], 'low': [0.02, 0.9, 0.95, 0.7], 'high': [0.06, 1.0, 0.99, 0.9]},
                           index=['count MAE', 'OBO', 'timeline accuracy', 'boundary F1'])
    write_facts(cfg, '45b_wod', judging_facts({'phase': summary, 'period': summary + 0.1}, train_videos=4, estimated_videos=2,
                                              wod_videos=5, wod_reps=30, wod_rounds=[2, 1], wod_minutes=1.5, real_clips=9,
                                              real_count_one=7, real_seen=1, tcn_mae=0.09, tcn_timeline=0.93, live_mae=0.06, live_obo=0.94,
                                              announced_mae=0.02, announced_obo=0.96, announced_timeline=0.96,
                                              oracle_mae=0.01, oracle_obo=1.0, oracle_timeline=0.98,
                                              live_timeline=0.93, live_fps=33.5, live_realtime=1.12, live_lag_s=1.0, live_finish_s=2.0, minutes=3.0))
    real = {'models': {k: {'clips reales': f'{n}/9'} for k, n in (('movinet', 2), ('pose', 4), ('ensemble', 3))}, 'real_clips': 9}
    write_facts(cfg, '50e_deployment', {**deployment_facts(export, pd.DataFrame({'sample': [40.0], 'inference': [20.0], 'total': [60.0]}, index=['a'])), **real})
    return root


@pytest.fixture
def project(tmp_path):
    return hand_made_notebooks(copy_sources(tmp_path))


def test_the_real_sources_pass_against_hand_made_notebooks(project):
    assert check_report(project) == []


def test_the_report_covers_every_chapter_and_section():
    embedded = {nb for _, nb, _ in report_embeds(ROOT)}
    for chapter in ('01b_synthetic', '10b_extraction', '20_preprocessing', '30_training', '42_keypoints', '40b_evaluation', '45b_wod',
                    '50e_deployment'):
        assert f'runs/report/{chapter}.ipynb' in embedded
    book = (ROOT/'report/01_introduccion.qmd').read_text() + (ROOT/'report/02_estado_del_arte.qmd').read_text() + \
           (ROOT/'report/03_desarrollo.qmd').read_text() + (ROOT/'report/04_conclusiones.qmd').read_text()
    for heading in ('# Introducción', '## Motivación', '## Objetivos', '## Estructura del proyecto', '# Estado del arte',
                    '## Deep Learning', '## Cloud', '## Trabajos relacionados', '# Desarrollo',
                    '## Extracción y recolección de datos', '## Experimentación con deep learning', '### Preprocesado',
                    '### Experimentos', '### Evaluación', '## Cloud y despliegue', '### Arquitectura',
                    '### Resultado y funcionamiento', '## Conteo de repeticiones y juicio de un WOD', '# Conclusiones y trabajo futuro'):
        assert f'\n{heading} ' in book or book.startswith(heading), heading
    assert (ROOT/'report/anexo.qmd').read_text().startswith('# Anexo')


def test_the_numbers_come_from_the_chapter_outputs(project):
    problems = check_report(project, facts=report_facts)
    assert any('report data (dataset): runs/ci/facts/10b_extraction.json not found (written by 10b_extraction)' in p for p in problems)
    chapter_outputs(project)
    assert check_report(project, facts=report_facts) == []
    f = report_facts(project)
    assert (f.run.synthetic, f.dataset.clips, f.records.videos_shared, f.evaluation.worst_f1) == (True, 36, 0, 'thruster')
    assert (f.evaluation.anticorrelated.true, f.evaluation.anticorrelated.other) == ('thruster', 'ohs')


def test_report_command_checks_before_it_renders(project):
    proc = run_cli('report', '--skip-run', cwd=project, check=False)
    assert proc.returncode == 1 and 'facts/40b_evaluation.json not found' in proc.stderr and 'rendered' not in proc.stdout
    chapter_outputs(project)
    proc = run_cli('report', '--skip-run', '--no-render', cwd=project, check=False)
    assert proc.returncode == 0, proc.stderr
    assert 'report checks passed' in proc.stdout and 'rendered' not in proc.stdout


def test_without_quarto_the_error_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))
    monkeypatch.setattr(sys, 'prefix', str(tmp_path))
    with pytest.raises(FileNotFoundError, match='bash scripts/setup.sh'): find_quarto()


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
    assert check_report(ROOT, facts=report_facts) == []
