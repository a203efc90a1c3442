"Sweeps end to end: papermill runs of the toy notebook, progress lines, resume, failures, kill-resume, validation, dask, CLI."
import contextlib, io, json, os, re, shutil, signal, subprocess, sys, time
from pathlib import Path

import pandas as pd
import pytest

from kdfair_nb.sweep import (SweepConfigError, collect_results, plan_sweep, run_id, run_sweep, sweep_main, _defaults)

TOY = Path(__file__).parent/'fixtures'/'toy_experiment.ipynb'


def _cfg(runs_dir, counter, **kw):
    return {'notebook': str(TOY), 'runs_dir': str(runs_dir), 'base': {'counter': str(counter)},
            'grid': {'x': [1, 2], 'y': [0.5, 2]}, **kw}


def _lines(counter):
    return Path(counter).read_text().splitlines() if Path(counter).exists() else []


@pytest.fixture(scope='module')
def local_run(tmp_path_factory):
    "The 2x2 toy grid, run once locally (sequentially) for the tests of this module, with its progress lines"
    tmp = tmp_path_factory.mktemp('local')
    cfg = _cfg(tmp/'runs', tmp/'counter.txt')
    with contextlib.redirect_stderr(io.StringIO()) as err:  # not a terminal: a line per finished run
        df = run_sweep(cfg)
    return cfg, df, err.getvalue()


@pytest.fixture(scope='module')
def local(local_run): return local_run[:2]


def _seconds(n, unit): return float(n) * {'s': 1, 'min': 60, 'h': 3600}[unit]


def test_progress_lines_say_time_left(local_run):
    "Each run's line estimates the time left: mean run time x runs left (one at a time); none after the last run"
    lines = [l for l in local_run[2].splitlines() if re.search(r': \d/4 run ', l)]
    assert len(lines) == 4, local_run[2]
    took = []
    for i, l in enumerate(lines, 1):
        m = re.search(r' ok in (\d+) s(?:; about ([\d.]+) (s|min|h) left)?$', l)
        assert m and l.startswith(f"toy_experiment: {i}/4 run "), l
        took.append(int(m[1]))
        if i == 4: assert m[2] is None, l
        else:
            want, unit = sum(took) / i * (4 - i), m[3]
            tol = 0.5 * (4 - i) + (0.5 if unit == 's' else 30 if unit == 'min' else 180)  # run times and estimate rounded
            assert m[2] and abs(_seconds(m[2], unit) - want) <= tol, (l, want)


def test_grid_runs_four_rows(local):
    cfg, df = local
    runs = Path(cfg['runs_dir'])
    assert len(df) == 4 and (df.status == 'ok').all()
    assert sorted(zip(df.x, df.y)) == [(1, 0.5), (1, 2.0), (2, 0.5), (2, 2.0)]
    assert (df.score == df.x * df.y + df.seed).all()  # seed: the notebook's default, filled in
    assert (df.fail == False).all() and df.error.isna().all()  # noqa: E712
    assert len(_lines(cfg['base']['counter'])) == 4
    for rid in df.run_id:
        assert {p.name for p in (runs/rid).iterdir()} >= {'metrics.json', 'params.json', 'notebook.ipynb',
                                                          'predictions.parquet', 'run.json'}
    assert not list(runs.glob('.tmp-*')) and not (runs/'_failed').exists()
    on_disk = pd.read_parquet(runs/'results.parquet')
    pd.testing.assert_frame_equal(on_disk, df, check_dtype=False)
    assert len(pd.read_csv(runs/'results.csv')) == 4


def test_rerun_skips_finished(local):
    cfg, df = local
    runs = Path(cfg['runs_dir'])
    stamps = {p: p.stat().st_mtime_ns for p in runs.glob('*/metrics.json')}
    t0 = time.time()
    df2 = run_sweep(cfg, progress=False)
    assert time.time() - t0 < 5  # no kernel was started
    assert len(_lines(cfg['base']['counter'])) == 4  # no notebook executed
    assert {p: p.stat().st_mtime_ns for p in runs.glob('*/metrics.json')} == stamps
    pd.testing.assert_frame_equal(df2, df)


def test_failure_recorded_and_sweep_goes_on(tmp_path):
    counter = tmp_path/'counter.txt'
    cfg = _cfg(tmp_path/'runs', counter, grid={'x': [1], 'fail': [False, True]})
    df = run_sweep(cfg, workers=2, progress=False)  # two runs at once (thread pool)
    assert len(df) == 2
    ok, bad = df[df.status == 'ok'].iloc[0], df[df.status == 'failed'].iloc[0]
    assert ok.score == 0.5 and not ok.fail and pd.isna(ok.error)
    assert bad.fail and bad.error == 'ValueError: toy failure requested (x=1)' and pd.isna(bad.score)
    fdir = tmp_path/'runs'/'_failed'/bad.run_id
    err = json.loads((fdir/'error.json').read_text())
    assert err['type'] == 'ValueError' and 'raise ValueError' in err['cell_source'] and err['traceback']
    executed = json.loads((fdir/'notebook.ipynb').read_text())
    assert any(o.get('ename') == 'ValueError' for c in executed['cells'] for o in c.get('outputs', []))
    assert json.loads((fdir/'params.json').read_text()) == {**_defaults(TOY), 'counter': str(counter), 'x': 1, 'fail': True}
    assert not (tmp_path/'runs'/bad.run_id).exists()
    # a re-run retries only the failed run (and the CLI reports it with exit status 1)
    cfg_path = tmp_path/'sweep.yaml'
    cfg_path.write_text(json.dumps(cfg))  # JSON is YAML
    assert sweep_main([str(cfg_path), '--no-progress']) == 1
    assert len(_lines(counter)) == 3


def test_kill_resume(tmp_path):
    "Kill a sweep process mid-run: its temporary folder never counts as a result, and the run executes again"
    psutil = pytest.importorskip('psutil')
    runs, counter = tmp_path/'runs', tmp_path/'counter.txt'
    cfg = _cfg(runs, counter, grid={'x': [7]})
    code = 'import json, sys; from kdfair_nb.sweep import run_sweep; run_sweep(json.loads(sys.argv[1]), progress=False)'
    proc = subprocess.Popen([sys.executable, '-c', code, json.dumps(cfg)], env={**os.environ, 'TOY_SLEEP': '120'},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children = []
    try:
        deadline = time.time() + 60
        while not _lines(counter):  # the notebook is now sleeping in its second cell
            assert proc.poll() is None and time.time() < deadline, 'the sweep did not start its run'
            time.sleep(0.2)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None: proc.kill()
        psutil.wait_procs(children, timeout=10)  # the orphaned kernel notices its parent died and exits
        for c in children:
            if c.is_running(): c.kill()
    rid = run_id(TOY, {**_defaults(TOY), 'counter': str(counter), 'x': 7})
    assert [p.name.startswith(f'.tmp-{rid}-') for p in runs.iterdir()] == [True]
    assert len(collect_results(runs, write=False)) == 0
    assert plan_sweep(cfg).state(rid) == 'todo'
    df = run_sweep(cfg, progress=False)
    assert list(df.status) == ['ok'] and df.run_id.item() == rid and df.score.item() == 3.5
    assert not list(runs.glob('.tmp-*'))  # the dead run's folder was cleaned up
    assert len(_lines(counter)) == 2


@pytest.mark.parametrize('change, message', [
    ({'grid': {'x': [1], 'epochs': [2]}}, "unknown parameter 'epochs'"),
    ({'grid': {'x': [1, 'two']}}, "parameter 'x' expects int (default 1) but got str 'two'"),
    ({'grid': {'x': [1], 'fail': [0]}}, "parameter 'fail' expects bool"),
    ({'base': {'out_dir': 'x'}}, "'out_dir' is set by the sweep runner"),
    ({'grid': {'x': [1, 2], 'y': []}}, "grid parameter 'y' in grid has no values"),
    ({'exclude': [{'x': 1}, {'x': 2}]}, 'zero runs'),
    ({'exclude': [{'lr': 1}]}, "unknown parameter 'lr' (exclude)"),
    ({'notebook': 'missing.ipynb'}, 'notebook not found'),
    ({'grdi': {}}, "unknown config key(s) ['grdi']"),
])
def test_bad_input_rejected_before_running(tmp_path, change, message):
    cfg = {**_cfg(tmp_path/'runs', tmp_path/'counter.txt'), **change}
    with pytest.raises(SweepConfigError) as e: run_sweep(cfg, progress=False)
    assert message in str(e.value)
    assert not (tmp_path/'runs').exists() and not (tmp_path/'counter.txt').exists()


def test_dask_matches_local(local, tmp_path):
    cfg, df = local
    n = len(_lines(cfg['base']['counter']))
    df2 = run_sweep({**cfg, 'runs_dir': str(tmp_path/'runs')}, executor='dask', progress=False,
                    dask_kwargs={'n_workers': 1, 'threads_per_worker': 1, 'processes': False})
    assert len(_lines(cfg['base']['counter'])) == n + 4  # executed again, in the new runs_dir
    pd.testing.assert_frame_equal(df2.drop(columns='seconds'), df.drop(columns='seconds'))


def test_cli_dry_run(local, tmp_path, capsys, monkeypatch):
    cfg, df = local
    nbs = tmp_path/'proj'/'nbs'; nbs.mkdir(parents=True)
    shutil.copy(TOY, nbs/'toy_experiment.ipynb')
    (tmp_path/'proj'/'sweep.toml').write_text(
        f"notebook = 'nbs/toy_experiment.ipynb'\nruns_dir = '{cfg['runs_dir']}'\n"
        f"[base]\ncounter = '{cfg['base']['counter']}'\n[grid]\nx = [1, 2, 3]\ny = [0.5]\n")
    monkeypatch.chdir(tmp_path)  # the notebook path is relative to the config file, not to the cwd
    assert sweep_main(['proj/sweep.toml', '--dry-run']) == 0
    out = capsys.readouterr().out
    assert '3 runs: 2 done, 0 failed before, 1 to run' in out, out
    new = run_id(TOY, {**_defaults(TOY), 'counter': cfg['base']['counter'], 'x': 3, 'y': 0.5})
    assert new in out and not (Path(cfg['runs_dir'])/new).exists()
    assert len(_lines(cfg['base']['counter'])) >= 4 and new not in set(df.run_id)
    assert sweep_main(['proj/missing.yaml', '--dry-run']) == 2
    assert 'sweep config not found' in capsys.readouterr().err
    with pytest.raises(SystemExit): sweep_main(['proj/sweep.toml', '--executor', 'slurm'])
