"""Would stopping on validation save time without changing the models? Replayed on a finished study's runs.

Every run of the embedded study trains a fixed one-cycle budget and keeps its epoch of lowest validation loss. Stopping
once the validation loss has not improved for `patience` epochs trains the same epochs up to the stop (the one-cycle
schedule is set by the budget, not by the stop), so it keeps the same model exactly when the best epoch comes before
the stop. This replays that rule on each run's `history.csv` and prints, per role and patience, the share of the epochs
that would have been trained and how many runs would keep the same model. Pruned runs (a fixed budget, their last
epoch kept) are left out. No training: reads the runs only.

    python bench/bench_patience.py runs/trifeature            # after `make study`
    python bench/bench_patience.py runs/trifeature --runs     # also a line per run
"""
import argparse, json
from pathlib import Path

import pandas as pd

PATIENCES = (3, 5, 8, 10)


def stop_epoch(valid_loss, patience: int) -> tuple[int, int]:
    "(epochs trained, 1-based epoch kept) when training stops after `patience` epochs without a lower validation loss"
    best = 0
    for e in range(len(valid_loss)):
        if valid_loss[e] < valid_loss[best]: best = e
        if e - best >= patience: return e + 1, best + 1
    return len(valid_loss), best + 1


def replay(study: Path, patiences=PATIENCES) -> pd.DataFrame:
    "A row per unpruned run of `study` (teachers/ and students/): its budget, best epoch, and each patience's stop."
    rows = []
    for hist in sorted(study.glob('*/*/history.csv')):
        run = hist.parent
        params = json.loads((run / 'params.json').read_text()) if (run / 'params.json').exists() else {}
        if (params.get('sparsity') or 0) > 0: continue
        v = pd.read_csv(hist).valid_loss.to_numpy()
        best = int(v.argmin()) + 1
        r = dict(run=run.name, role=run.parent.name, epochs=len(v), best=best)
        for p in patiences:
            r[f'stop{p}'], kept = stop_epoch(v, p)
            r[f'same{p}'] = kept == best
        rows.append(r)
    return pd.DataFrame(rows)


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('study', type=Path, help='a study folder (runs/trifeature after make study)')
    ap.add_argument('--runs', action='store_true', help='a line per run')
    a = ap.parse_args()
    df = replay(a.study)
    if df.empty: raise SystemExit(f"no finished unpruned runs under {a.study}")
    if a.runs: print(df.to_string(index=False))
    for role, g in df.groupby('role'):
        print(f"{role}: {len(g)} runs, {g.epochs.sum()} epochs trained, best epochs {g.best.min()}-{g.best.max()}")
        for p in PATIENCES:
            print(f"  patience {p:2d}: {g[f'stop{p}'].sum() / g.epochs.sum():4.0%} of the epochs, "
                  f"the same model kept in {g[f'same{p}'].sum()} of {len(g)}")
