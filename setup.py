"""The wheel carries the experiment and study notebooks (`nbs/experiments`, `nbs/study`) as package data in
`kdfair_nb/notebooks/`, copied from `nbs/` when the package is built — one source of truth — with their outputs and
papermill's injected parameters stripped (templates, not results). Everything else is in pyproject.toml."""
import json
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ('experiments', 'study')


def template(src: Path) -> str:
    "A notebook as a template: no outputs, execution counts or papermill metadata, no injected-parameters cell."
    nb = json.loads(src.read_text(encoding='utf-8'))
    cells = [c for c in nb['cells'] if 'injected-parameters' not in c.get('metadata', {}).get('tags', [])]
    for c in cells:
        c.get('metadata', {}).pop('papermill', None); c.get('metadata', {}).pop('execution', None)
        if c['cell_type'] == 'code': c['outputs'], c['execution_count'] = [], None
    nb['cells'] = cells
    for k in ('papermill', 'widgets'): nb.get('metadata', {}).pop(k, None)
    return json.dumps(nb, indent=1, ensure_ascii=False) + '\n'


class build_py_with_notebooks(build_py):
    def run(self):
        super().run()
        for sub in NOTEBOOKS:
            srcs = sorted((HERE / 'nbs' / sub).glob('*.ipynb'))
            if not srcs: raise SystemExit(f"setup.py: no notebooks in nbs/{sub} to package")
            out = Path(self.build_lib) / 'kdfair_nb' / 'notebooks' / sub
            out.mkdir(parents=True, exist_ok=True)
            for src in srcs: (out / src.name).write_text(template(src), encoding='utf-8')


setup(cmdclass={'build_py': build_py_with_notebooks})
