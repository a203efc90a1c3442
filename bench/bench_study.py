"""Benchmark 5: the quick study's wall time on this machine, broken down by stage and by block.

Reads what `kdfair study` recorded (`<study_dir>/timing/<preset>.json`: wall time per stage) and the per-run seconds of
the results tables; prints the breakdown and, last, the total against the 45-minute budget as a ratio.
Usage: python bench/bench_study.py [STUDY_DIR [PRESET]] (default runs/trifeature quick)."""
import json, sys
from pathlib import Path
import pandas as pd

study = Path(sys.argv[1] if len(sys.argv) > 1 else 'runs/trifeature')
preset = sys.argv[2] if len(sys.argv) > 2 else 'quick'
t = json.loads((study / 'timing' / f'{preset}.json').read_text())
print(f"study {t['preset']!r}: {t['runs']} runs, {t['failed']} failed")
for k, v in t['seconds'].items(): print(f"  {k:18s} {v / 60:6.1f} min")
for d in (study, study / 'pruning'):
    if not (d / 'students' / 'results.parquet').exists(): continue
    st = pd.read_parquet(d / 'students' / 'results.parquet')
    st = st[st.status == 'ok']
    block = st.apply(lambda r: 'pruning' if r.sparsity > 0 else 'adversary' if r.lam > 0 else
                     'temperature' if r.method == 'kd' and r['T'] != 4 else 'methods', axis=1)
    by = st.groupby(block).seconds.agg(['count', 'sum', 'median'])
    by['sum'] /= 60
    print(f"{d.name}: student runs by block (count, summed run minutes, median seconds per run):")
    print(by.round(1).to_string())
    te = pd.read_parquet(d / 'teachers' / 'results.parquet')
    print(f"{d.name}: teacher runs: {len(te)}, median {te.seconds.median():.0f} s each")
print(f"total / 45-minute budget: {t['seconds']['total'] / 2700:.2f}")
