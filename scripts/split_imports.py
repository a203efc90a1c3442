"""Hoist imports out of notebook test cells into cells of their own.

nbdev's docs processing (`nbdev-proc-nbs`) executes every cell that contains an import (anywhere in the cell), so a
test cell mixing an import with code that needs earlier, non-exported state breaks the site build. This script
moves each such import into a new cell just before, leaving exported cells alone. `--check` only reports."""
import ast, re, sys
from pathlib import Path
import nbformat

def _fix(src):
    tree = ast.parse(src)
    imps = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    others = [n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))]
    if not imps or not others: return None
    lines = src.splitlines()
    hoisted, drop = [], set()
    for n in sorted(imps, key=lambda n: n.lineno):
        seg = lines[n.lineno - 1:n.end_lineno]
        hoisted.append('\n'.join(l.strip() if i == 0 else l for i, l in enumerate(seg)))
        drop.update(range(n.lineno - 1, n.end_lineno))
    rest = []
    for i, l in enumerate(lines):
        if i in drop:
            ind = len(l) - len(l.lstrip())
            # keep a `pass` where removing the import would empty a block
            if ind: rest.append(' ' * ind + 'pass')
        else: rest.append(l)
    rest = '\n'.join(rest)
    rest = re.sub(r'^(\s*)pass\n(?=\1\S)', '', rest, flags=re.M)  # drop a pass that is not needed
    ast.parse(rest)
    directives = [l for l in src.splitlines() if l.startswith('#|')]
    return '\n'.join(directives + list(dict.fromkeys(hoisted))), rest

def main(paths, check=False):
    bad = 0
    for p in paths:
        nb = nbformat.read(p, as_version=4); new = []; changed = False
        for c in nb.cells:
            if c.cell_type == 'code' and not re.search(r'^#\|\s*export', c.source, re.M):
                try: r = _fix(c.source)
                except SyntaxError: r = None
                if r:
                    bad += 1; changed = True
                    if check: print(f"{p}: imports mixed with code:\n{c.source[:200]}\n"); new.append(c); continue
                    new.append(nbformat.v4.new_code_cell(r[0])); c.source = r[1]
            new.append(c)
        if changed and not check:
            nb.cells = new; nbformat.write(nb, p); print(f"split imports in {p}")
    return bad

if __name__ == '__main__':
    check = '--check' in sys.argv
    files = [a for a in sys.argv[1:] if not a.startswith('--')] or sorted(Path('nbs').glob('[0-9]*.ipynb')) + [Path('nbs/index.ipynb')]
    n = main(files, check)
    sys.exit(1 if check and n else 0)
