"""The seeds' experiments as presets on real data: each real-data preset's `kdfair study --smoke` runs end to end on a
tiny copy of its data set written in the real on-disk format (only the data size differs from a real run), and the
CIFAR-100 one on a two-worker Dask cluster whose workers each offer one GPU resource, each run asking for it."""
import json
from pathlib import Path

import pandas as pd
import pytest
from distributed import LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin

from kdfair_nb.data import write_celeba_fixture, write_cifar100_fixture, write_wider_fixture
from kdfair_nb.study import PRESETS, check_study, configure, main, smoke, student_config, teacher_config
from kdfair_nb.sweep import plan_sweep

WRITERS = {'cifar100': write_cifar100_fixture, 'celeba': write_celeba_fixture, 'wider': write_wider_fixture}


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')  # the kernels (and dask's worker processes) inherit it: 2 runs on 2 cores


def _smoke_study(name, tmp_path, capsys, *extra):
    "Run `kdfair study --preset NAME --smoke` on a fixture of its data set; the study folder and the expected runs"
    data = WRITERS[PRESETS[name]['data']['dataset']](tmp_path / 'data')
    study = tmp_path / 'study'
    rc = main(['study', '--preset', name, '--data-root', str(data), '--smoke', '--study-dir', str(study), *extra])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert f"no study pages for preset '{name}-smoke'" in err and str(study / 'students' / 'results.csv') in err
    n_students = len(plan_sweep(student_config(smoke(name), study, study / 'teachers' / 'x')).runs)
    teachers, students = (pd.read_csv(study / s / 'results.csv') for s in ('teachers', 'students'))
    assert len(teachers) == 1 and len(students) == n_students and (students.status == 'ok').all()
    assert (teachers.data_root == str(data.resolve())).all() and (teachers.epochs == 1).all()
    timing = json.loads((study / 'timing' / f'{name}-smoke.json').read_text())
    assert timing['preset'] == f'{name}-smoke' and timing['runs'] == 1 + n_students and timing['failed'] == 0
    return study, teachers, students


@pytest.mark.parametrize('name', ['celeba', 'cifar100-pruning', 'wider'])
def test_preset_smoke_study(name, tmp_path, capsys):
    study, teachers, students = _smoke_study(name, tmp_path, capsys, '--workers', '2')
    p = PRESETS[name]
    data = json.loads(next((study / 'teachers').glob('*/data.json')).read_text())
    assert data['dataset'] == p['data']['dataset'] and data['imbalanced'] == p['data'].get('imbalanced', False)
    assert data['pair'] == p['teacher']['pair']
    if name == 'celeba':  # seed 000's fairness part: DPD/EOD of students at two temperatures, against the teacher
        assert sorted(students[students.method == 'kd']['T']) == [1.0, 2.0] and students.dpd.notna().all()
    elif name.startswith('cifar100-pruning'):  # seed 001: CE only at 30%, KD at 45%; CEV/SDE against the teacher
        assert sorted(zip(students.method, students.sparsity)) == [('kd', 0.45), ('none', 0.3)]
        assert (students.measured_sparsity > 0).all() and {'cev', 'sde', 'cka'} <= set(students.columns)
        assert (students.opt == 'sgd').all() and (students.views == 16).all()
    else:  # seed 002: EfficientNet-B3 -> B0 at 226 px; KD, and RKD with the adversary at lambda 0.5
        assert (teachers['metric.arch'] == 'efficientnet_b3').all() and (students.arch == 'efficientnet_b0').all()
        assert sorted(zip(students.method, students.lam)) == [('kd', 0.0), ('kd_cell', 0.0), ('kd_reweight', 0.0),  # remedies too
                                                              ('none', 0.0), ('rkd', 0.5)]
        assert students.mean_abs_disp.notna().all() and (data['size'] == 226)


class _Requests(SchedulerPlugin):
    "Records the resources each task asked for when the scheduler sent it to a worker"
    def __init__(self, scheduler): self.scheduler, self.seen = scheduler, {}
    def transition(self, key, start, finish, *args, **kwargs):
        if finish == 'processing' and key in self.scheduler.tasks:
            self.seen[key] = dict(self.scheduler.tasks[key].resource_restrictions or {})


def test_cifar100_on_dask_gpu_workers(tmp_path, capsys):
    "seed 000's CIFAR-100 preset, unchanged, on a two-worker cluster: every run asks a worker for one GPU"
    with LocalCluster(n_workers=2, threads_per_worker=1, resources={'GPU': 1}, dashboard_address=None) as cluster:  # processes: papermill runs an event loop per run
        rec = _Requests(cluster.scheduler)
        cluster.scheduler.add_plugin(rec, name='requests')
        study, teachers, students = _smoke_study('cifar100', tmp_path, capsys, '--executor', 'dask',
                                                 '--scheduler', cluster.scheduler_address)
    assert len(rec.seen) == len(teachers) + len(students) == 4
    assert all(r == {'GPU': 1} for r in rec.seen.values()), rec.seen
    # seed 000's recipe: SGD, pad-and-crop + flip views (a new one every epoch for the teacher, 16 for students)
    assert (teachers.opt == 'sgd').all() and (teachers.views == 240).all() and (students.views == 16).all()
    assert sorted(students[students.method == 'kd']['T']) == [2.0, 3.0] and (students.method == 'none').sum() == 1
    assert teachers.dpd.isna().all() and students.agreement.notna().all()  # CIFAR-100: no protected attribute
    assert (teachers.device.isna()).all()  # not set: 'auto', the worker's GPU when it has one


def test_imbalanced_pruning_preset_is_the_pruning_preset_on_imbalanced_data(tmp_path):
    """`cifar100-pruning-imbalanced` differs from `cifar100-pruning` (run end to end above) only in its data: it is
    checked against the experiment notebooks, not trained again (the suite's time budget)."""
    a, b = PRESETS['cifar100-pruning'], PRESETS['cifar100-pruning-imbalanced']
    assert {k: v for k, v in a['data'].items() if k != 'imbalanced'} == {k: v for k, v in b['data'].items() if k != 'imbalanced'}
    assert b['data']['imbalanced'] is True and not a['data'].get('imbalanced', False)
    assert a['student'] == b['student'] and a['blocks'] == b['blocks'] and a['teacher'] == b['teacher']
    root = write_cifar100_fixture(tmp_path / 'data')
    p = configure('cifar100-pruning-imbalanced', data_root=root, smoke_test=True)
    check_study(p, tmp_path / 'study')                                  # every run's parameters pass the notebooks' rules
    t = plan_sweep(teacher_config(p, tmp_path / 'study')).runs
    assert len(t) == 1
    params = t[0][1]                                                    # (run id, parameters)
    assert params['imbalanced'] is True and params['data_root'] == str(root.resolve())
