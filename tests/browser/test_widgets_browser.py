"""Notebook 01's toy-model explorer in a real browser: JupyterLab + headless Chromium, driven by Playwright.

    make browser-test      # installs Chromium (Debian's, when root) and Playwright, then runs this file

The unit tests call the widget callbacks directly; this test checks what they cannot: that in a live JupyterLab the
notebook runs (its CI profile), the explorer renders, and moving its sparsity slider retrains the toy model and
redraws *the figure the slider drives* — the norms panel goes from five represented features (S = 0.90, a pentagon)
to two (S = 0, dense data: two orthogonal features), while the static figure above it stays as it was.

Screenshots (before.png, after.png, and failure.png when a step fails) go to reports/browser/ (or $SAE_KIT_BROWSER_OUT).
Marked `browser`: `make unit` deselects it (pyproject's addopts); `make browser-test` selects it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "01_toy_superposition.ipynb"
CHROMIUM = os.environ.get("SAE_KIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN_ALL_MS = 30 * 60 * 1000  # generous: the CI profile of notebook 01 takes about a minute on a quiet core
WIDGET_MS = 5 * 60 * 1000  # first render of the widgets, and one retraining after the slider moves (seconds)

# Everything the test reads from the page is computed by these small scripts, run in the browser.
_RUN_STATE_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
  const errors = [...document.querySelectorAll('.jp-Notebook [data-mime-type="application/vnd.jupyter.error"],'
                                          + '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent).filter(t => /Traceback|Error/.test(t));
  const done = cells.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p));
  return (done || errors.length) ? {done, errors, prompts} : null;
}"""
# The kernel answers once any code cell's prompt shows an execution count. A queued [*] is not enough: in one failed
# CI run JupyterLab started a kernel, shut it down at once and started another, and the page stayed connected to the
# first one, so every cell sat at [*] and nothing ran.
_STARTED_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
  .some(p => /\\[\\d+\\]/.test(p.textContent || ''))"""
START_MS = 90 * 1000  # Run All must finish its first cell (the parameters) within this; otherwise the kernel is restarted
START_TRIES = 3
# The plotly graph div inside the explorer's output (the cell whose output holds the sliders), and the static one.
_FIGURE_JS = """(which) => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  const explorer = cells.find(c => c.querySelector('.jp-OutputArea .widget-slider'));
  const staticCell = cells.find(c => !c.querySelector('.widget-slider')
                                  && [...c.querySelectorAll('.js-plotly-plot')].some(d => d.data && d.data.length === 14));
  const cell = which === 'explorer' ? explorer : staticCell;
  const div = cell && cell.querySelector('.jp-OutputArea .js-plotly-plot');
  if (!div || !div.data || div.data.length < 14) return null;
  const title = div.querySelector('.gtitle');
  return {
    title: title ? title.textContent : '',
    data: div.data.map(t => ({x: Array.from(t.x || []), y: Array.from(t.y || []), z: t.z || null})),
    paths: [...div.querySelectorAll('.scatterlayer path.js-line, .barlayer path')].map(p => p.getAttribute('d')),
  };
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ci_copy(directory: Path) -> Path:
    """Notebook 01 with its parameters set to the CI profile (papermill's injected cell), written into `directory`."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(NOTEBOOK))  # as papermill reads it (every cell gets a tags list)
    nb = parameterize_notebook(nb, {"profile": "ci", "results_path": str(directory / "01_toy_superposition.json"),
                                    "cache_dir": str(directory / "cache")})
    target = directory / "01_toy_superposition_ci.ipynb"
    nbformat.write(nb, target)
    return target


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free localhost port (token off, its own config/runtime/data dirs); shut down after."""
    root = tmp_path_factory.mktemp("lab")
    nb = _ci_copy(root)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SAE_KIT_HEADLESS", "PLOTLY_RENDERER")}  # a live kernel
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTER_DATA_DIR", "data"),
                      ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                      ("IPYTHONDIR", "ipython")):
        env[name] = str(root / "_jupyter" / sub)
    settings = root / "_jupyter" / "settings" / "@jupyterlab"
    for ext, plugin, value in (("notebook-extension", "tracker", {"windowingMode": "none"}),  # every cell in the DOM
                               ("apputils-extension", "notification", {"fetchNews": "false", "checkForUpdates": False})):
        (settings / ext).mkdir(parents=True, exist_ok=True)
        (settings / ext / f"{plugin}.jupyterlab-settings").write_text(json.dumps(value))
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root",  # CI runs as root
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]  # nothing reaches the network
    log = open(root / "_jupyter.log", "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {proc.returncode}; log: {root / '_jupyter.log'}")
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer on {url} within 180 s; log: {root / '_jupyter.log'}")
            time.sleep(0.5)
        yield {"url": url, "notebook": nb.name, "log": root / "_jupyter.log"}
    finally:
        try:  # polite shutdown first (it stops the kernels), then the process group we started
            urllib.request.urlopen(urllib.request.Request(f"{url}/api/shutdown", method="POST"), timeout=10).close()
            proc.wait(timeout=30)
        except Exception:  # noqa: BLE001 any failure above: fall through to the signals
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    continue
        log.close()


@pytest.fixture(scope="module")
def out_dir() -> Path:
    out = Path(os.environ.get("SAE_KIT_BROWSER_OUT", ROOT / "reports" / "browser"))
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.png"):
        old.unlink()
    return out


def _digest(png: bytes) -> str:
    return hashlib.sha256(png).hexdigest()[:16]


def _represented(fig: dict) -> int:
    """Features with ‖W_i‖ ≥ 1/2 in the norms panel (the bar trace, index MAX_FEATURES + 1 = 13)."""
    return sum(v >= 0.5 for v in fig["data"][13]["y"])


def test_explorer_slider_redraws_its_figure(lab, out_dir):
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make browser-test` (it installs Debian's chromium when root), "
                    "or set SAE_KIT_CHROMIUM to a Chromium/Chrome binary")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        step = "start"

        def fail(message: str):
            shot = out_dir / "failure.png"
            try:
                page.screenshot(path=str(shot), full_page=True)
            except PlaywrightError:
                shot = "(no screenshot: the page is gone)"
            pytest.fail(f"{message}\n  step: {step}\n  screenshot: {shot}\n  JupyterLab log: {lab['log']}", pytrace=False)

        try:
            step = "open the notebook in JupyterLab"
            page.goto(f"{lab['url']}/lab/tree/{lab['notebook']}", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)

            # Run ▸ Run All Cells; in rare runs the first kernel never answers and nothing runs, so after START_MS
            # without a finished cell, Kernel ▸ Restart Kernel and Run All Cells… (confirmed) is tried instead.
            for attempt in range(START_TRIES):
                if attempt == 0:
                    step = "Run ▸ Run All Cells"
                    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
                    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
                else:
                    step = f"Kernel ▸ Restart Kernel and Run All Cells (try {attempt + 1} of {START_TRIES})"
                    page.keyboard.press("Escape")
                    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
                    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").first.click()
                    page.locator(".jp-Dialog .jp-mod-accept").first.click(timeout=30_000)
                try:
                    page.wait_for_function(_STARTED_JS, timeout=START_MS, polling=500)
                    break
                except PlaywrightError:
                    if attempt == START_TRIES - 1:
                        fail(f"no cell finished after {START_TRIES} tries")
            step = "wait for every cell to run"
            state = page.wait_for_function(_RUN_STATE_JS, timeout=RUN_ALL_MS, polling=1000).json_value()
            if state["errors"]:
                fail("the notebook raised in JupyterLab:\n" + "\n---\n".join(e[-2000:] for e in state["errors"]))

            step = "wait for the explorer's sliders and figure"
            page.wait_for_function(_FIGURE_JS, arg="explorer", timeout=WIDGET_MS, polling=500)
            slider = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="sparsity")).first
            slider.scroll_into_view_if_needed()
            readout = slider.locator(".widget-readout")
            if readout.text_content().strip() != "0.90":
                fail(f"the sparsity slider should start at 0.90, reads {readout.text_content()!r}")
            explorer_plot = page.locator(".jp-CodeCell", has=page.locator(".widget-slider")).locator(".js-plotly-plot").first
            before, static_before = page.evaluate(_FIGURE_JS, "explorer"), page.evaluate(_FIGURE_JS, "static")
            png_before = explorer_plot.screenshot(path=str(out_dir / "before.png"))

            step = "move the sparsity slider to 0 (keyboard: Home on its handle)"
            handle = slider.locator(".noUi-handle").first
            handle.focus()
            handle.press("Home")
            page.wait_for_function("(el) => el.textContent.trim() === '0.00'", arg=readout.element_handle(), timeout=30_000)

            step = "wait for the explorer to retrain and redraw (its title names the new sparsity)"
            page.wait_for_function("() => { const f = (" + _FIGURE_JS + ")('explorer'); return f && f.title.includes('S = 0.00'); }",
                                   timeout=WIDGET_MS, polling=500)
            after, static_after = page.evaluate(_FIGURE_JS, "explorer"), page.evaluate(_FIGURE_JS, "static")
            png_after = explorer_plot.screenshot(path=str(out_dir / "after.png"))
            page.screenshot(path=str(out_dir / "page_after.png"), full_page=False)
        except PlaywrightError as e:
            fail(f"{type(e).__name__}: {e}")
        finally:
            browser.close()

    shots = f"(screenshots: {out_dir / 'before.png'}, {out_dir / 'after.png'})"
    assert after["data"] != before["data"], f"the explorer's trace data did not change after the slider moved {shots}"
    assert after["paths"] != before["paths"], f"the explorer's SVG paths did not change {shots}"
    assert _digest(png_after) != _digest(png_before), f"the explorer's figure looks the same after the slider moved {shots}"
    assert static_after == static_before, f"the static figure changed, but only the explorer's should {shots}"
    # The science the slider shows (Elhage et al. 2022): sparse data (S = 0.9) puts all five features in superposition,
    # dense data (S = 0) keeps only the two most important, in orthogonal directions.
    assert _represented(before) == 5, f"S = 0.90: expected 5 represented features, norms {before['data'][13]['y']} {shots}"
    assert _represented(after) == 2, f"S = 0: expected 2 represented features, norms {after['data'][13]['y']} {shots}"
    print(json.dumps({"before": before["title"], "after": after["title"], "shots": str(out_dir)}))
