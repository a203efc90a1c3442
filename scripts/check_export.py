"""Fail when the notebooks and the exported library are out of step.

Runs `nbdev-export` and compares every module of `kdfair_nb/` before and after: a change means a notebook was
edited without exporting (or a module edited by hand, which the export would overwrite)."""
import hashlib, subprocess, sys
from pathlib import Path

lib = Path(__file__).resolve().parent.parent / 'kdfair_nb'

def snapshot():
    return {p.relative_to(lib): hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(lib.rglob('*.py'))}

before = snapshot()
subprocess.run([str(Path(sys.executable).parent / 'nbdev-export')], check=True, cwd=lib.parent)
after = snapshot()
changed = sorted(str(k) for k in before.keys() | after.keys() if before.get(k) != after.get(k))
if changed:
    sys.exit(f"nbdev-export changed {changed}: export the notebooks and commit notebook and module together")
print(f"export check: {len(after)} modules in step with nbs/")
