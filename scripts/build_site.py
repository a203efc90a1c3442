"""Build the report website.

With Quarto installed: `nbdev-docs` (the Quarto site in _docs/). Offline, the same project renders with
`nbdev-proc-nbs` (nbdev's notebook processing into _proc/) and `smalldocs render` (pure Python, reads the same
_quarto.yml); the site is copied to _docs/. One build at a time (a file lock), and the new _docs/ replaces the old
one by renames, so a reader never sees half a site and a failed build leaves the last good one."""
import os, secrets, shutil, subprocess, sys
from pathlib import Path

from kdfair_nb.core import lock_for

root = Path(__file__).resolve().parent.parent
bin_ = Path(sys.executable).parent

def main(strict: bool = False) -> Path:
    with lock_for(root / '_docs'):
        return _build(strict)

def _build(strict: bool) -> Path:
    if shutil.which('quarto'):
        subprocess.run([str(bin_ / 'nbdev-docs')], check=True, cwd=root)
        return root / '_docs'
    # nbdev-proc-nbs, minus its attempt to download and install Quarto (which needs sudo and the internet)
    code = ("import nbdev.quarto as q; q._ensure_quarto = lambda: None; q.nbdev_proc_nbs.__wrapped__()")
    subprocess.run([sys.executable, '-c', code], check=True, cwd=root)
    proc = root / '_proc'
    for extra in ('images',):  # figures referenced by pages
        if (root / 'nbs' / extra).is_dir(): shutil.copytree(root / 'nbs' / extra, proc / extra, dirs_exist_ok=True)
    cmd = [str(bin_ / 'smalldocs'), 'render', str(proc)] + (['--strict'] if strict else [])
    r = subprocess.run(cmd, cwd=root)
    if r.returncode: sys.exit(f"smalldocs render failed ({r.returncode})")
    out, new = root / '_docs', root / f'._docs.new-{secrets.token_hex(4)}'
    shutil.copytree(proc / '_docs', new)
    trash = root / f'._docs.old-{secrets.token_hex(4)}'
    if out.exists(): os.rename(out, trash)
    os.rename(new, out)
    shutil.rmtree(trash, ignore_errors=True)
    print(f"site written to {out}/index.html")
    return out

if __name__ == '__main__': main('--strict' in sys.argv)
