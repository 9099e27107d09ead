"""The package's shape: modules grouped by layer, each readable in one sitting, nothing pointing outside the repository."""

import ast
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "sae_kit"
LAYERS = {"toy", "sae", "training", "lm", "analysis", "claims", "plots", "explorers", "report", "exercises"}
TOP_LEVEL = {"__init__.py", "__main__.py", "_util.py", "io.py"}
MODULES = sorted(PKG.rglob("*.py"))
REPO_DOCS = {p.name for p in PKG.parent.rglob("*.md") if ".venv" not in p.parts}


def test_the_folder_listing_shows_the_layers():
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and p.name != "__pycache__"}
    files = {p.name for p in PKG.glob("*.py")}
    assert folders == LAYERS, f"sae_kit/ holds {sorted(folders)}; the layers are {sorted(LAYERS)}"
    assert files == TOP_LEVEL, f"modules outside a layer: {sorted(files - TOP_LEVEL)}"
    for layer in LAYERS:
        doc = ast.get_docstring(ast.parse((PKG / layer / "__init__.py").read_text()))
        assert doc, f"sae_kit/{layer}/__init__.py says what the layer holds"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PKG)))
def test_modules_and_functions_are_readable_in_one_sitting(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 400, f"{path.name}: {len(text.splitlines())} lines (at most 400)"
    long = [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60]
    assert not long, f"{path.name}: functions over 60 lines: {long}"
    cited = set(re.findall(r"\b([A-Za-z0-9_-]+\.md)\b", text)) - REPO_DOCS
    assert not cited, f"{path.name} cites documents not in the repository: {sorted(cited)}"


def test_every_module_is_in_the_api_map():
    api = (PKG.parent / "docs" / "api.md").read_text()
    for layer in LAYERS - {"claims", "plots", "exercises"}:
        for p in (PKG / layer).glob("*.py"):
            if p.name != "__init__.py":
                assert f"`{p.name}`" in api, f"docs/api.md's module map lacks sae_kit/{layer}/{p.name}"
