"""The report site: rendered offline (nbdev-proc-nbs + smalldocs, as `make docs`), every page and figure present,
internal links resolving, and a headless Chromium screenshot of the study page that is inspected."""
import subprocess, sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import yaml

from browser import browse, chromium

ROOT = Path(__file__).resolve().parent.parent


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__(); self.links, self.imgs = [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == 'a' and a.get('href'): self.links.append(a['href'])
        if tag == 'img' and a.get('src'): self.imgs.append(a['src'])


def _pages(cfg):
    "Notebook pages named in _quarto.yml's sidebar."
    out = []
    def walk(x):
        if isinstance(x, str) and x.endswith('.ipynb'): out.append(x)
        elif isinstance(x, dict): [walk(v) for v in x.values()]
        elif isinstance(x, list): [walk(v) for v in x]
    walk(cfg['website']['sidebar']['contents'])
    return out


@pytest.fixture(scope='module')
def site():
    subprocess.run([sys.executable, str(ROOT / 'scripts' / 'build_site.py')], check=True, cwd=ROOT)
    return ROOT / '_docs'


def _local(ref):
    u = urlparse(ref)
    return not (u.scheme or u.netloc or ref.startswith(('#', 'mailto:', 'javascript:')))


def test_every_page_figure_and_link(site):
    cfg = yaml.safe_load((ROOT / 'nbs' / '_quarto.yml').read_text())
    pages = _pages(cfg)
    assert 'study/study.ipynb' in pages and len(pages) >= 12
    broken, n_img = [], 0
    for p in ['index.ipynb'] + pages:
        html = site / p.replace('.ipynb', '.html')
        assert html.is_file(), f"page missing: {html}"
        refs = _Refs(); refs.feed(html.read_text(encoding='utf-8'))
        for src in refs.imgs:
            if src.startswith('data:'): n_img += 1; continue
            if _local(src):
                n_img += 1
                if not (html.parent / unquote(urlparse(src).path)).is_file(): broken.append((p, src))
        for href in refs.links:
            if not _local(href): continue
            path = unquote(urlparse(href).path)
            if path and not (html.parent / path).exists(): broken.append((p, href))
    assert not broken, broken[:10]
    study = _Refs(); study.feed((site / 'study' / 'study.html').read_text(encoding='utf-8'))
    assert len(study.imgs) >= 6, "the study page should show its figures"


ARTEFACTS = ROOT / '.artefacts' / 'site'  # screenshots of the narrative pages, kept after the test (gitignored)


NARRATIVE = ['index.html', 'study/study.html', 'study/explorer.html', 'study/full/study.html', 'study/full/explorer.html',
             'study/fashion/study.html', 'study/fashion/explorer.html']


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (make test installs it as root)")
def test_narrative_pages_in_a_browser(site, tmp_path):
    "What a reader of the narrative pages would see as broken, measured in the browser; screenshots kept."
    from PIL import Image
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    problems = {}
    for name in [n for n in NARRATIVE if (site / n).is_file()]:
        shot = ARTEFACTS / name.replace('/', '_').replace('.html', '.png')
        r = browse(site / name, tmp_path, shot)
        bad = {k: r[k] for k in ('raw', 'broken_images', 'wide_tables') if r[k]}
        if r['traceback']: bad['traceback'] = True
        if bad: problems[name] = bad
        if name == 'study/study.html':
            assert r['math'] >= 1 and r['images'] >= 6, r  # maths rendered by the vendored KaTeX, figures shown
    assert not problems, problems
    img = np.asarray(Image.open(ARTEFACTS / 'study_study.png').convert('RGB')).astype(float)
    assert img.shape[0] >= 3000 and img.std() > 20, "blank screenshot"
    # the figures are there: matplotlib's saturated blues/greens/oranges, which the page theme does not use
    sat = img.max(-1) - img.min(-1)
    assert (sat > 80).mean() > 0.002, "no figure visible on the study page"


def test_the_browser_check_sees_breakage(site, tmp_path):
    "The check itself: a page with raw maths, a missing image, a too-wide table and a traceback fails on each."
    if chromium() is None: pytest.skip("no chromium")
    page = site / 'study' / '.broken.html'
    page.write_text('<html><body><main style="width:600px"><p>Raw \\(x^2\\) maths</p><img src="nope.png">'
                    '<table><tr><td style="white-space:nowrap">' + 'wide ' * 300 + '</td></tr></table>'
                    '<pre>Traceback (most recent call last):</pre></main></body></html>')
    try: r = browse(page, tmp_path)
    finally: page.unlink()
    assert r['raw'] and r['broken_images'] == ['nope.png'] and len(r['wide_tables']) == 1 and r['traceback'], r
