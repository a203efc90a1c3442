"""The study narrative and explorer notebooks, executed by papermill on a synthetic study folder (the layout the
real sweeps write), and the `kdfair` command (a whole tiny study runs in test_wheel.py, from the installed wheel)."""
import os, shutil
from pathlib import Path

import nbformat
import pytest

from kdfair_nb.testing import make_fake_study
from kdfair_nb.study import main, run_narrative

STUDY_NBS = Path(__file__).resolve().parent.parent / 'nbs' / 'study'


@pytest.fixture(scope='module')
def fake_study(tmp_path_factory):
    d = tmp_path_factory.mktemp('fake_study')
    # each student seed distils from its own teacher, as the presets do; with the remedies and a debiased teacher
    make_fake_study(d, teacher_per_seed=True, methods=('none', 'kd', 'rkd', 'ctkd', 'kdpp', 'kd_cell', 'kd_reweight'),
                    teacher_variants={'debiased': dict(seeds=(0, 1, 2), disp=0.03)})
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
        assert 'Remedy: subgroup-aware KD against plain KD' in text and 'A debiased teacher gives a debiased student (debiased)' in text
        n_png = sum('image/png' in o.get('data', {}) for c in nb.cells for o in c.get('outputs', []))
        assert n_png >= 6


def test_study_command_rejects_unknown_preset(capsys):
    with pytest.raises(SystemExit):
        main(['study', '--preset', 'enormous'])
    assert 'invalid choice' in capsys.readouterr().err


def test_nested_presets_train_only_what_the_smaller_lacks(tmp_path):
    """`full` after `quick` (here their tiny twins, sharing one study folder): the larger preset trains only the runs
    the smaller lacks, and each reads only its own runs (its plan)."""
    from kdfair_nb.study import get_preset, run_study
    from kdfair_nb.results import load_study
    small = {**get_preset('tiny'), 'name': 'tiny-quick', 'runs': 'tiny-bench'}
    big = {**get_preset('tiny'), 'name': 'tiny-full', 'runs': 'tiny-bench',
           'blocks': {'methods': {'method': ['none', 'kd'], 'seed': [0, 1]}},   # seed 1 distils from teacher 1
           # and a teacher variant: a teacher debiased by the adversarial head, distilled into a KD student
           'teacher_variants': {'debiased': {'teacher': {'lam': 1.0}, 'seeds': [0], 'students': {'method': ['kd']}}}}
    d = tmp_path / 'runs' / 'tiny-bench'
    a = run_study(small, d, narrative=False, progress=False)
    assert (a['runs'], a['skipped'], a['failed']) == (4, 0, 0)
    b = run_study(big, d, narrative=False, progress=False)
    assert (b['runs'], b['skipped'], b['failed']) == (8, 4, 0)      # 2 teachers + 2 students of the small study: skipped
    s, f = load_study(d, preset='tiny-quick'), load_study(d, preset='tiny-full')
    assert len(s.students) == 2 and len(f.students) == 4 and set(s.students.run_id) < set(f.students.run_id)
    assert len(s.variant_teachers) == 0 and len(f.teachers) == 2                  # the variant: apart from the main runs
    vt, vs = f.variant_teachers.iloc[0], f.variant_students.iloc[0]
    assert (vt.variant, vt.lam, vt.seed, vs.teacher_variant, vs.teacher_id, vs.seed) == ('debiased', 1.0, 0, 'debiased', vt.run_id, 0)
    assert sorted(f.students.drop_duplicates('seed').set_index('seed').teacher_id.map(f.teachers.set_index('run_id').seed)) == [0, 1]
