"""What a new user can run into: a study started from nothing (two teachers rendering the same data set, two students
filling the same teacher cache), killed, interrupted with Ctrl-C and resumed; quiet logs; an interrupted narrative."""
import os, signal, subprocess, sys, time
from pathlib import Path

import nbformat
import pytest

from kdfair_nb.sweep import collect_results

psutil = pytest.importorskip('psutil')
ROOT = Path(__file__).resolve().parent.parent
KDFAIR = [sys.executable, '-c', 'import sys; from kdfair_nb.study import main; sys.exit(main())']


def _default_sigint():
    # a user's Ctrl-C reaches a command whose SIGINT is in its default state; a test suite started in the background
    # (`nohup make test &`) would hand down an ignored SIGINT, which Python then keeps ignoring
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args):
    return subprocess.Popen(KDFAIR + args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, 'OMP_NUM_THREADS': '1'}, preexec_fn=_default_sigint)


def _wait_for(cond, proc, timeout=240):
    deadline = time.time() + timeout
    while not cond():
        assert proc.poll() is None, f'the process ended early: {proc.communicate()}'
        assert time.time() < deadline, 'timed out waiting'
        time.sleep(0.2)


def _sigkill_tree(proc):
    "SIGKILL `proc` as a crash would; then reap the kernels it leaves orphaned"
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.kill(); proc.communicate(timeout=30)
    for c in children:
        try: c.kill()
        except psutil.Error: pass
    psutil.wait_procs(children, timeout=10)


def test_tiny_study_killed_interrupted_and_resumed(tmp_path):
    d = tmp_path / 'study'
    args = ['study', '--preset', 'tiny', '--study-dir', str(d), '--no-narrative']
    # 1. SIGKILL during the teacher stage: nothing half-written counts as a result
    p = _start(args)
    _wait_for(lambda: len(list((d / 'teachers').glob('.tmp-*'))) == 2, p)
    time.sleep(3)  # both teacher runs are rendering the same data set, or training
    _sigkill_tree(p)
    assert collect_results(d / 'teachers', write=False).empty
    # 2. Ctrl-C during the student stage: the running runs are abandoned and leave nothing behind
    p = _start(args)
    _wait_for(lambda: list((d / 'students').glob('.tmp-*')), p)
    time.sleep(2)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (out, err)
    assert 'interrupted' in err and f"resume with: kdfair study --preset tiny --study-dir {d} --no-narrative" in err
    assert not list((d / 'students').glob('.tmp-*')) and not (d / 'students' / '_failed').exists()
    teachers = {q.parent.name: q.stat().st_mtime_ns for q in (d / 'teachers').glob('*/metrics.json')}
    assert len(teachers) == 2 and not list((d / 'teachers').glob('.tmp-*'))
    # 3. the rerun trains only what is missing, and its log is one line per stage and per run
    p = _start(args)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, (out, err)
    assert {q.parent.name: q.stat().st_mtime_ns for q in (d / 'teachers').glob('*/metrics.json')} == teachers
    assert 'tiny-teachers: 2 runs, 2 finished earlier, 0 to run' in err, err
    assert "study 'tiny': 4 runs (0 failed" in out
    for noise in ('WARNING', 'ERROR', '\r', 'KeyboardInterrupt', 'Traceback'): assert noise not in out + err, (noise, err)
    assert len([l for l in err.splitlines() if l.startswith('tiny-students: ')]) <= 3  # a header, and at most 2 runs
    assert len(collect_results(d / 'students', write=False)) == 2


def test_interrupted_narrative_keeps_the_last_good_page(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={'kernelspec': {'name': 'python3', 'language': 'python', 'display_name': 'Python 3'}})
    nb.cells = [nbformat.v4.new_code_cell("study_dir = ''", metadata={'tags': ['parameters']}),
                nbformat.v4.new_code_cell('import time; time.sleep(120)')]
    page = tmp_path / 'nbs' / 'study' / 'page.ipynb'; page.parent.mkdir(parents=True)
    nbformat.write(nb, page)
    before = page.read_bytes()
    code = (f"from kdfair_nb.study import run_narrative; run_narrative({str(tmp_path / 'study')!r}, "
            f"notebooks=[{str(page)!r}], root={str(ROOT)!r}, progress=False)")
    p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for(lambda: any('ipykernel' in ' '.join(c.cmdline()) for c in psutil.Process(p.pid).children(recursive=True)), p, 60)
    time.sleep(2)
    _sigkill_tree(p)
    assert page.read_bytes() == before  # the published page is the last good one, not half of a new one
    assert [q.name for q in page.parent.iterdir()] == ['page.ipynb']
