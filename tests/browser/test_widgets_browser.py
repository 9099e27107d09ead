"""Every notebook explorer in a real browser: JupyterLab + headless Chromium, driven by Playwright.

    make browser-test      # installs Chromium (Debian's, when root) and Playwright, then runs tests/browser

The unit tests call the widgets' update callbacks directly (tests/test_explorers.py); this file checks what they
cannot: that in a live JupyterLab each notebook runs under its interactive profile (`SAE_KIT_BROWSER_PROFILE`,
default "lab"), its explorer renders, and moving the explorer's main control redraws *its* figure the way the science
says — 01: sparse data puts five features in superposition, dense data keeps two; 02: past n/d = 2 a toy model's
antipodal pairs give way to a tangle and SAE recovery falls; 03: a large α kills latents; 04 and 05: the chosen cell or
latent is drawn; 07: at matched L0 the Matryoshka SAE absorbs far less than the flat L1 SAE, and another α redraws
the L1 row; 08: moving the latent slider redraws that attention-SAE latent's per-head attribution. Screenshots
go to reports/browser/ (or $SAE_KIT_BROWSER_OUT): NN_before.png, NN_after.png, and NN_failure.png when a step fails.
Marked `browser`: `make unit` deselects it; `make browser-test` selects it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import labdriver as lab
import pytest

pytestmark = pytest.mark.browser

PROFILE = os.environ.get("SAE_KIT_BROWSER_PROFILE", "lab")
STEMS = {"01": "01_toy_superposition", "02": "02_strongly_interfering_ratios", "03": "03_sae_training",
         "04": "04_mcs_histograms", "05": "05_lm_replication",
         "07": "07_computation_absorption_collapse", "08": "08_measuring_lm_saes"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    copies = {nn: lab.parameterised_copy(stem, PROFILE, root).name for nn, stem in STEMS.items()}
    with lab.jupyterlab(root) as srv:
        yield {**srv, "copies": copies}


@pytest.fixture(scope="module")
def out_dir() -> Path:
    out = Path(os.environ.get("SAE_KIT_BROWSER_OUT", lab.ROOT / "reports" / "browser"))
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("0*.png"), out / "run_all_seconds.json"]:
        old.unlink(missing_ok=True)
    return out


@pytest.fixture
def notebook(server, out_dir, request):
    """Open notebook NN (the test's parameter), run all of it, and yield (page, shot): shot(name) saves a screenshot."""
    if not Path(lab.CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {lab.CHROMIUM}: run `make browser-test` (it installs Debian's chromium when root), "
                    "or set SAE_KIT_CHROMIUM to a Chromium/Chrome binary")
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    nn = request.param
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=lab.CHROMIUM, args=lab.CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def shot(name: str) -> None:
            page.screenshot(path=str(out_dir / f"{nn}_{name}.png"), full_page=False)

        try:
            t0 = time.perf_counter()
            state = lab.run_all(page, server["url"], server["copies"][nn])
            _record_time(out_dir, nn, time.perf_counter() - t0)
            if state["errors"]:
                shot("failure")
                pytest.fail(f"notebook {nn} raised in JupyterLab:\n" + "\n---\n".join(e[-2000:] for e in state["errors"]),
                            pytrace=False)
            yield page, shot
        except (PlaywrightError, RuntimeError) as e:
            try:
                shot("failure")
            except PlaywrightError:
                pass
            pytest.fail(f"notebook {nn}: {type(e).__name__}: {e}\n  JupyterLab log: {server['log']}", pytrace=False)
        finally:
            browser.close()


def _record_time(out_dir: Path, nn: str, seconds: float) -> None:
    """Keep how long Run All took in JupyterLab (the notebook map's interactive-profile time) in run_all_seconds.json."""
    path = out_dir / "run_all_seconds.json"
    times = json.loads(path.read_text()) if path.exists() else {}
    times[f"{nn} ({PROFILE})"] = round(seconds, 1)
    path.write_text(json.dumps(times, indent=1))


def _scroll_to(page, label: str) -> None:
    lab.control(page, label).scroll_into_view_if_needed()


def _first_draw(page, shot, label: str, predicate_js: str) -> dict:
    """Wait for the explorer next to `label` to draw its first figure (title satisfying `predicate_js`), bring it into
    view and save NN_before.png; returns that figure."""
    before = lab.wait_for_title(page, label, predicate_js)
    _scroll_to(page, label)
    shot("before")
    return before


@pytest.mark.parametrize("notebook", ["01"], indirect=True)
def test_01_toy_model_explorer(notebook):
    page, shot = notebook
    label = "sparsity S"
    before = _first_draw(page, shot, label, "t.includes('step 1000 of 1000')")
    assert "5 represented" in before["title"], before["title"]  # S = 0.9: all five features in superposition
    lab.press_slider(page, label, "Home")  # S = 0: dense data
    dense = lab.wait_for_title(page, label, "t.includes('S = 0.00')")
    assert "2 represented" in dense["title"], dense["title"]  # Elhage et al.: the two most important, orthogonal
    lab.press_slider(page, "training step", "Home")  # the scrubber: the geometry as it was early in training
    early = lab.wait_for_title(page, label, "t.includes('step 20 of 1000')")
    assert early["data"] != dense["data"]
    lab.click_toggle(page, "model", "linear")
    linear = lab.wait_for_title(page, label, "t.startsWith('linear model')")
    shot("after")
    print(json.dumps({"before": before["title"], "dense": dense["title"], "linear": linear["title"]}))


@pytest.mark.parametrize("notebook", ["02"], indirect=True)
def test_02_ratio_explorer(notebook):
    page, shot = notebook
    label = "features / dims n/d"
    before = _first_draw(page, shot, label, "t.includes('n/d = 2')")
    lab.press_slider(page, label, "ArrowRight", times=3)  # 2 → 3 → 4 → 8
    after = lab.wait_for_title(page, label, "t.includes('n/d = 8')")
    shot("after")
    anti = [lab.number(f["title"], "antipodal fraction") for f in (before, after)]
    mmcs = [lab.number(f["title"], "MMCS") for f in (before, after)]
    # Past the report's ratio 2, a toy model's antipodal pairs give way to a strongly interfering tangle, and an SAE
    # recovers less of what it places.
    assert anti[0] >= 0.5 and anti[1] <= anti[0] - 0.3, (before["title"], after["title"])
    assert mmcs[1] < mmcs[0], (before["title"], after["title"])
    print(json.dumps({"before": before["title"], "after": after["title"]}))


@pytest.mark.parametrize("notebook", ["03"], indirect=True)
def test_03_small_sae_explorer(notebook):
    page, shot = notebook
    label = "α"
    before = _first_draw(page, shot, label, "t.includes('dead')")
    lab.press_slider(page, label, "End")  # the largest α
    after = lab.wait_for_title(page, label, "t.includes('α = 30')")
    shot("after")
    dead = [lab.number(f["title"], "dead") for f in (before, after)]
    assert dead[1] > dead[0], (before["title"], after["title"])  # a large penalty kills latents (Sharkey et al. 2022)
    print(json.dumps({"before": before["title"], "after": after["title"]}))


@pytest.mark.parametrize("notebook", ["04"], indirect=True)
def test_04_grid_cell_explorer(notebook):
    page, shot = notebook
    label = "dictionary size d_sae"
    before = _first_draw(page, shot, label, "t.includes('features found')")
    readout = lab.press_slider(page, label, "End")  # the largest dictionary
    after = lab.wait_for_title(page, label, f"t.startsWith('d_sae = {readout},')")
    shot("after")
    assert after["data"] != before["data"], (before["title"], after["title"])
    print(json.dumps({"before": before["title"], "after": after["title"]}))


@pytest.mark.parametrize("notebook", ["05"], indirect=True)
def test_05_feature_browser(notebook):
    page, shot = notebook
    label = "latent"
    before = _first_draw(page, shot, label, "t.includes('latent')")
    box = lab.control(page, label).locator("input").first
    target = str(int(lab.number(before["title"], "latent")) + 1)
    box.fill(target)
    box.press("Enter")
    after = lab.wait_for_title(page, label, f"t.includes('latent {target}:')")
    shot("after")
    assert after["data"] != before["data"], (before["title"], after["title"])
    print(json.dumps({"before": before["title"], "after": after["title"]}))


@pytest.mark.parametrize("notebook", ["07"], indirect=True)
def test_07_absorption_explorer(notebook):
    page, shot = notebook
    label = "α or k"
    before = _first_draw(page, shot, label, "t.startsWith('L1,')")  # the L1 row at matched L0
    lab.click_toggle(page, "architecture", "Matryoshka")
    mat = lab.wait_for_title(page, label, "t.startsWith('Matryoshka,')")
    shot("after")
    absorption = [lab.number(f["title"], "absorption") for f in (before, mat)]
    # a flat SAE absorbs parents into child latents; nested prefixes make the first latents learn the parents whole
    # (Chanin et al. 2024; Nabeshima 2024)
    assert absorption[1] < absorption[0] - 0.3, (before["title"], mat["title"])
    lab.click_toggle(page, "architecture", "L1")
    lab.wait_for_title(page, label, "t.startsWith('L1,')")
    readout = lab.press_slider(page, label, "Home")  # another α of the L1 row: another heatmap and other recalls
    if f"{readout}:" in before["title"]:  # the matched α was already the smallest
        readout = lab.press_slider(page, label, "End")
    moved = lab.wait_for_title(page, label, f"t.startsWith({json.dumps('L1, ' + readout + ':')})")
    assert moved["data"] != before["data"], (before["title"], moved["title"])
    print(json.dumps({"before": before["title"], "matryoshka": mat["title"], "moved": moved["title"]}))


@pytest.mark.parametrize("notebook", ["08"], indirect=True)
def test_08_head_attribution_explorer(notebook):
    page, shot = notebook
    label = "latent"
    before = _first_draw(page, shot, label, "t.startsWith('latent ')")
    readout = lab.press_slider(page, label, "ArrowRight")  # the next latent
    after = lab.wait_for_title(page, label, f"t.startsWith('latent {readout}:')")
    shot("after")
    assert after["data"] != before["data"], (before["title"], after["title"])
    print(json.dumps({"before": before["title"], "after": after["title"]}))
