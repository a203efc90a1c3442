"""The study narrative and explorer notebooks, executed by papermill on a synthetic study folder (the layout the
real sweeps write), and the `kdfair` command's study plan."""
import json, os, shutil
from pathlib import Path

import nbformat
import pytest

from kdfair_nb.report import make_fake_study
from kdfair_nb.study import get_preset, main, run_narrative, run_study

STUDY_NBS = Path(__file__).resolve().parent.parent / 'nbs' / 'study'


@pytest.fixture(scope='module')
def fake_study(tmp_path_factory):
    d = tmp_path_factory.mktemp('fake_study')
    make_fake_study(d)
    return d


@pytest.mark.parametrize('name', ['study', 'explorer'])
def test_narrative_executes(fake_study, tmp_path, name):
    work = tmp_path / 'nbs' / 'study'; work.mkdir(parents=True)
    out = work / f'{name}.ipynb'
    shutil.copy(STUDY_NBS / f'{name}.ipynb', out)
    run_narrative(fake_study, notebooks=[out], progress=False)  # executes it in place, as `kdfair study` does
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert not errors
    injected = next(c.source for c in nb.cells if 'injected-parameters' in c.metadata.get('tags', []))
    assert f'study_dir = "{os.path.relpath(fake_study, work)}"' in injected  # no build machine's absolute path on the page
    if name == 'study':
        assert (tmp_path / 'nbs' / 'images' / 'overview.png').stat().st_size > 10_000
        text = ''.join(str(o.get('text', '')) + str(o.get('data', {}).get('text/markdown', ''))
                       for c in nb.cells for o in c.get('outputs', []))
        assert any(f': {v}' in text for v in ('reproduced', 'contradicted', 'inconclusive', 'not assessed'))  # findings
        assert 'Sanity checks the verdicts rest on' in text and ' [' in text  # with their checks and intervals
        n_png = sum('image/png' in o.get('data', {}) for c in nb.cells for o in c.get('outputs', []))
        assert n_png >= 6


def test_narrative_renders_elsewhere(fake_study, tmp_path):
    "A study's pages rendered into a folder of their own (`full`, `--study-dir`): figures and findings beside them."
    out = tmp_path / 'report'
    template = (STUDY_NBS / 'study.ipynb').read_bytes()
    done = run_narrative(fake_study, notebooks=[STUDY_NBS / 'study.ipynb'], progress=False, out_dir=out,
                         label='preset full')
    assert done == [out / 'study.ipynb'] and (STUDY_NBS / 'study.ipynb').read_bytes() == template  # template untouched
    nb = nbformat.read(out / 'study.ipynb', as_version=4)
    assert not [o for c in nb.cells for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert next(c.source for c in nb.cells if c.cell_type == 'markdown').splitlines()[0].endswith('(preset full)')
    injected = next(c.source for c in nb.cells if 'injected-parameters' in c.metadata.get('tags', []))
    assert f'study_dir = "{os.path.relpath(fake_study, out)}"' in injected and 'overview_png = "overview.png"' in injected
    assert (out / 'overview.png').stat().st_size > 10_000 and (out / 'findings.csv').stat().st_size > 100


def test_study_command_rejects_unknown_preset(capsys):
    with pytest.raises(SystemExit):
        main(['study', '--preset', 'enormous'])
    assert 'invalid choice' in capsys.readouterr().err


def test_run_study_times_its_stages_and_resumes(tmp_path):
    tiny = get_preset('tiny')  # 2 teachers render the same data set at once, 2 students fill one teacher cache
    info = run_study(tiny, tmp_path, narrative=False, progress=False)
    assert (info['runs'], info['failed'], info['skipped']) == (4, 0, 0)
    assert set(info['seconds']) == {'teachers', 'students', 'total'} and min(info['seconds'].values()) > 0
    saved = (tmp_path / 'timing.json').read_text()
    assert json.loads(saved) == {k: v for k, v in info.items() if k != 'errors'} and info['errors'] == []
    again = run_study(tiny, tmp_path, narrative=False, progress=False)  # everything finished: nothing is retrained
    assert again['skipped'] == 4 and again['seconds']['total'] < info['seconds']['total']
    assert (tmp_path / 'timing.json').read_text() == saved  # keeps the times of the call that trained
