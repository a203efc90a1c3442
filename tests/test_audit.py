"""`kdfair audit` end to end on small files: planted data with a known answer, a null set, every bad input (a clear
error, status 2, nothing written), missing attribute, single runs, atomic output, the page in a headless browser, and
the README's "Audit your own model" snippet, run as written."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from browser import browse, chromium

from kdfair_nb.audit import AuditInputError, audit, audit_main, plant_audit

# The README's "Audit your own model" example, exactly as printed there (test_readme_snippet runs it).
README_SNIPPET = """\
from kdfair_nb.audit import audit
report = audit(reference='preds/teacher_seed*.parquet', compressed='preds/student_seed*.parquet')
report.to_html('audit/')
"""


def write_runs(folder: Path, tables, stem: str, fmt: str = 'parquet') -> list:
    "One file per run, the seed in the file name (the seed column dropped)."
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for t in tables:
        p = folder / f"{stem}_seed{int(t['seed'].iloc[0])}.{fmt}"
        t = t.drop(columns='seed')
        t.to_parquet(p, index=False) if fmt == 'parquet' else t.to_csv(p, index=False)
        out.append(p)
    return out


@pytest.fixture(scope='module')
def planted(tmp_path_factory):
    "Planted files: 3 + 3 runs, 1,500 samples, 6 classes; the compressed runs hurt class 2 for group B."
    d = tmp_path_factory.mktemp('planted')
    R, K = plant_audit(n=1500, n_classes=6, runs=3, hurt_class=2, hurt_acc=0.3, seed=11, probabilities=True)
    write_runs(d, R, 'teacher'); write_runs(d, K, 'student', 'csv')
    return d


def run_cli(args, capsys):
    code = audit_main([str(a) for a in args])
    err = capsys.readouterr().err
    return code, err


def test_planted_effect_found_end_to_end(planted, tmp_path, capsys):
    out = tmp_path / 'audit'
    code, err = run_cli(['--reference', planted / 'teacher_seed*.parquet', '--compressed', f"kd={planted / 'student_seed*.csv'}",
                         '--compressed', f"same={planted / 'teacher_seed*.parquet'}", '--out', out], capsys)
    assert code == 0, err
    j = json.loads((out / 'audit.json').read_text())
    same = j['compressed']['same']                                            # a second set: the reference itself
    assert same['agreement']['effect'] == 1 and same['exemplars']['n'] == 0 and same['cev_sde']['cev']['effect'] == 0
    assert {e['verdict'] for e in same['effects'].values()} == {'no change'}
    assert all(e['effect'] == 0 and e['lo'] == e['hi'] == 0 for e in same['effects'].values())
    classes = pd.DataFrame(j['compressed']['kd']['classes']).set_index('class')
    assert classes.index[classes['hurt']].tolist() == ['2']                  # flagged in that class, and only there
    assert not classes['helped'].any()
    assert classes.loc['2', 'absdisp_change_lo'] > 0                          # its disparity rise: interval above zero
    assert (classes.drop('2')['absdisp_change_lo'] <= 0).all()
    assert classes.index[classes['disp_worse']].tolist() == ['2']             # and beyond the cells' noise
    assert (classes['acc_noise'] > 0).all() and classes.loc['2', 'acc_change'] < -1.96 * classes.loc['2', 'acc_noise']
    assert abs(classes.loc['2', 'disp_cmp_corr']) > 3 * classes.loc['2', 'disp_noise_cmp']
    by_class = pd.DataFrame(j['compressed']['kd']['exemplars']['by_class']).set_index('class')
    rate = by_class['rate']                                                   # CIEs concentrate there:
    assert rate.idxmax() == '2' and rate['2'] > 2.5 * rate.drop('2').max() and by_class.loc['2', 'share'] > 0.4
    eff = j['compressed']['kd']['effects']
    assert eff['mean_abs_disp']['verdict'] == 'worse' and 'paired t' in eff['mean_abs_disp']['method']
    assert eff['disp_rms_corr']['verdict'] == 'worse' and eff['worst_group_recall']['verdict'] == 'worse'
    summary = pd.DataFrame(j['summary']).set_index('model')                   # the floors beside the raw numbers
    for k in ('mean_abs_disp', 'disp_rms', 'dpd', 'eod'): assert summary[f'{k}_noise'].notna().all()
    assert summary.loc['reference', 'disp_rms_corr'] < summary.loc['reference', 'disp_rms'] < summary.loc['kd', 'disp_rms_corr']
    assert len(j['compressed']['kd']['noise']['mean_abs_disp_noise']) == 3 and j['noise_draws'] == 200
    assert j['compressed']['kd']['seeds'] == ['0', '1', '2']                   # paired by the seeds in the file names
    assert j['compressed']['kd']['kl']['effect'] > 0                          # probabilities on both sides: KL
    ex = pd.read_csv(out / 'exemplars.csv')
    assert len(ex) == j['compressed']['kd']['exemplars']['n'] and (ex['class'] == 2).mean() > 0.4
    html = (out / 'index.html').read_text()
    assert html.count('data:image/png;base64,') == 6 and 'http://' not in html and 'https://' not in html
    assert 'worse after compression, beyond noise' in html and 'reproduced' not in html and 'inconclusive' not in html
    assert 'at least 4 runs per side are needed to flag a class' in html      # 3 + 3 runs: 9 relabellings, p >= 0.1


def test_numbers_match_fairlearn_and_sklearn(planted):
    import fairlearn.metrics as flm
    from sklearn.metrics import recall_score
    a = audit(str(planted / 'teacher_seed*.parquet'), {'kd': str(planted / 'student_seed*.csv')}, n_resamples=100)
    d = a.data
    for side, m in ((d.reference, a.metrics['reference']), (d.compressed['kd'], a.metrics['kd'])):
        for r, p in enumerate(side.pred):
            mf = flm.MetricFrame(metrics=lambda t, q: recall_score(t, q, labels=range(6), average=None, zero_division=np.nan),
                                 y_true=d.y, y_pred=p, sensitive_features=d.a).by_group
            np.testing.assert_allclose(m['disparity'][r], mf.loc[1] - mf.loc[0], atol=1e-12)
            # DPD / EOD: mean over classes of fairlearn's one-vs-rest differences
            dpd = np.mean([flm.demographic_parity_difference(d.y == c, p == c, sensitive_features=d.a) for c in range(6)])
            eod = np.mean([flm.equalized_odds_difference(d.y == c, p == c, sensitive_features=d.a) for c in range(6)])
            np.testing.assert_allclose([m['headline']['dpd'][r], m['headline']['eod'][r]], [dpd, eod], atol=1e-12)


def test_null_set_flags_nothing():
    """Reference and compressed runs are fresh draws of the same label-independent noise. One draw flags no class and
    no harm, and its CIEs (run-to-run noise) are spread over the classes; over 20 draws, classes are flagged (BH) in at most 2 (the expected share is at most alpha = 5%) and at
    most 10 of the 100 headline verdicts leave 'inconclusive' (5 expected at a 95% interval)."""
    R, K = plant_audit(n=2000, n_classes=8, runs=4, hurt_acc=None, seed=6)
    a = audit(R, K, n_resamples=200)
    c = a.classes['compressed']
    assert not c['hurt'].any() and not c['helped'].any() and not c['disp_worse'].any()
    v = a.findings[a.findings['verdict'].isin(['worse', 'better', 'no change'])]
    assert len(v) == 7 and set(v['verdict']) == {'no change'}, v[['finding', 'effect', 'lo', 'hi', 'verdict']]
    s = a.summary                                       # raw disparity at its noise floor (8 classes: up to ~30%)
    assert ((s['mean_abs_disp'] / s['mean_abs_disp_noise']).between(0.6, 1.5)).all(), s[['mean_abs_disp', 'mean_abs_disp_noise']]
    ex = a.exemplars['compressed']                                          # CIEs: run-to-run noise only, spread evenly
    assert ex['frac'] < 0.05 and ex['by_class']['rate'].max() < 3 * ex['frac']
    flagged, decided, concentrated = 0, 0, 0
    for s in range(20):
        R, K = plant_audit(n=1000, n_classes=8, runs=4, hurt_acc=None, seed=100 + s)
        a = audit(R, K, n_resamples=0)
        c = a.classes['compressed']
        flagged += bool((c['hurt'] | c['helped'] | c['disp_worse'] | c['disp_better']).any())
        decided += int(a.findings['verdict'].isin(['worse', 'better']).sum())
        ex = a.exemplars['compressed']
        concentrated += ex['n_concentrated'] > 0
        assert ex['frac'] < 0.05 and ex['by_class']['rate'].max() < 3 * ex['frac']
    assert flagged <= 3 and decided <= 14 and concentrated <= 2, (flagged, decided, concentrated)


def test_reordered_runs_give_the_same_answer(planted, tmp_path):
    shuffled = tmp_path / 'shuffled'; shuffled.mkdir()
    for i, p in enumerate(sorted(planted.glob('student_seed*.csv'))):
        pd.read_csv(p).sample(frac=1, random_state=i).to_csv(shuffled / p.name, index=False)
    a = audit(str(planted / 'teacher_seed*.parquet'), str(planted / 'student_seed*.csv'), n_resamples=100)
    b = audit(str(planted / 'teacher_seed*.parquet'), str(shuffled / 'student_seed*.csv'), n_resamples=100)
    pd.testing.assert_frame_equal(a.summary, b.summary)


def _bad_inputs(planted: Path, tmp: Path) -> dict:
    "name -> (reference glob, compressed glob, extra args, expected message fragment)."
    t0 = pd.read_parquet(planted / 'teacher_seed0.parquet')
    C = 6
    def put(name, df):
        p = tmp / name; df.to_csv(p, index=False); return p
    bad = {}
    x = t0.copy(); x.loc[10, 'id'] = 10**6
    bad['different samples'] = (put('ids.csv', x), "id 1000000 is not in")
    bad['fewer samples'] = (put('fewer.csv', t0.iloc[:-3]), 'is missing (1497 vs 1500 samples)')
    x = t0.copy(); x.loc[4, 'y'] = (x.loc[4, 'y'] + 1) % C
    bad['y differs'] = (put('y.csv', x), f"`y` differs from {planted / 'teacher_seed0.parquet'} at id 4")
    x = t0.copy(); x.loc[7, 'pred'] = C
    bad['label out of range'] = (put('range.csv', x), '`pred` = 6 at id 7 is outside the class range 0..5')
    x = t0.copy(); x.loc[9, 'p0'] = np.nan
    bad['NaN probability'] = (put('nan.csv', x), 'probability row of id 9 holds NaN')
    x = t0.copy(); x.loc[3, 'p1'] += 0.2
    bad['probabilities do not sum to 1'] = (put('sum.csv', x), 'probabilities of id 3 sum to 1.2, not 1')
    x = t0.copy(); x['a'] = np.array(['x', 'y', 'z'])[np.arange(len(x)) % 3]
    bad['three attribute values'] = (put('three.csv', x), 'give `privileged` (--privileged VALUE)')
    (tmp / 'empty.csv').write_text('')
    bad['empty file'] = (tmp / 'empty.csv', 'empty.csv: empty file')
    bad['glob matches nothing'] = (tmp / 'nothing_seed*.parquet', 'no file matches')
    return bad


BAD = ['different samples', 'fewer samples', 'y differs', 'label out of range', 'NaN probability',
       'probabilities do not sum to 1', 'three attribute values', 'empty file', 'glob matches nothing']


@pytest.mark.parametrize('case', BAD)
def test_bad_input_is_a_clear_error_and_writes_nothing(planted, tmp_path, capsys, case):
    path, msg = _bad_inputs(planted, tmp_path)[case]
    out = tmp_path / 'out'; out.mkdir()
    (out / 'keep.txt').write_text('mine')                                   # --out may hold the user's files
    ref = str(planted / 'teacher_seed*.parquet')
    if case == 'three attribute values': ref = path                        # an attribute is read from the reference
    args = ['--reference', ref, '--compressed', path, '--out', out]
    code, err = run_cli(args, capsys)
    assert code == 2 and err.startswith('kdfair audit: error: ') and msg in err, err
    assert err.count('\n') == 1                                            # one line
    assert sorted(p.name for p in out.iterdir()) == ['keep.txt']           # nothing half-written (or written at all)
    with pytest.raises(AuditInputError, match='.'):
        audit(ref, str(path))


def test_privileged_binarises_and_missing_attribute_is_skipped_with_reason(planted, tmp_path):
    R, K = plant_audit(n=900, n_classes=4, runs=2, seed=2)
    three = [t.assign(a=np.array(['x', 'y', 'z'])[np.arange(len(t)) % 3]) for t in R]
    a = audit(three, [t.assign(a=three[0]['a']) for t in K], privileged='z', n_resamples=50)
    assert a.data.groups == ['not z', 'z'] and (a.data.a == (np.arange(900) % 3 == 2)).all()
    noa = audit([t.drop(columns='a') for t in R], [t.drop(columns='a') for t in K], n_resamples=50)
    assert 'groups' in noa.skipped and 'no attribute column' in noa.skipped['groups']
    assert {'mean_abs_disp', 'dpd', 'eod'}.isdisjoint(noa.effects['compressed'])
    assert np.isfinite(noa.summary.loc['compressed', 'accuracy_change'])   # everything else still runs
    page = noa.to_html(tmp_path / 'noa')
    html = page.read_text()
    assert 'recall disparity, DPD/EOD and the per-group CIE shares are skipped: no attribute column' in html
    assert html.count('data:image/png;base64,') == 2                        # no disparity figure


def test_one_run_per_side(planted, tmp_path):
    a = audit(str(planted / 'teacher_seed0.parquet'), str(planted / 'student_seed1.csv'), n_resamples=300)
    assert 'need at least 2 runs per side (reference 1, compressed 1)' in a.skipped['ttest:compressed']
    e = a.effects['compressed']['accuracy']
    assert 'bootstrap over 1500 samples' in e['method'] and e['lo'] < e['effect'] < e['hi']
    html = a.to_html(tmp_path / 'one').read_text()
    assert 'class-wise Welch t-tests for compressed need at least 2 runs' in html and '[+0.000, +0.000]' not in html
    assert 'no run-to-run baseline: a side has one run' in html


def test_one_run_per_side_out_of_core_says_no_interval(planted, tmp_path, capsys):
    "One run per side out of core: no sample bootstrap, so each change is printed with 'no interval' and not judged."
    args = ['--reference', planted / 'teacher_seed0.parquet', '--compressed', planted / 'student_seed1.csv',
            '--out', tmp_path / 'one', '--executor', 'dask']
    code = audit_main([str(x) for x in args])
    out = capsys.readouterr().out
    assert code == 0 and ', no interval: not judged' in out and '[+0.000, +0.000]' not in out and '[–, –]' not in out, out
    j = json.loads((tmp_path / 'one' / 'audit.json').read_text())
    assert {e['verdict'] for e in j['compressed']['compressed']['effects'].values()} == {'no interval'}


def test_output_is_atomic(planted, tmp_path, monkeypatch):
    import kdfair_nb.audit as A
    a = audit(str(planted / 'teacher_seed*.parquet'), str(planted / 'student_seed*.csv'), n_resamples=50)
    out = tmp_path / 'out'
    a.to_html(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(A, 'exemplars_table', lambda self: (_ for _ in ()).throw(RuntimeError('disk on fire')))
    with pytest.raises(RuntimeError):
        a.to_html(out)                                                     # fails while building: old files intact
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_dask_executor_on_a_cluster_equals_local(planted, tmp_path, capsys):
    "`--executor dask --scheduler ADDR` on a local two-worker cluster: the same audit.json as the in-memory audit."
    from distributed import LocalCluster
    args = ['--reference', planted / 'teacher_seed*.parquet', '--compressed', f"kd={planted / 'student_seed*.csv'}",
            '--n-resamples', '50']
    assert run_cli(args + ['--out', tmp_path / 'local'], capsys)[0] == 0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        code, err = run_cli(args + ['--out', tmp_path / 'dask', '--executor', 'dask', '--partition-rows', '400',
                                    '--scheduler', cluster.scheduler_address], capsys)
        assert code == 0, err
        bad, err = run_cli(['--reference', planted / 'teacher_seed0.parquet', '--compressed', planted / 'nothing*.csv',
                            '--out', tmp_path / 'bad', '--executor', 'dask', '--scheduler', cluster.scheduler_address], capsys)
        assert bad == 2 and 'no file matches' in err and not (tmp_path / 'bad').exists()
    j, jd = (json.loads((tmp_path / o / 'audit.json').read_text()) for o in ('local', 'dask'))
    assert jd['summary'] == j['summary']                                   # noise floors and corrections included
    assert jd['findings'] == j['findings']
    assert jd['compressed']['kd']['noise'] == j['compressed']['kd']['noise'] and jd['reference']['noise'] == j['reference']['noise']
    exd, exl = jd['compressed']['kd']['exemplars'], j['compressed']['kd']['exemplars']
    pd.testing.assert_frame_equal(pd.DataFrame(exd.pop('accuracy')), pd.DataFrame(exl.pop('accuracy')), rtol=1e-12)
    assert exd == exl                                                         # the per-class CIE test too
    pd.testing.assert_frame_equal(pd.DataFrame(jd['compressed']['kd']['classes']),        # KL sums: by chunk, so to
                                  pd.DataFrame(j['compressed']['kd']['classes']), rtol=1e-12)  # rounding
    assert jd['compressed']['kd']['kl'] == pytest.approx(j['compressed']['kd']['kl'])     # probabilities, summed by chunk
    assert 'dask (4 chunks' in jd['inputs']['executor']
    ex, exd = (pd.read_csv(tmp_path / o / 'exemplars.csv').sort_values('id', ignore_index=True) for o in ('local', 'dask'))
    pd.testing.assert_frame_equal(exd, ex)


def test_readme_snippet_is_the_readmes():
    "The README's 'Audit your own model' section runs exactly README_SNIPPET (test_readme_snippet runs it)."
    readme = (Path(__file__).resolve().parent.parent / 'README.md').read_text(encoding='utf-8')
    assert '## Audit your own model' in readme, "README.md lost its 'Audit your own model' section"
    section = readme.split('## Audit your own model', 1)[1]
    block = section.split('```python\n', 1)[1].split('```', 1)[0]
    assert block == README_SNIPPET


def test_readme_snippet(tmp_path, monkeypatch):
    R, K = plant_audit(n=800, n_classes=5, runs=3, hurt_class=1, seed=4)
    write_runs(tmp_path / 'preds', R, 'teacher'); write_runs(tmp_path / 'preds', K, 'student')
    monkeypatch.chdir(tmp_path)
    exec(README_SNIPPET, {})
    assert sorted(p.name for p in (tmp_path / 'audit').iterdir()) == ['audit.json', 'exemplars.csv', 'index.html']
    j = json.loads((tmp_path / 'audit' / 'audit.json').read_text())
    assert [r['class'] for r in j['compressed']['compressed']['classes'] if r['hurt']] == ['1']


def test_console_command(planted, tmp_path):
    "`kdfair audit` through the console entry point, once it dispatches to `audit_main`."
    from kdfair_nb import study
    out = tmp_path / 'cli'
    assert study.main(['audit', '--reference', str(planted / 'teacher_seed*.parquet'), '--compressed',
                       str(planted / 'student_seed*.csv'), '--out', str(out)]) == 0
    assert (out / 'index.html').is_file()


def test_cli_classes_privileged_and_exemplar_images(tmp_path, capsys):
    "--classes names the classes, --privileged binarises a 3-valued attribute, and image paths put the CIEs on the page."
    from PIL import Image
    R, K = plant_audit(n=300, n_classes=3, runs=3, hurt_class=0, hurt_acc=0.1, seed=9)
    img = tmp_path / 'img'; img.mkdir()
    for i in range(300): Image.new('RGB', (12, 12), (i % 256, 80, 160)).save(img / f'{i}.png')
    region = np.array(['north', 'south', 'east'])[np.arange(300) % 3]
    for t in R + K: t['a'], t['path'] = region, [str(img / f'{i}.png') for i in t['id']]
    write_runs(tmp_path / 'p', R, 'ref', 'csv'); write_runs(tmp_path / 'p', K, 'cmp', 'csv')
    (tmp_path / 'classes.txt').write_text('ant\nbee\ncow\n')
    out = tmp_path / 'out'
    code, err = run_cli(['--reference', tmp_path / 'p' / 'ref_seed*.csv', '--compressed', tmp_path / 'p' / 'cmp_seed*.csv',
                         '--classes', tmp_path / 'classes.txt', '--privileged', 'east', '--out', out], capsys)
    assert code == 0, err
    j = json.loads((out / 'audit.json').read_text())
    assert j['classes'] == ['ant', 'bee', 'cow'] and j['groups'] == ['not east', 'east']
    assert [r['class'] for r in j['compressed']['compressed']['classes'] if r['hurt']] == ['ant']
    html = (out / 'index.html').read_text()
    n_thumbs = html.count('alt="exemplar ')
    assert n_thumbs == min(16, j['compressed']['compressed']['exemplars']['n']) and n_thumbs > 0
    ex = pd.read_csv(out / 'exemplars.csv')
    assert set(ex.columns) >= {'id', 'class', 'group', 'ref_mode', 'cmp_mode', 'path'} and (ex['class'] == 'ant').mean() > 0.5


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (make test installs it as root)")
def test_page_in_browser(planted, tmp_path):
    "The page renders offline in headless Chromium: not blank, and the figures (saturated colours) are visible."
    from PIL import Image
    a = audit(str(planted / 'teacher_seed*.parquet'), {'kd': str(planted / 'student_seed*.csv')}, n_resamples=100)
    page = a.to_html(tmp_path / 'page')
    page = page / 'index.html' if page.is_dir() else page
    shot = tmp_path / 'shot.png'
    r = browse(page, tmp_path, shot)  # the site's browser check: no raw maths, broken image, too-wide table, traceback
    assert not (r['raw'] or r['broken_images'] or r['wide_tables'] or r['traceback']) and r['images'] >= 3, r
    img = np.asarray(Image.open(shot).convert('RGB')).astype(float)
    assert img.shape[0] >= 2000 and img.std() > 20, "blank screenshot"
    sat = img.max(-1) - img.min(-1)
    assert (sat > 80).mean() > 0.002, "no figure visible on the audit page"
    assert (img[:40, :, 2] > 200).mean() > 0.9 and (img[:40, :, 0] < 80).mean() > 0.9   # the blue header bar


def test_cie_concentration_in_one_class_of_many(tmp_path, capsys):
    """100 classes, 5 + 5 runs, class 3 hurt for group B: the overall CIE share stays at run-to-run noise, yet the
    per-class test flags class 3 and only it, on the page and in audit.json."""
    R, K = plant_audit(n=20000, n_classes=100, runs=5, hurt_class=3, hurt_acc=0.35, seed=2)
    write_runs(tmp_path / 'p', R, 'ref'); write_runs(tmp_path / 'p', K, 'cmp')
    out = tmp_path / 'out'
    code, err = run_cli(['--reference', tmp_path / 'p' / 'ref_seed*.parquet', '--compressed', tmp_path / 'p' / 'cmp_seed*.parquet',
                         '--out', out, '--n-resamples', '50'], capsys)
    assert code == 0, err
    ex = json.loads((out / 'audit.json').read_text())['compressed']['compressed']['exemplars']
    assert ex['p_null'] > 0.05                                                  # overall: within run-to-run noise
    by_class = pd.DataFrame(ex['by_class']).set_index('class')
    assert by_class.index[by_class['concentrated']].tolist() == ['3'] and ex['n_concentrated'] == 1
    assert by_class.loc['3', 'p_null'] == 1 / 20 and by_class.loc['3', 'rate'] > by_class.loc['3', 'null_rate_max']
    assert '<b>1</b> class(es) where the CIEs concentrate beyond run-to-run noise (3)' in (out / 'index.html').read_text()
