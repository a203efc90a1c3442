"""Headless Chromium for the tests: open a page as a reader would and measure what would look broken."""
import html, json, re, shutil, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def chromium():
    return shutil.which('chromium') or shutil.which('chromium-browser')


def browse(page: Path, tmp_path: Path, shot: Path | None = None) -> dict:
    """Open `page` in headless Chromium as a reader would (scripts run, KaTeX renders, images load) and return what
    tests/site_check.js measured in it: raw maths left, images that did not load, tables wider than the content
    column, tracebacks. A copy of the page with the check appended is opened beside it, so relative links resolve."""
    check = page.with_name(f'.{page.stem}.check.html')
    check.write_text(page.read_text(encoding='utf-8').replace(
        '</body>', f"<script>{(ROOT / 'tests' / 'site_check.js').read_text()}</script></body>"), encoding='utf-8')
    base = [chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync',
            f'--user-data-dir={tmp_path / "profile"}', '--hide-scrollbars', '--window-size=1280,4000',
            '--virtual-time-budget=10000']
    try:
        r = subprocess.run(base + ['--dump-dom', check.as_uri()], capture_output=True, text=True, timeout=120)
        if shot: subprocess.run(base + [f'--screenshot={shot}', page.as_uri()], check=True, timeout=120, capture_output=True)
    finally: check.unlink(missing_ok=True)
    m = re.search(r'<pre id="kdfair-check">(.*?)</pre>', r.stdout, re.S)
    assert m, f"the page check did not run in {page}: {r.stderr[-1000:]}"
    return json.loads(html.unescape(m.group(1)))
