"""The offline replication report in a real browser: every page of it opened in headless Chromium with no network.

    make browser-test      # installs Chromium (Debian's, when root) and Playwright, then runs tests/browser/

The pages are built (sae_kit.report.html_report) from the CI-profile notebooks that `make test` executed into reports/ci;
a notebook missing there is executed first (papermill, its CI profile). Every request that is not a local file is
blocked and fails the test. On each page, at 1280 × 900 px:
- formulas are typeset: MathJax has run, no formula is left as raw TeX (no $, \\(, \\[ or \\command in the text a
  reader sees) and none is an error box;
- every plotly figure is drawn, none is wider than the viewport, the page has no horizontal scroll, and each
  subplot is at least MIN_PANEL_PX wide (legible);
- the page is within PAGE_BUDGET_BYTES, and its "show / hide code" button hides the code and keeps the results.
Full-page screenshots go to reports/browser/report_NN_name.png (or $SAE_KIT_BROWSER_OUT). Marked `browser`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import sae_kit as sk

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
EXECUTED = Path(os.environ.get("SAE_KIT_REPORT_FROM", ROOT / "reports" / "ci"))  # tests/conftest.py's `executed`
CHROMIUM = os.environ.get("SAE_KIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
PAGE_BUDGET_BYTES = 8_000_000
MIN_PANEL_PX = 120  # the narrowest subplot a reader can still read (ticks, a 5-point curve) at 1280 px
LOAD_MS = 120_000
PAGES = [p.stem for p in sk.report.notebooks()]

# What a reader sees in the markdown cells, without code, scripts (MathJax keeps each formula's TeX in a script) and
# MathJax's hidden copy for screen readers; then any TeX left in it, and MathJax's error boxes.
_MATH_JS = r"""() => {
  const texts = [...document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')].map(el => {
    const c = el.cloneNode(true);
    c.querySelectorAll('script, style, code, pre, .MJX_Assistive_MathML').forEach(n => n.remove());
    return c.textContent;
  });
  const raw = [];
  const tex = /\$|\\[()\[\]]|\\[A-Za-z]{2,}/g;
  for (const t of texts) for (const m of t.matchAll(tex))
    raw.push(t.slice(Math.max(0, m.index - 40), m.index + 40).replace(/\s+/g, ' '));
  return {
    typeset: document.querySelectorAll('.MathJax, .MathJax_Display').length,
    errors: document.querySelectorAll('.MathJax_Error, .noError, merror').length,
    raw: raw.slice(0, 10), n_raw: raw.length,
  };
}"""
# Every figure: drawn or not, its right edge, and its narrowest subplot (plotly's own axis lengths, in px).
_LAYOUT_JS = r"""() => {
  const vw = document.documentElement.clientWidth;
  const figures = [...document.querySelectorAll('.plotly-graph-div')].map((div, i) => {
    const full = div._fullLayout, rect = div.getBoundingClientRect();
    const axes = full ? Object.keys(full).filter(k => /^xaxis\d*$/.test(k)).map(k => full[k]._length) : [];
    const title = full && full.title ? (full.title.text || '') : '';
    return {i, drawn: !!full && !!div.querySelector('.main-svg'), right: Math.round(rect.right),
            width: Math.round(rect.width), min_panel: axes.length ? Math.round(Math.min(...axes)) : null,
            title: title.slice(0, 60)};
  });
  return {vw, scroll_width: document.documentElement.scrollWidth, figures};
}"""

_CODE_HIDDEN_JS = """() => [...document.querySelectorAll('.jp-CodeCell .jp-Cell-inputWrapper')].every(e => e.offsetParent === null)
  && document.querySelector('.jp-OutputArea').offsetParent !== null"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """The report built from the CI-profile notebooks in EXECUTED (any missing one executed there first)."""
    missing = [name for name in PAGES if not (EXECUTED / f"{name}.ipynb").is_file() or not (EXECUTED / f"{name}.json").is_file()]
    if missing:
        sk.report.run_notebooks(EXECUTED, profile="ci", timeout=900, only=[name[:2] for name in missing])
    out = tmp_path_factory.mktemp("report")
    for name in PAGES:
        for suffix in (".ipynb", ".json"):
            shutil.copy(EXECUTED / f"{name}{suffix}", out / f"{name}{suffix}")
    sk.html_report.write_report_html(out, sk.report.collect_results(out))
    return out


@pytest.fixture(scope="module")
def shots() -> Path:
    out = Path(os.environ.get("SAE_KIT_BROWSER_OUT", ROOT / "reports" / "browser"))
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("report_*.png"):
        old.unlink()
    return out


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make browser-test` (it installs Debian's chromium when root), "
                    "or set SAE_KIT_CHROMIUM to a Chromium/Chrome binary")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def open_offline(browser, path: Path):
    """A page with `path` loaded, every non-file request aborted; returns (page, blocked URLs, failed requests)."""
    context = browser.new_context(viewport=VIEWPORT, offline=True)
    page = context.new_page()
    blocked, failed = [], []

    def route(r):
        if r.request.url.startswith("file://"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    # MathJax's HTML-CSS output probes font loading with a font at about:blank (in every browser, online too)
    page.on("requestfailed", lambda req: req.url == "about:blank" or failed.append(f"{req.url} ({req.failure})"))
    page.goto(path.as_uri(), wait_until="load", timeout=LOAD_MS)
    return page, blocked, failed


def test_index_page(report, browser, shots):
    index = report / "index.html"
    page, blocked, failed = open_offline(browser, index)
    try:
        links = page.eval_on_selector_all("a[href]", "as => as.map(a => a.getAttribute('href'))")
        rows = page.locator("table tbody tr").count()
        scroll = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        page.screenshot(path=str(shots / "report_index.png"), full_page=True)
    finally:
        page.context.close()
    assert not blocked and not failed, f"the index asked for the network or a missing file: {blocked + failed}"
    assert sorted(set(links)) == sorted(f"{name}.html" for name in PAGES), f"the index should link every notebook page: {links}"
    assert all((report / href).is_file() for href in links)
    assert rows == sum(len(r["claims"]) for r in sk.report.collect_results(report)), "one row per published claim"
    assert scroll <= 0, f"the index scrolls sideways by {scroll} px at {VIEWPORT['width']} px"


@pytest.mark.parametrize("name", PAGES)
def test_notebook_page_offline(report, browser, shots, name):
    path = report / f"{name}.html"
    size = path.stat().st_size
    page, blocked, failed = open_offline(browser, path)
    try:
        page.wait_for_selector("html[data-mathjax='done']", state="attached", timeout=LOAD_MS)
        page.wait_for_function("() => [...document.querySelectorAll('.plotly-graph-div')].every(d => d._fullLayout)",
                               timeout=LOAD_MS, polling=250)
        math, layout = page.evaluate(_MATH_JS), page.evaluate(_LAYOUT_JS)
        page.screenshot(path=str(shots / f"report_{name}.png"), full_page=True)
        page.click("nav.sk-nav button")  # read it as a paper: the code inputs hide, the prose and results stay
        code_hidden = page.evaluate(_CODE_HIDDEN_JS)
    finally:
        page.context.close()
    shot = shots / f"report_{name}.png"
    assert code_hidden, f"{name}: the show / hide code button did not hide the code (or hid the results)"
    print(json.dumps({"page": name, "bytes": size, "formulas": math["typeset"], "figures": len(layout["figures"]),
                      "narrowest_panel": min((f["min_panel"] for f in layout["figures"] if f["min_panel"]), default=None)}))
    assert not blocked, f"{name}: the page asked for the network: {blocked[:5]}"
    assert not failed, f"{name}: requests failed (a file missing beside the page?): {failed[:5]}"
    assert size <= PAGE_BUDGET_BYTES, f"{name}: {size / 1e6:.1f} MB, over the {PAGE_BUDGET_BYTES / 1e6:.0f} MB budget"
    assert math["typeset"] > 0, f"{name}: MathJax typeset no formula ({shot})"
    assert math["errors"] == 0, f"{name}: {math['errors']} formula(s) MathJax could not typeset ({shot})"
    assert math["n_raw"] == 0, f"{name}: {math['n_raw']} raw TeX left in the text, e.g. {math['raw']} ({shot})"
    figures = layout["figures"]
    assert figures and all(f["drawn"] for f in figures), f"{name}: a figure is not drawn: {figures} ({shot})"
    wide = [f for f in figures if f["right"] > layout["vw"]]
    assert not wide, f"{name}: figures wider than the {layout['vw']} px viewport: {wide} ({shot})"
    assert layout["scroll_width"] <= layout["vw"], f"{name}: the page scrolls sideways ({layout['scroll_width']} px) ({shot})"
    cramped = [f for f in figures if f["min_panel"] is not None and f["min_panel"] < MIN_PANEL_PX]
    assert not cramped, f"{name}: subplots narrower than {MIN_PANEL_PX} px: {cramped} ({shot})"
