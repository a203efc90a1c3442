"""Build the report website.

With Quarto installed: `nbdev-docs` (the Quarto site in _docs/). Offline, the same project renders with
`nbdev-proc-nbs` (nbdev's notebook processing into _proc/) and `smalldocs render` (pure Python, reads the same
_quarto.yml); the site is copied to _docs/. One build at a time (a file lock), and the new _docs/ replaces the old
one by renames, so a reader never sees half a site and a failed build leaves the last good one.

Maths: smalldocs links KaTeX from a CDN. The site must read offline, so the same KaTeX release is vendored into
`_docs/site_libs/katex/` from the npm registry (fetched once, checked against the registry's sha512, cached in
`.venv/share/`) and every page points at that copy."""
import base64, hashlib, io, os, secrets, shutil, subprocess, sys, tarfile, urllib.request
from pathlib import Path

from kdfair_nb.core import lock_for

root = Path(__file__).resolve().parent.parent
bin_ = Path(sys.executable).parent

KATEX_VERSION = '0.16.11'  # the release smalldocs links (checked against smalldocs.layout.KATEX below)
KATEX_TARBALL = f'https://registry.npmjs.org/katex/-/katex-{KATEX_VERSION}.tgz'
KATEX_SHA512 = 'RQrI8rlHY92OLf3rho/Ts8i/XvjgguEjOkO1BEXcU3N8BqPpSzBNwV/G0Ukr+P/l3ivvJUE/Fa/CwbS6HesGNQ=='  # npm's dist.integrity


def katex_dist() -> Path:
    "KaTeX's `dist/` folder, downloaded from the npm registry once (integrity-checked) and cached in the venv."
    cache = Path(sys.prefix) / 'share' / f'katex-{KATEX_VERSION}'
    if (cache / 'dist' / 'katex.min.js').is_file(): return cache / 'dist'
    data = urllib.request.urlopen(KATEX_TARBALL, timeout=60).read()
    if base64.b64encode(hashlib.sha512(data).digest()).decode() != KATEX_SHA512:
        sys.exit(f"{KATEX_TARBALL}: sha512 differs from the registry's integrity; not using it")
    tmp = cache.with_name(cache.name + f'.tmp-{secrets.token_hex(4)}')
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith('package/dist/') and m.isfile()]
        for m in members:
            m.name = m.name[len('package/'):]
        tar.extractall(tmp, members=members, filter='data')
    try: os.rename(tmp, cache)
    except OSError: shutil.rmtree(tmp, ignore_errors=True)  # another build cached it first
    return cache / 'dist'


def vendor_math(site: Path) -> int:
    "Point every page that uses maths at a local KaTeX in `site/site_libs/katex/`; returns how many pages use it."
    from smalldocs.layout import KATEX
    if f'katex@{KATEX_VERSION}/' not in KATEX: sys.exit(f"smalldocs now links {KATEX}: update KATEX_VERSION/KATEX_SHA512")
    pages = [p for p in site.rglob('*.html') if KATEX in p.read_text(encoding='utf-8')]
    if pages: shutil.copytree(katex_dist(), site / 'site_libs' / 'katex', dirs_exist_ok=True)
    for p in pages:
        rel = os.path.relpath(site / 'site_libs' / 'katex', p.parent).replace(os.sep, '/')
        p.write_text(p.read_text(encoding='utf-8').replace(KATEX, rel), encoding='utf-8')
    return len(pages)


def main(strict: bool = False) -> Path:
    with lock_for(root / '_docs'):
        return _build(strict)

# smalldocs' warnings about settings that only Quarto (nbdev-docs) reads: kept in _quarto.yml/the notebooks for it
QUARTO_ONLY = ('output-file is not read by smalldocs', 'unknown key format-links', 'format commonmark is not built',
               'format.html.keep-md is ignored')

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
    r = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    for line in (r.stdout + r.stderr).splitlines():  # the Quarto settings nbdev-docs needs are no news offline
        if not any(q in line for q in QUARTO_ONLY): print(line, file=sys.stderr)
    if r.returncode: sys.exit(f"smalldocs render failed ({r.returncode})")
    out, new = root / '_docs', root / f'._docs.new-{secrets.token_hex(4)}'
    shutil.copytree(proc / '_docs', new)
    for f in (root / 'nbs' / 'study').rglob('*.csv'):  # the full tables the study pages link, beside them
        (new / f.relative_to(root / 'nbs')).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, new / f.relative_to(root / 'nbs'))
    vendor_math(new)
    trash = root / f'._docs.old-{secrets.token_hex(4)}'
    if out.exists(): os.rename(out, trash)
    os.rename(new, out)
    shutil.rmtree(trash, ignore_errors=True)
    print(f"site written to {out}/index.html")
    return out

if __name__ == '__main__': main('--strict' in sys.argv)
