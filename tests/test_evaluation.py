"""Evaluation (chapter 3.2.4): every computation against hand-built predictions, degenerate splits,
the executed-notebook label check and `crossfit-nb evaluate` on a saved predictions table."""
import json

import nbformat
import numpy as np
import pandas as pd
import pytest
import typer
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from typer.testing import CliRunner

from crossfit_nb.core import LABEL_TO_ID, LABELS, NUM_CLASSES, Config
from crossfit_nb.cli import build_app
from crossfit_nb.core import softmax
from crossfit_nb.evaluation import evaluate
from crossfit_nb.metrics import (EVALUATION_LABELS, accuracy_metrics, bootstrap_intervals, check_notebook_labels,
                                 confidence_table, confusion_table, correlation_notes, correlation_table,
                                 hardest_clips, load_predictions, per_movement_report, predict_table, predictions_frame,
                                 save_predictions)


def probs_row(**named):
    "A probability row with the named classes (underscores for spaces) set and the rest spread evenly."
    row = np.zeros(NUM_CLASSES)
    for name, v in named.items(): row[LABEL_TO_ID[name.replace('_', ' ')]] = v
    row[row == 0] = (1 - row.sum())/(row == 0).sum()
    return row


def table(labels, rows, videos=None):
    ids = [f'c{i}' for i in range(len(labels))]
    return predictions_frame(ids, videos or ['v']*len(labels), labels, np.array(rows))


@pytest.fixture
def mixed():
    "6 clips: 3 ohs (one taken for thruster), 2 deadlift, 1 thruster; 6 movements absent."
    return table(['ohs', 'ohs', 'ohs', 'deadlift', 'deadlift', 'thruster'],
                 [probs_row(ohs=.8, thruster=.1), probs_row(ohs=.6, thruster=.3), probs_row(ohs=.3, thruster=.6),
                  probs_row(deadlift=.9, power_clean=.05), probs_row(deadlift=.7, power_clean=.2),
                  probs_row(thruster=.85, ohs=.1)])


# --- the predictions table ---------------------------------------------------------------------------

def test_predictions_frame_columns_and_validation():
    df = table(['ohs', 3], [probs_row(ohs=.9), probs_row(ghd=.6)])
    assert list(df.columns) == ['clip_id', 'video', 'label', 'predicted', *LABELS]
    assert df.label.tolist() == ['ohs', 'double-unders'] and df.predicted.tolist() == ['ohs', 'ghd']
    with pytest.raises(ValueError, match='sum to 1'): table(['ohs'], [np.full(NUM_CLASSES, .5)])
    with pytest.raises(ValueError, match='lengths differ'): predictions_frame(['a', 'b'], ['v'], ['ohs'], [probs_row(ohs=1)])
    with pytest.raises(ValueError, match=r'\[N, 9\]|reshape'): predictions_frame(['a'], ['v'], ['ohs'], [[1.0, 0.0]])


def test_save_and_load_round_trip(tmp_path, mixed):
    paths = save_predictions(mixed, tmp_path/'p'/'test.csv')
    assert [p.suffix for p in paths][0] == '.csv'
    for p in paths: pd.testing.assert_frame_equal(load_predictions(p), mixed)
    broken = mixed.drop(columns='ghd')
    broken.to_csv(tmp_path/'broken.csv', index=False)
    with pytest.raises(ValueError, match="broken.csv: not a predictions table, missing columns \\['ghd'\\]"):
        load_predictions(tmp_path/'broken.csv')
    with pytest.raises(FileNotFoundError, match='no predictions table'): load_predictions(tmp_path/'none.csv')


def test_predict_table_keeps_metadata_aligned():
    batches = [{'frames': np.zeros((2, 1, 1, 1, 3)), 'label': np.array([5, 8]), 'clip_id': np.array([b'a', b'b']),
                'video': np.array([b'v1', b'v2'])},
               {'frames': np.ones((1, 1, 1, 1, 3)), 'label': np.array([2]), 'clip_id': np.array([b'c']),
                'video': np.array([b'v3'])}]
    logits = {0.0: np.eye(NUM_CLASSES)[5]*4, 1.0: np.eye(NUM_CLASSES)[2]*4}
    df = predict_table(batches, lambda f: np.stack([logits[float(x.mean())] for x in f]), progress=False)
    assert df.clip_id.tolist() == ['a', 'b', 'c'] and df.video.tolist() == ['v1', 'v2', 'v3']
    assert df.label.tolist() == ['ohs', 'thruster', 'deadlift'] and df.predicted.tolist() == ['ohs', 'ohs', 'deadlift']
    np.testing.assert_allclose(df[list(LABELS)].to_numpy(), softmax(np.stack([logits[0.0]]*2 + [logits[1.0]])))


# --- metrics -----------------------------------------------------------------------------------------

def test_bootstrap_is_seeded_and_brackets_the_value(mixed):
    a, b = bootstrap_intervals(mixed, 500, seed=1), bootstrap_intervals(mixed, 500, seed=1)
    pd.testing.assert_frame_equal(a, b)
    rng = np.random.default_rng(0)
    noisy = table([i % 9 for i in range(60)], rng.dirichlet(np.ones(NUM_CLASSES), 60))
    assert not bootstrap_intervals(noisy, 200, seed=1).equals(bootstrap_intervals(noisy, 200, seed=2))
    assert ((a.boot_low <= a.value) & (a.value <= a.boot_high)).all()
    assert np.isnan(a.loc['balanced accuracy', 'wilson_low'])
    assert np.isnan(bootstrap_intervals(mixed, 0).boot_low).all()


def test_wilson_interval_for_a_perfect_score():
    n = 541
    perfect = table([i % 9 for i in range(n)], [np.eye(NUM_CLASSES)[i % 9]*.91 + .01 for i in range(n)])
    ci = bootstrap_intervals(perfect, 200)
    assert ci.loc['top-1', 'boot_low'] == ci.loc['top-1', 'boot_high'] == 1.0
    # Wilson 95%: 1 / (1 + z²/n) for n successes of n
    assert ci.loc['top-1', 'wilson_low'] == pytest.approx(1/(1 + 1.959964**2/n), abs=1e-6)
    assert ci.loc['top-1', 'wilson_high'] == pytest.approx(1.0)


def test_confusion_tables(mixed):
    cm = confusion_table(mixed)
    assert cm.shape == (9, 9) and cm.to_numpy().sum() == 6
    assert cm.loc['ohs', 'thruster'] == 1 and cm.loc['ohs', 'ohs'] == 2
    cmn = confusion_table(mixed, normalize=True)
    assert cmn.loc['ohs', 'ohs'] == pytest.approx(2/3)
    np.testing.assert_allclose(cmn.dropna().sum(axis=1), 1.0)
    assert cmn.isna().all(axis=1).sum() == 6


# --- the correlation heatmap -------------------------------------------------------------------------

def test_correlation_follows_the_definition():
    "C[c, m] = Pearson corr over the clips of true movement m of P(m) and P(c), columns = true movements."
    rng = np.random.default_rng(3)
    labels = [i % 9 for i in range(72)]
    p = rng.dirichlet(np.ones(NUM_CLASSES), len(labels))
    df = table(labels, p)
    corr = correlation_table(df)
    assert corr.columns.name == 'true movement' and corr.index.name == 'probability of'
    y = np.array(labels)
    for m in range(NUM_CLASSES):
        pm = p[y == m]
        for c in range(NUM_CLASSES):
            expected = np.corrcoef(pm[:, m], pm[:, c])[0, 1]
            assert corr.iloc[c, m] == pytest.approx(expected, abs=1e-9)
    np.testing.assert_allclose(np.diag(corr), 1.0)


def test_correlation_degenerate_cases():
    const = table(['ghd']*3, [probs_row(ghd=.5, ohs=.2)]*3)              # constant P(ghd): whole column undefined
    assert correlation_table(const).isna().all().all()
    assert correlation_notes(const) == [*(f'{l}: sin clips en el conjunto de evaluación' for l in LABELS[:4]),
                                        'ghd: P(ghd) constante en sus clips',
                                        *(f'{l}: sin clips en el conjunto de evaluación' for l in LABELS[5:])]
    one = table(['ohs'], [probs_row(ohs=.7)])
    assert correlation_table(one).isna().all().all()
    assert 'ohs: un solo clip, correlación no definida' in correlation_notes(one)
    empty = table([], np.zeros((0, NUM_CLASSES)))
    assert correlation_table(empty).shape == (9, 9)


# --- confidence table and gallery --------------------------------------------------------------------

def test_confidence_table_sorted_with_absent_last(mixed):
    conf = confidence_table(mixed)
    assert conf.index[:3].tolist() == ['thruster', 'deadlift', 'ohs']
    assert conf.loc['ohs', 'mean'] == pytest.approx(np.mean([.8, .6, .3]))
    assert conf.loc['ohs', 'std'] == pytest.approx(np.std([.8, .6, .3], ddof=1))
    assert conf.loc['deadlift', 'std'] == pytest.approx(np.std([.9, .7], ddof=1))
    assert np.isnan(conf.loc['thruster', 'std']) and conf.loc['thruster', 'clips'] == 1
    assert conf.iloc[3:].clips.eq(0).all() and conf.iloc[3:]['mean'].isna().all()


def test_degenerate_split_runs_every_table(tmp_path):
    single = table(['shspu']*2, [probs_row(shspu=.9), probs_row(shspu=.9)])   # one class, constant probabilities
    res = evaluate(Config(runs_dir=tmp_path, data_dir=tmp_path/'nodata'), predictions=save_predictions(single, tmp_path/'s.csv')[0],
                   n_boot=50, progress=False)
    t = res['tables']
    assert t['metrics'].loc['balanced accuracy', 'value'] == 1.0
    assert t['correlation'].isna().all().all()
    assert {p.name for p in res['figure_files']['correlation']} == {'correlation.png', 'correlation.svg', 'correlation.html'}
    assert all(p.exists() for ps in res['figure_files'].values() for p in ps)


# --- the executed notebook and the command -----------------------------------------------------------

def _figure_cell(label, caption='Una figura', outputs=None):
    src = f'#| label: {label}\n' + (f'#| {label.split("-")[0]}-cap: "{caption}"\n' if caption else '') + 'show()'
    data = {'image/png': 'iVBOR', 'text/html': '<div/>'} if label.startswith('fig') else {'text/markdown': '|a|\n|-|\n|1|'}
    return new_code_cell(src, outputs=[new_output('display_data', data=data)] if outputs is None else outputs)


def test_check_notebook_labels(tmp_path):
    path = tmp_path/'nb.ipynb'
    cells = [new_markdown_cell('# Evaluación')] + [_figure_cell(l) for l in EVALUATION_LABELS]
    nbformat.write(new_notebook(cells=cells), path)
    assert list(check_notebook_labels(path)) == list(EVALUATION_LABELS)
    bad = [_figure_cell('fig-confusion', caption=None), _figure_cell('fig-correlation', outputs=[]),
           _figure_cell('tbl-metrics', outputs=[new_output('error', ename='KeyError', evalue='x', traceback=[])]),
           _figure_cell('fig-errors'), _figure_cell('fig-errors')]
    nbformat.write(new_notebook(cells=bad), path)
    with pytest.raises(AssertionError) as e: check_notebook_labels(path)
    msg = str(e.value)
    for part in ('fig-confusion: no fig-cap caption', 'fig-correlation: no figure in the outputs',
                 'tbl-metrics: the cell raised an error', 'fig-errors: 2 cells with this label',
                 'fig-probabilities: no cell with this label'):
        assert part in msg
    with pytest.raises(FileNotFoundError): check_notebook_labels(tmp_path/'missing.ipynb')


def test_evaluate_command_on_saved_predictions(tmp_path, mixed):
    pred_path = save_predictions(mixed, tmp_path/'preds.csv')[0]
    app = build_app()
    res = CliRunner().invoke(app, ['evaluate', '--predictions', str(pred_path), '--runs-dir', str(tmp_path/'runs'),
                                   '--data-dir', str(tmp_path/'data'), '--bootstrap', '100', '--no-figures'])
    assert res.exit_code == 0, res.output
    assert 'top-1: 0.8333' in res.output
    summary = json.loads((tmp_path/'runs'/'ci'/'tables'/'metrics.json').read_text())
    assert summary['clips'] == 6 and summary['metrics']['top-1']['value'] == pytest.approx(5/6)
    res = CliRunner().invoke(app, ['evaluate', '--model-dir', str(tmp_path/'nomodel'), '--runs-dir', str(tmp_path/'runs')])
    assert res.exit_code == 2 and 'no trained model' in res.output
