"""The literate style, measured: every `#| export` cell of the library notebooks holds one unit.

Prints, per notebook of `nbs/[0-9]*.ipynb`, the number of export cells, their median and largest size in lines, and
fails (exit 1) when an export cell is longer than `--max` lines (60), when the median export cell across all the
notebooks is longer than `--median` lines (25), or when a public callable of `kdfair_nb` (its module's `__all__`)
has no docstring. `make test` runs it; `tests/test_literate.py` checks that it can fail."""
import argparse, ast, json, statistics, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def export_cells(nb_path):
    "The source of each `#| export` / `#| exports` cell of a notebook, as a string."
    cells = json.loads(Path(nb_path).read_text())['cells']
    out = []
    for c in cells:
        src = ''.join(c['source']) if isinstance(c['source'], list) else c['source']
        first = src.lstrip().splitlines()[0] if src.strip() else ''
        if c['cell_type'] == 'code' and first.replace(' ', '') in ('#|export', '#|exports'): out.append(src)
    return out

def cell_lines(src):
    "Lines of a cell, the `#|` directives and trailing blank lines not counted."
    return len([l for l in src.rstrip().splitlines() if not l.startswith('#|')])

def undocumented(module_path):
    "Public functions and classes (`__all__`) of an exported module that have no docstring."
    tree = ast.parse(Path(module_path).read_text())
    public = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == '__all__' for t in node.targets):
            public = {e.value for e in node.value.elts}
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and n.name in public and not ast.get_docstring(n)]

def check(nbs=ROOT / 'nbs', lib=ROOT / 'kdfair_nb', max_lines=60, max_median=25, verbose=True):
    "Measure every library notebook; return the list of problems (empty when the style holds)."
    problems, every = [], []
    if verbose: print(f"{'notebook':28s} {'export cells':>12s} {'median':>7s} {'largest':>8s} {'lines':>6s}")
    for nb in sorted(Path(nbs).glob('[0-9]*.ipynb')):
        sizes = [cell_lines(s) for s in export_cells(nb)]
        if not sizes: continue
        every += sizes
        if verbose:
            print(f"{nb.stem:28s} {len(sizes):12d} {statistics.median(sizes):7.0f} {max(sizes):8d} {sum(sizes):6d}")
        problems += [f"{nb.name}: an export cell of {n} lines (limit {max_lines})" for n in sizes if n > max_lines]
    med = statistics.median(every) if every else 0
    if verbose: print(f"{'all':28s} {len(every):12d} {med:7.0f} {max(every, default=0):8d} {sum(every):6d}")
    if med > max_median: problems.append(f"median export cell {med:.0f} lines (limit {max_median})")
    for mod in sorted(Path(lib).glob('*.py')):
        problems += [f"{mod.name}: public `{n}` has no docstring" for n in undocumented(mod)]
    return problems

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--max', type=int, default=60, help='longest export cell allowed, in lines')
    ap.add_argument('--median', type=int, default=25, help='longest median export cell allowed, in lines')
    ap.add_argument('--nbs', default=str(ROOT / 'nbs'))
    ap.add_argument('--lib', default=str(ROOT / 'kdfair_nb'))
    a = ap.parse_args()
    probs = check(a.nbs, a.lib, a.max, a.median)
    for p in probs: print('literate style:', p)
    sys.exit(1 if probs else 0)
