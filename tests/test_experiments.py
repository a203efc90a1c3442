"""The experiment notebooks, run through papermill (as the sweeps run them) with tiny parameters."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kdfair_nb.data import load_splits
from kdfair_nb.models import create_kd_model
from kdfair_nb.sweep import run_experiment
from kdfair_nb.train import predict

NBS = Path(__file__).resolve().parent.parent / 'nbs' / 'experiments'
TINY = dict(n_train=400, n_valid=100, n_test=200, size=32, skew=0.8, epochs=2, bs=64, threads=1)
FIT = ('train_accuracy', 'best_epoch', 'epochs_run', 'max_epochs', 'stopped_early', 'valid_accuracy',
       'valid_mean_abs_disp', 'valid_dpd', 'valid_eod')


def _check_fit(run_dir, m):
    "Convergence facts and the validation split's metrics are recorded, with the per-epoch curves"
    assert set(FIT) <= set(m), set(FIT) - set(m)
    h = pd.read_csv(run_dir / 'history.csv')
    assert list(h.columns) == ['epoch', 'train_loss', 'valid_loss', 'valid_accuracy'] and len(h) == m['epochs_run']
    assert 1 <= m['best_epoch'] <= m['epochs_run'] <= m['max_epochs'] == 2
    assert 0 <= m['train_accuracy'] <= 1 and 0 <= m['valid_mean_abs_disp'] <= 1



@pytest.fixture(scope='module')
def teacher(tmp_path_factory):
    runs = tmp_path_factory.mktemp('teachers')
    r = run_experiment(NBS / 'train_teacher.ipynb', {**TINY, 'arch': 'cifar_resnet20'}, runs)
    assert r.ok, r.error
    return r.path


@pytest.fixture(scope='module')
def teacher_test_split(teacher):
    "The teacher run's test split, loaded as the student notebook loads it"
    cfg = json.loads((teacher / 'data.json').read_text())
    for k in ('imbalanced', 'pair'): cfg.pop(k)
    return load_splits(**cfg)[2]


def _check_model(run_dir, m, test):
    "`model.pt` is the student: loaded into a fresh model of the run's `arch`, it predicts the run's test predictions"
    model = create_kd_model(m['arch'], test.c, weights=run_dir / 'model.pt')
    got, saved = predict(model, test), pd.read_parquet(run_dir / 'predictions.parquet')
    assert list(got.columns) == list(saved.columns) and (got.idx.to_numpy() == saved.idx.to_numpy()).all()
    assert (got.pred.to_numpy() == saved.pred.to_numpy()).all()
    p = [c for c in saved.columns if c.startswith('p') and c[1:].isdigit()]
    np.testing.assert_allclose(got[p].to_numpy(), saved[p].to_numpy(), atol=1e-5)


def test_teacher_run_writes_everything(teacher):
    for f in ('model.pt', 'data.json', 'metrics.json', 'predictions.parquet', 'embeddings.npy', 'notebook.ipynb'):
        assert (teacher / f).is_file(), f
    m = json.loads((teacher / 'metrics.json').read_text())
    df = pd.read_parquet(teacher / 'predictions.parquet')
    assert len(df) == 200 and m['n'] == 200 and m['arch'] == 'cifar_resnet20'
    assert m['accuracy'] == pytest.approx((df.pred == df.y).mean())
    assert np.load(teacher / 'embeddings.npy').shape == (200, 64)
    _check_fit(teacher, m)
    h = pd.read_csv(teacher / 'history.csv')  # the weights kept are those of the epoch of lowest validation loss
    assert m['best_epoch'] == h.valid_loss.idxmin() + 1 and m['valid_accuracy'] == pytest.approx(h.valid_accuracy[m['best_epoch'] - 1])


@pytest.mark.parametrize('params', [
    dict(method='kd', lam=0.5),                               # distilled + adversary
    dict(method='ctkd'),                                      # learnable temperature
    dict(method='none', sparsity=0.5, prune_kind='structured'),  # pruned copy of the teacher, CE only
])
def test_student_runs(teacher, teacher_test_split, tmp_path, params):
    r = run_experiment(NBS / 'distill.ipynb', {**{k: TINY[k] for k in ('epochs', 'bs', 'threads')},
                                                'teacher_dir': str(teacher), **params}, tmp_path)
    assert r.ok, r.error
    m = json.loads((r.path / 'metrics.json').read_text())
    t = json.loads((teacher / 'metrics.json').read_text())
    assert m['ref_accuracy'] == pytest.approx(t['accuracy'])  # compared with the teacher it was distilled from
    assert 0 <= m['agreement'] <= 1 and -1e-6 <= m['cka'] <= 1 + 1e-6
    _check_fit(r.path, m)
    _check_model(r.path, m, teacher_test_split)
    if params.get('sparsity'):
        assert m['arch'] == 'cifar_resnet20' and m['measured_sparsity'] == pytest.approx(0.5, abs=0.05)
    else:
        assert m['arch'] == 'lenet5' and m['measured_sparsity'] == 0


def test_missing_teacher_fails_cleanly(tmp_path):
    r = run_experiment(NBS / 'distill.ipynb', {'teacher_dir': str(tmp_path / 'nope'), 'epochs': 1}, tmp_path / 'runs')
    assert r.status == 'failed' and 'no finished teacher run' in r.error
    assert (tmp_path / 'runs' / '_failed' / r.run_id / 'error.json').is_file()
