"""`pip install kdfair-nb`, then `kdfair study` and `kdfair sweep` from a folder that is not a checkout.

The wheel is built from this checkout and installed (without dependencies) into a fresh virtual environment whose
heavy dependencies come from the project's `.venv` through a `.pth` file; everything then runs from a temporary
folder, with the notebooks the wheel carries."""
import json, os, shutil, subprocess, sys, sysconfig, textwrap
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(cmd, cwd, env, timeout=600):
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def venv_bin(py: Path) -> Path:
    return py.parent


def _tree(folder: Path) -> set:
    return {str(p.relative_to(folder)) for p in folder.rglob('*') if '__pycache__' not in p.parts}


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    "A fresh venv with the wheel of this checkout installed: (its python, its kdfair_nb folder, the environment)."
    tmp = tmp_path_factory.mktemp('wheel')
    # built from a copy of the sources: setuptools' build/ folder in a checkout can hold modules deleted since
    src = tmp / 'src'
    shutil.copytree(ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        '.venv', '.git', '_docs', '_proc', 'runs', 'build', '*.egg-info', '.artefacts', '__pycache__', '._docs*'))
    _run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '--no-build-isolation', '-w', tmp / 'dist', src],
         cwd=tmp, env=os.environ)
    wheel = next((tmp / 'dist').glob('kdfair_nb-*.whl'))
    venv = tmp / 'venv'
    _run([sys.executable, '-m', 'venv', '--without-pip', venv], cwd=tmp, env=os.environ)
    py = venv / 'bin' / 'python'
    purelib = Path(_run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], tmp, os.environ).stdout.strip())
    # the project's dependencies (torch, fastai, pip itself...), after the venv's own site-packages
    (purelib / '_kdfair_deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    # nbconvert's templates are data files of the dependency (installed beside it by a real `pip install`); only
    # they are made visible: not the project's kernelspec, so the kernels run the venv's own python and the wheel
    share = tmp / 'share'; share.mkdir()
    (share / 'nbconvert').symlink_to(Path(sys.prefix) / 'share' / 'jupyter' / 'nbconvert')
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env['PATH']}", OMP_NUM_THREADS='1', JUPYTER_PATH=str(share))
    _run([py, '-m', 'pip', 'install', '-q', '--no-deps', '--no-index', wheel], cwd=tmp, env=env)
    pkg = Path(_run([py, '-c', 'import kdfair_nb; print(kdfair_nb.__file__)'], tmp, env).stdout.strip()).parent
    assert pkg.is_relative_to(purelib), f"kdfair_nb imported from {pkg}, not from the wheel"
    kernel = _run([py, '-c', 'from jupyter_client.kernelspec import KernelSpecManager as K; '
                             'print(K().get_kernel_spec("python3").argv[0])'], tmp, env).stdout.strip()
    assert kernel in (str(py), 'python'), f"the notebooks would run in {kernel}, not in the venv"
    return py, pkg, env, tmp


def test_wheel_carries_the_notebooks(installed):
    py, pkg, env, tmp = installed
    names = {p.relative_to(pkg / 'notebooks').as_posix() for p in (pkg / 'notebooks').rglob('*.ipynb')}
    assert names == {'experiments/distill.ipynb', 'experiments/train_teacher.ipynb', 'study/study.ipynb',
                     'study/explorer.ipynb'}
    page = json.loads((pkg / 'notebooks' / 'study' / 'study.ipynb').read_text())
    assert not any(c.get('outputs') for c in page['cells'])  # templates: no outputs of the committed run
    assert not any('injected-parameters' in c['metadata'].get('tags', []) for c in page['cells'])
    r = _run([venv_bin(py) / 'kdfair', '--version'], tmp, env)
    assert r.stdout.startswith('kdfair ')
    r = _run([venv_bin(py) / 'kdfair', 'study', '--help'], tmp, env)
    assert all(f'  {p} ' in r.stdout for p in ('quick', 'full', 'tiny')) and 'on 2 cores' in r.stdout


def test_study_and_sweep_outside_a_checkout(installed):
    py, pkg, env, tmp = installed
    work = tmp / 'project'; work.mkdir()  # a user's own folder: no nbs/ anywhere above it
    before = _tree(pkg)
    _run([venv_bin(py) / 'kdfair', 'study', '--preset', 'tiny', '--study-dir', 'mystudy'], work, env)
    study = work / 'mystudy'
    assert (study / 'students' / 'results.parquet').is_file()
    info = json.loads((study / 'timing' / 'tiny.json').read_text())  # the time of each stage, for the README
    assert (info['preset'], info['runs'], info['failed'], info['skipped']) == ('tiny', 4, 0, 0)
    assert set(info['seconds']) == {'teachers', 'students', 'narrative', 'total'} and min(info['seconds'].values()) > 0
    for page in ('study', 'explorer'):
        nb = json.loads((study / 'report' / f'{page}.ipynb').read_text())
        assert not [o for c in nb['cells'] for o in c.get('outputs', []) if o.get('output_type') == 'error']
        html = (study / 'report' / f'{page}.html').read_text()
        assert 'data:image/png;base64' in html and '(preset tiny)' in html
        injected = next(''.join(c['source']) for c in nb['cells'] if 'injected-parameters' in c['metadata'].get('tags', []))
        assert 'study_dir = ".."' in injected  # relative: the report folder moves with its study
    assert (study / 'report' / 'findings.csv').is_file() and (study / 'report' / 'overview.png').is_file()
    # run again: every run finished, nothing is retrained, and timing/tiny.json keeps the times of the call that trained
    saved = (study / 'timing' / 'tiny.json').read_text()
    r = _run([venv_bin(py) / 'kdfair', 'study', '--preset', 'tiny', '--study-dir', 'mystudy', '--no-narrative'], work, env)
    assert '4 finished earlier and skipped' in r.stdout and (study / 'timing' / 'tiny.json').read_text() == saved
    # a one-point sweep of the installed teacher notebook, named as under nbs/
    (work / 'sweep.yaml').write_text(textwrap.dedent("""\
        notebook: experiments/train_teacher.ipynb
        runs_dir: sweep_runs
        base: {arch: cifar_resnet20, n_train: 200, n_valid: 50, n_test: 100, epochs: 1, bs: 64, threads: 1,
               cache_dir: cache}
        grid: {seed: [0]}
        """))
    _run([venv_bin(py) / 'kdfair', 'sweep', 'sweep.yaml'], work, env)
    res = pd.read_csv(work / 'sweep_runs' / 'results.csv')
    assert len(res) == 1 and (res.status == 'ok').all()
    assert _tree(pkg) == before  # nothing written into site-packages
