"""The literate style stays (issue 26): `scripts/check_cells.py` on the project, and on notebooks it must reject."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'scripts'))
import check_cells


def _nb(path, cells):
    "A minimal notebook whose code cells are `cells` (sources)."
    nb = {'cells': [{'cell_type': 'code', 'metadata': {}, 'outputs': [], 'execution_count': None, 'source': s}
                    for s in cells], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))


def test_the_project_keeps_one_unit_per_cell():
    "Every export cell of nbs/[0-9]*.ipynb within 60 lines, the median within 25, every public callable documented."
    problems = check_cells.check(verbose=False)
    assert not problems, '\n'.join(problems)


def test_the_check_can_fail(tmp_path):
    "A 61-line export cell, a median over 25 lines and an undocumented public function are each reported."
    nbs, lib = tmp_path / 'nbs', tmp_path / 'lib'
    nbs.mkdir(); lib.mkdir()
    long_cell = '#| export\n' + '\n'.join(f'x{i} = {i}' for i in range(61))
    _nb(nbs / '00_a.ipynb', [long_cell, '#| export\ny = 1', '# not exported\n' + 'z = 0\n' * 100])
    (lib / 'a.py').write_text("__all__ = ['f', 'g', 'C']\ndef f():\n    'documented'\ndef g(): pass\nclass C: pass\n")
    probs = check_cells.check(nbs, lib, verbose=False)
    assert any('export cell of 61 lines' in p for p in probs), probs
    assert any('median export cell 31 lines' in p for p in probs), probs   # median of 61 and 1
    assert sorted(p for p in probs if 'docstring' in p) == ['a.py: public `C` has no docstring',
                                                           'a.py: public `g` has no docstring'], probs
    assert check_cells.cell_lines('#| export\n#| hide\na = 1\n\n') == 1   # directives and trailing blanks not counted
    r = subprocess.run([sys.executable, str(ROOT / 'scripts' / 'check_cells.py'), '--nbs', str(nbs), '--lib', str(lib)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and 'literate style:' in r.stdout, r.stdout
