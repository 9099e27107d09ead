"""A real JupyterLab for the browser tests: a server on a free localhost port over parameterised notebook copies, and
the page actions the tests share (open a notebook, Run All with a kernel restart when the first kernel never answers,
read an explorer's figure, move its controls). Driven by Playwright over Debian's headless Chromium; offline."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = os.environ.get("SAE_KIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RUN_ALL_MS = 30 * 60 * 1000  # generous: every notebook's interactive profile runs in a few minutes on 2 cores
WIDGET_MS = 3 * 60 * 1000  # one redraw after a control moves (a cold setting trains for a few seconds)
START_MS = 90 * 1000  # Run All must finish its first cell within this; otherwise the kernel is restarted
START_TRIES = 3

# Everything the tests read from the page is computed by these small scripts, run in the browser.
RUN_STATE_JS = """() => {
  // A cell whose input is hidden (jupyter.source_hidden, e.g. the cell that writes the results JSON) shows an empty
  // prompt whatever its state: only the other prompts count ("[ ]:" unrun, "[*]:" queued or running, "[7]:" done).
  const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
    .map(p => (p.textContent || '').trim()).filter(t => t !== '');
  const busy = prompts.some(t => t.includes('*'));
  const errors = [...document.querySelectorAll('.jp-Notebook [data-mime-type="application/vnd.jupyter.error"],'
                                          + '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
    .map(e => e.textContent).filter(t => /Traceback|Error/.test(t));
  const done = prompts.length > 0 && !busy && prompts.every(p => /\\[\\d+\\]/.test(p));
  return (done || errors.length) ? {done, errors, prompts} : null;
}"""
# Run ▸ Run All Cells as JupyterLab's command, after the notebook's kernel session is ready: a menu click made as soon
# as the page showed an idle kernel was sometimes dropped (every cell stayed at [ ]).
# The notebook is found by its path and activated first: JupyterLab restores the last workspace, and another notebook's
# tab may be the current one.
RUN_ALL_JS = """async (path) => {
  const app = window.jupyterapp;
  const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
  if (!panel) throw new Error('no open notebook ' + path);
  app.shell.activateById(panel.id);
  await panel.context.ready;
  await panel.sessionContext.ready;
  app.commands.execute('notebook:run-all-cells');  // not awaited: it resolves only when every cell has run
}"""
# A queued [*] is not enough: in one CI run JupyterLab started a kernel, shut it down at once and started another, and
# the page stayed connected to the first one, so every cell sat at [*] and nothing ran.
STARTED_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
  .some(p => /\\[\\d+\\]/.test(p.textContent || ''))"""
# The plotly figure of the explorer whose controls include one labelled `label` (its title and trace data).
FIGURE_JS = """(label) => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  const cell = cells.find(c => [...c.querySelectorAll('.jp-OutputArea .widget-label')]
                                .some(l => l.textContent.trim() === label));
  const div = cell && cell.querySelector('.jp-OutputArea .js-plotly-plot');
  if (!div || !div.data || !div.data.length) return null;
  const title = div.querySelector('.gtitle');
  const status = [...cell.querySelectorAll('.jp-OutputArea .widget-label')].map(l => l.textContent.trim());
  return {
    title: title ? title.textContent : '',
    status,
    data: div.data.map(t => ({type: t.type || 'scatter', name: t.name || '', x: Array.from(t.x || []),
                              y: Array.from(t.y || [])})),
  };
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parameterised_copy(stem: str, profile: str, directory: Path) -> Path:
    """Notebook `stem` with its parameters set to `profile` (papermill's injected cell), written into `directory`."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(str(NOTEBOOKS / f"{stem}.ipynb"))  # as papermill reads it (every cell gets a tags list)
    nb = parameterize_notebook(nb, {"profile": profile, "results_path": str(directory / f"{stem}.json"),
                                    "cache_dir": str(directory / "cache" / stem)})
    target = directory / f"{stem}_{profile}.ipynb"
    nbformat.write(nb, target)
    return target


def _lab_env(root: Path) -> dict:
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
    return env


@contextmanager
def jupyterlab(root: Path):
    """A JupyterLab server over `root` (token off, its own config/runtime/data dirs); yields its URL and log path."""
    port = free_port()
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--IdentityProvider.token=", "--ServerApp.password=", "--allow-root",  # CI runs as root
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly",  # nothing reaches the network
           "--LabApp.expose_app_in_browser=True"]  # window.jupyterapp: Run All through JupyterLab's own command
    log_path = root / "_jupyter.log"
    log = open(log_path, "w")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(cmd, env=_lab_env(root), cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_server(proc, url, log_path)
        yield {"url": url, "log": log_path}
    finally:
        _stop_server(proc, url)
        log.close()


def _wait_for_server(proc, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {proc.returncode}; log: {log_path}")
        try:
            with urllib.request.urlopen(f"{url}/api/status", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"JupyterLab did not answer on {url} within 180 s; log: {log_path}")
        time.sleep(0.5)


def _stop_server(proc, url: str) -> None:
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


def run_all(page, url: str, notebook: str) -> dict:
    """Open `notebook` in JupyterLab and run every cell (restarting the kernel when the first one never answers).
    Returns the final run state {done, errors, prompts}; raises RuntimeError when no cell ever finished."""
    from playwright.sync_api import Error as PlaywrightError

    page.goto(f"{url}/lab/tree/{notebook}?reset", timeout=120_000)  # ?reset: a fresh workspace, only this notebook open
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=180_000)
    for attempt in range(START_TRIES):
        if attempt == 0:  # Run ▸ Run All Cells, once the notebook's kernel session is ready
            page.evaluate(RUN_ALL_JS, notebook)
        else:  # Kernel ▸ Restart Kernel and Run All Cells… (confirmed)
            page.keyboard.press("Escape")
            page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Run All Cells").first.click()
            page.locator(".jp-Dialog .jp-mod-accept").first.click(timeout=30_000)
        try:
            page.wait_for_function(STARTED_JS, timeout=START_MS, polling=500)
            break
        except PlaywrightError:
            if attempt == START_TRIES - 1:
                raise RuntimeError(f"no cell finished after {START_TRIES} tries") from None
    return page.wait_for_function(RUN_STATE_JS, timeout=RUN_ALL_MS, polling=1000).json_value()


def figure(page, label: str) -> dict | None:
    """The explorer figure next to the control labelled `label`: {title, status, data}."""
    return page.evaluate(FIGURE_JS, label)


def wait_for_title(page, label: str, predicate_js: str) -> dict:
    """Wait until the title of `label`'s explorer figure satisfies `predicate_js` (a JS expression in `t`)."""
    page.wait_for_function("(label) => { const f = (" + FIGURE_JS + ")(label); if (!f) return false; const t = f.title; "
                           f"return ({predicate_js}); }}", arg=label, timeout=WIDGET_MS, polling=500)
    return figure(page, label)


def control(page, label: str):
    """The widget (slider, toggle buttons, text box) whose description reads `label`."""
    return page.locator(".widget-inline-hbox, .widget-hslider, .widget-toggle-buttons, .widget-text",
                        has=page.locator(".widget-label", has_text=label)).first


def press_slider(page, label: str, key: str, times: int = 1) -> str:
    """Focus the slider labelled `label`, press `key` (Home, End, ArrowRight…) `times` times; returns its readout."""
    slider = control(page, label)
    slider.scroll_into_view_if_needed()
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(times):
        handle.press(key)
    return slider.locator(".widget-readout").text_content().strip()


def click_toggle(page, label: str, option: str) -> None:
    """Click option `option` of the toggle buttons labelled `label`."""
    control(page, label).locator("button", has_text=option).first.click()


def number(title: str, after: str) -> float:
    """The number that follows `after` in a figure title (e.g. number(t, "antipodal fraction"))."""
    import re

    m = re.search(re.escape(after) + r"\s*([-+]?\d+(?:\.\d+)?)", title)
    if not m:
        raise AssertionError(f"no number after {after!r} in the title {title!r}")
    return float(m.group(1))
