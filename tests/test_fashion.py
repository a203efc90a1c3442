"""Coloured Fashion-MNIST (`dataset='fashion'`) through an experiment notebook, on a fixture in the real IDX format.
Never reads Debian's copy: `data_root` always names the fixture."""
import json
from pathlib import Path

import pandas as pd

from kdfair_nb.data import load_splits, write_fashion_fixture
from kdfair_nb.sweep import run_experiment

NBS = Path(__file__).resolve().parent.parent / 'nbs' / 'experiments'


def test_teacher_notebook_trains_on_fashion(tmp_path):
    root = write_fashion_fixture(tmp_path / 'fashion-mnist', n_train=300, n_test=100)
    params = dict(dataset='fashion', data_root=str(root), n_train=200, n_valid=50, n_test=100, size=32, skew=0.8,
                  arch='lenet5', epochs=2, bs=50, threads=1, cache_dir=str(tmp_path / 'cache'))
    r = run_experiment(NBS / 'train_teacher.ipynb', params, tmp_path / 'runs')
    assert r.ok, r.error
    cfg = json.loads((r.path / 'data.json').read_text())
    assert (cfg['dataset'], cfg['data_root']) == ('fashion', str(root))
    m = json.loads((r.path / 'metrics.json').read_text())
    assert m['accuracy'] > 0.5, m['accuracy']  # the fixture's classes are learnable in two epochs
    df = pd.read_parquet(r.path / 'predictions.parquet')
    assert len(df) == 100 and set(df.a) == {0, 1} and set(df.y) == set(range(10))
    # the run's data set is the one `load_splits` gives for its recorded settings (as reports re-render it)
    for k in ('imbalanced', 'pair'): cfg.pop(k)
    test = load_splits(**cfg)[2]
    assert (df.y.to_numpy() == test.y.numpy()[df.idx.to_numpy()]).all()
    assert (df.a.to_numpy() == test.a.numpy()[df.idx.to_numpy()]).all()
    assert len(list((tmp_path / 'cache').glob('fashion_*.pt'))) == 1
