"""`kdfair audit` at scale: R reference + R compressed runs x N samples x C classes (labels only), one process.

Prints, measured side by side in one run:
  * the whole audit (checking and aligning the tables, every section, the page built in memory): seconds and peak
    memory (resident set size of the process, which includes the generated tables), and within it the noise floors
    (`side_noise`: `noise_draws` within-class permutations per run, every run of both sides), timed again on their own;
  * per-class, per-group recall of every run: ours (one bincount, `kdfair_nb.audit.run_metrics`) vs fairlearn's
    `MetricFrame` (sklearn's per-class recall in each group), the ratio, and the largest difference (must be 0).

The issue's goal: 5 + 5 runs x 1,000,000 samples x 1,000 classes in < 60 s and < 4 GiB on 2 cores, and >= 5x
faster than MetricFrame. `--scale 0.01` runs the same at 1% of the samples (a quick check).
    python bench/bench_audit.py                 # full size (~1-2 min of CPU, 2 cores)
    python bench/bench_audit.py --scale 0.01    # small
    python bench/bench_audit.py --files         # from Parquet files (reading timed)
    python bench/bench_audit.py --dask 50000000 # bigger than memory: Parquet files on disk, audited by `audit_dask`

`--dask N` writes 5 + 5 sorted Parquet files of N samples (labels only) chunk by chunk (never all in memory), audits
them with `kdfair_nb.audit.audit_dask` (Dask's threads, chunks of `--partition-rows`) and prints its time and peak
memory beside what the in-memory audit would need to hold; `--dask-check N` also runs the in-memory audit on the same
files and checks that every number is equal."""
import argparse, os, resource, time, warnings

os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
import pandas as pd


def rss_gib() -> float:
    "Peak resident set size of this process so far, GiB (Linux reports KiB)."
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def make_runs(n, C, runs, seed=0, hurt_class=3):
    "Labels-only planted tables: reference right with p = 0.8; compressed the same except class `hurt_class` of group 1."
    rng = np.random.default_rng(seed)
    y = rng.integers(0, C, n).astype(np.int32)
    a = (rng.random(n) < 0.5).astype(np.int8)
    ids = np.arange(n)
    def draw(acc):
        ok = rng.random(n) < acc
        return np.where(ok, y, (y + rng.integers(1, C, n)) % C).astype(np.int32)
    acc_c = np.full(n, 0.8); acc_c[(y == hurt_class) & (a == 1)] = 0.3
    ref = [pd.DataFrame({'id': ids, 'y': y, 'a': a, 'pred': draw(0.8)}) for _ in range(runs)]
    cmp_ = [pd.DataFrame({'id': ids, 'y': y, 'a': a, 'pred': draw(acc_c)}) for _ in range(runs)]
    return ref, cmp_


def ours_recall(data, side):
    "Per-run per-group per-class recall `(R, 2, C)` as the audit computes it (groups' confusions from one bincount)."
    from kdfair_nb.audit import run_metrics
    M = run_metrics(data, side)['conf'][:, :2]                      # (R, 2, C, C)
    tp, support = np.diagonal(M, axis1=-2, axis2=-1), M.sum(-1)
    with np.errstate(all='ignore'): return np.where(support > 0, tp / np.maximum(support, 1), np.nan)


def fairlearn_recall(y, preds, a, C):
    "The same with fairlearn's MetricFrame (sklearn's per-class recall by group), run by run."
    import fairlearn.metrics as flm
    from sklearn.metrics import recall_score
    f = lambda t, p: recall_score(t, p, labels=np.arange(C), average=None, zero_division=np.nan)
    out = []
    for p in preds:
        bg = flm.MetricFrame(metrics=f, y_true=y, y_pred=p, sensitive_features=a).by_group
        out.append(np.stack([np.asarray(bg.loc[g], np.float64) for g in (0, 1)]))
    return np.stack(out)


def write_runs(folder, n, C, runs, rows=1_000_000, seed=0, hurt_class=3):
    "`make_runs`' planted tables as sorted Parquet files, written `rows` samples at a time (one row group each)."
    import pyarrow as pa, pyarrow.parquet as pq
    writers = {}
    for side in ('teacher', 'student'):
        for r in range(runs): writers[side, r] = None
    for lo in range(0, n, rows):
        m = min(rows, n - lo)
        ref, cmp_ = make_runs(m, C, runs, seed=seed * 100_003 + lo // rows, hurt_class=hurt_class)
        for side, dfs in (('teacher', ref), ('student', cmp_)):
            for r, df in enumerate(dfs):
                df['id'] += lo
                t = pa.Table.from_pandas(df, preserve_index=False)
                if writers[side, r] is None: writers[side, r] = pq.ParquetWriter(f"{folder}/{side}_seed{r}.parquet", t.schema)
                writers[side, r].write_table(t)
    for w in writers.values(): w.close()
    return f"{folder}/teacher_seed*.parquet", f"{folder}/student_seed*.parquet"


def bench_dask(a, n, check: bool):
    import tempfile
    import kdfair_nb.audit as A
    folder = tempfile.mkdtemp(dir=a.tmp)
    t = time.perf_counter()
    spec_ref, spec_cmp = write_runs(folder, n, a.classes, a.runs)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print(f"write {2 * a.runs} sorted Parquet files of {n:,} samples: {time.perf_counter() - t:.1f} s, {size / 2**30:.2f} GiB on disk")
    rss0 = rss_gib()
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        res = A.audit_dask(spec_ref, {'kd': spec_cmp}, n_resamples=a.n_resamples, partition_rows=a.partition_rows)
    t_dask = time.perf_counter() - t
    need = 2 * a.runs * n * 8 * 2 / 2**30     # int64 predictions of every run, twice (the tables and the aligned arrays)
    print(f"audit_dask ({res.inputs['executor']}): {t_dask:.1f} s; peak RSS {rss_gib():.2f} GiB (before {rss0:.2f}); "
          f"the in-memory audit would hold >= {need:.1f} GiB of predictions")
    print(f"  found: classes hurt (BH) {res.classes['kd'].index[res.classes['kd']['hurt']].tolist()[:5]}, "
          f"accuracy change {res.summary.loc['kd', 'accuracy_change']:+.3f} pt, CIEs {res.exemplars['kd']['n']:,}")
    if check:
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            mem = A.audit(spec_ref, {'kd': spec_cmp}, n_resamples=a.n_resamples)
        t_mem = time.perf_counter() - t
        same = (res.summary.drop(columns='runs').round(12).equals(mem.summary.drop(columns='runs').round(12))
                and res.classes['kd'].round(12).equals(mem.classes['kd'].round(12)))
        print(f"RATIOS: audit_dask / in-memory audit {t_dask / t_mem:.2f}x ({t_dask:.1f} s vs {t_mem:.1f} s); numbers equal: {same}")
    else:
        print(f"RATIOS: audit_dask {n / t_dask / 1e6:.2f} M samples/s ({2 * a.runs} runs); peak RSS {rss_gib():.2f} GiB vs "
              f">= {need:.1f} GiB in memory")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=1_000_000)
    ap.add_argument('--classes', type=int, default=1000)
    ap.add_argument('--runs', type=int, default=5, help='runs per side')
    ap.add_argument('--scale', type=float, default=1.0, help='multiplies --n')
    ap.add_argument('--n-resamples', type=int, default=1000)
    ap.add_argument('--files', action='store_true',
                    help='write the runs as Parquet files and audit from the globs (times reading too)')
    ap.add_argument('--fairlearn-runs', type=int, default=2,
                    help='runs timed with MetricFrame (ours is timed on the same runs; all runs take minutes at full size)')
    ap.add_argument('--dask', type=int, default=0, metavar='N', help='bigger than memory: audit_dask on N-sample files')
    ap.add_argument('--dask-check', type=int, default=0, metavar='N', help='audit_dask vs the in-memory audit on N-sample files')
    ap.add_argument('--partition-rows', type=int, default=2_000_000)
    ap.add_argument('--tmp', default=None, help='folder for the generated files (default: the system temp folder)')
    a = ap.parse_args()
    if a.dask or a.dask_check:
        print(f"load average {os.getloadavg()[0]:.2f}; {a.runs} + {a.runs} runs x {a.classes} classes (labels only)")
        return bench_dask(a, a.dask or a.dask_check, check=bool(a.dask_check))
    n = max(1000, int(a.n * a.scale))
    print(f"load average {os.getloadavg()[0]:.2f}; {a.runs} + {a.runs} runs x {n:,} samples x {a.classes} classes "
          f"(labels only), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")
    t = time.perf_counter()
    ref, cmp_ = make_runs(n, a.classes, a.runs)
    print(f"generate the tables: {time.perf_counter() - t:.1f} s, peak RSS {rss_gib():.2f} GiB")
    import kdfair_nb.audit as A                                         # no torch: measured below
    import sys
    assert 'torch' not in sys.modules, "kdfair_nb.audit imported torch"
    import tempfile
    tmp = tempfile.TemporaryDirectory()
    spec_ref, spec_cmp = ref, cmp_
    if a.files:
        t = time.perf_counter()
        for side, runs in (('teacher', ref), ('student', cmp_)):
            for s, df in enumerate(runs): df.to_parquet(f"{tmp.name}/{side}_seed{s}.parquet", index=False)
        spec_ref, spec_cmp = f"{tmp.name}/teacher_seed*.parquet", f"{tmp.name}/student_seed*.parquet"
        del ref, cmp_
        print(f"write {2 * a.runs} Parquet files: {time.perf_counter() - t:.1f} s (the audit below reads them)")
    rss0 = rss_gib()
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        res = A.audit(spec_ref, {'kd': spec_cmp}, n_resamples=a.n_resamples)
    t_audit = time.perf_counter() - t
    t = time.perf_counter()
    page = A._page(res)
    t_page = time.perf_counter() - t
    print(f"audit ({'read + ' if a.files else ''}check + align + every section): {t_audit:.1f} s; page in memory: {t_page:.1f} s ({len(page) / 1e6:.1f} MB); "
          f"peak RSS {rss_gib():.2f} GiB (before the audit {rss0:.2f} GiB)")
    s, ex, ct = res.summary, res.exemplars['kd'], res.classes['kd']
    print(f"  found: classes hurt beyond noise {ct.index[ct['hurt']].tolist()[:5]}, |disparity| worse beyond noise "
          f"{ct.index[ct['disp_worse']].tolist()[:5]}, accuracy change {s.loc['kd', 'accuracy_change']:+.3f} pt "
          f"({s.loc['kd', 'accuracy_verdict']}), CIEs {ex['n']:,} (p_null {ex['p_null']:.2f}), concentrated in "
          f"{ex['by_class'].index[ex['by_class']['concentrated']].tolist()[:5]}")
    print(f"  mean |disparity| {s.loc['reference', 'mean_abs_disp']:.4f} / {s.loc['kd', 'mean_abs_disp']:.4f} vs noise floor "
          f"{s.loc['reference', 'mean_abs_disp_noise']:.4f} / {s.loc['kd', 'mean_abs_disp_noise']:.4f}; RMS disparity corrected "
          f"{s.loc['reference', 'disp_rms_corr']:.4f} / {s.loc['kd', 'disp_rms_corr']:.4f} (reference / kd)")
    t = time.perf_counter()
    for m in res.metrics.values(): A.side_noise(m['conf'], res.noise_draws)
    t_noise = time.perf_counter() - t
    print(f"  noise floors alone (again): {t_noise:.1f} s for {2 * a.runs} runs x {res.noise_draws} draws")
    d = res.data
    k = min(a.fairlearn_runs, a.runs)
    sub = A.Side('sub', np.concatenate([d.reference.pred[:k], d.compressed['kd'].pred[:k]]), None,
                 [str(i) for i in range(2 * k)], [None] * (2 * k))
    t = time.perf_counter()
    ours = ours_recall(d, sub)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    fl = fairlearn_recall(d.y, sub.pred, d.a, d.n_classes)
    t_fl = time.perf_counter() - t
    same = np.array_equal(np.isnan(ours), np.isnan(fl))
    diff = float(np.nanmax(np.abs(ours - fl)))
    print(f"per-class per-group recall of {2 * k} runs (k = {k} per side): ours {t_ours:.2f} s, fairlearn MetricFrame {t_fl:.2f} s; "
          f"max |difference| {diff:.1e}, NaN pattern equal: {same}")
    print(f"RATIOS: audit {t_audit:.1f} s (goal < 60 s; noise floors {t_noise / t_audit:.0%} of it); peak RSS {rss_gib():.2f} GiB (goal < 4); "
          f"per-class per-group recall {t_fl / t_ours:.1f}x faster than MetricFrame (goal >= 5x); numbers equal: "
          f"{same and diff == 0}")


if __name__ == '__main__':
    main()
