"""`bench/gpu_check.py --tiny --device cpu`: runs in a subprocess within its budget and writes every measurement of
both pairs with positive numbers, and the seed-000 CIFAR estimate consistent with them."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MEASURES = ('teacher_inference', 'teacher_train_step', 'student_train_step', 'kd_cached_step', 'kd_online_step',
            'library_student', 'library_kd_cached', 'library_kd_online', 'loader')
DECODED = {'cifar': (), 'wider': ('loader_decoded',)}  # CIFAR-100 is never decoded from files


@pytest.fixture(scope='module')
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp('gpu_check') / 'g.json'
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}  # as `make test`: no OpenMP threads spinning on a shared CPU
    p = subprocess.run([sys.executable, str(ROOT / 'bench' / 'gpu_check.py'), '--tiny', '--device', 'cpu',
                        '--budget-s', '120', '--out', str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(out.read_text()), p.stdout


def test_measurements(report):
    r, _ = report
    assert r['device'] == 'cpu' and r['precision'] == 'fp32' and r['tiny'] is True
    assert set(r['pairs']) == {'cifar', 'wider'}
    assert (r['pairs']['cifar']['teacher'], r['pairs']['cifar']['student']) == ('cifar_resnet56', 'cifar_resnet20')
    assert (r['pairs']['wider']['teacher'], r['pairs']['wider']['student']) == ('efficientnet_b3', 'efficientnet_b0')
    assert r['pairs']['cifar']['classes'] == 100 and r['pairs']['wider']['classes'] == 16
    for name, pair in r['pairs'].items():
        m = pair['measurements']
        assert tuple(m) == MEASURES + DECODED[name]
        for k, v in m.items():
            assert v['images_s'] > 0 and v['seconds'] > 0 and v['steps'] >= 1 and v['peak_mem_bytes'] > 0, (k, v)
        assert m['library_kd_cached']['precision'] == 'fp32'
        assert m['library_kd_cached']['predict_rows'] == pair['bs']
    assert r['pairs']['wider']['measurements']['loader_decoded']['workers'] >= 1  # decoded images: through workers
    assert all(p['measurements']['loader']['workers'] == 0 for p in r['pairs'].values())  # in memory: by indexing
    assert r['within_budget'] and 0 < r['elapsed_s'] <= r['budget_s']


def test_estimate_and_table(report):
    r, stdout = report
    e, c = r['seed000_cifar_estimate'], r['pairs']['cifar']['measurements']
    assert e['student_images_s'] == c['library_kd_cached']['images_s']
    assert e['seconds'] == pytest.approx(45_000 / c['teacher_inference']['images_s']
                                         + 45_000 * e['epochs'] / c['library_kd_cached']['images_s'])
    assert '| cifar | library_kd_cached (cifar_resnet20' in stdout and 'Seed-000 CIFAR run' in stdout
    assert r['device_name'] in stdout


def test_budget_skips(tmp_path):
    "A budget too small for anything: every measurement is skipped, none runs past it."
    out = tmp_path / 'g.json'
    p = subprocess.run([sys.executable, str(ROOT / 'bench' / 'gpu_check.py'), '--tiny', '--device', 'cpu',
                        '--budget-s', '0.1', '--out', str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(out.read_text())
    assert all(v == {'skipped': 'budget'} for pair in r['pairs'].values() for v in pair['measurements'].values())
    assert 'seconds' not in r['seed000_cifar_estimate']
