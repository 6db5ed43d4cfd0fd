"""The package stays thin: at most 1,800 lines of code, every exported name used, no module importing one above it."""

import ast
import json
import re
from pathlib import Path

import ocr_helpers as oh

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ocr_helpers"
# from the bottom up: a module may import only modules before it (at its top or inside a function)
LAYERS = ["files", "labels", "data", "model", "greedy", "ctc", "pipeline", "reading", "saving", "resume", "training",
          "folders", "exporting", "speed", "plots"]


def exported_names():
    """Return the names `oh.NAME` gives: the ones imported at the top of the package and the lazy ones."""
    modules = set(oh._LAZY_NAMES.values())
    eager = {name for name in vars(oh) if not name.startswith("_") and name not in {"importlib"}}
    eager -= {path.stem for path in PACKAGE.glob("*.py")}  # submodules imported by the package itself
    return (eager | set(oh._LAZY_NAMES)) - modules


def user_code():
    """Return the text of everything that may use the package: notebooks, solutions, tools, run.py, benchmarks."""
    texts = [path.read_text() for folder in ("tools", "benchmarks") for path in (ROOT / folder).glob("*.py")]
    texts.append((ROOT / "run.py").read_text())
    for folder in ("notebooks", "solutions"):
        for path in (ROOT / folder).glob("*.ipynb"):
            texts += ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]
    return "\n".join(texts)


def relative_imports(path):
    """Return the modules of the package that `path` imports, at its top or inside a function."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            imported |= {node.module} if node.module else {alias.name for alias in node.names}
    return imported


def test_every_exported_name_is_used_by_a_notebook_a_tool_or_a_benchmark():
    code = user_code()
    unused = sorted(name for name in exported_names() if not re.search(rf"\boh\.{name}\b", code))
    assert exported_names() >= {"build_model", "train", "predict_text"}, "the export list itself was not read"
    assert not unused, f"exported but used by no notebook, tool or benchmark: {unused}; use them as oh.MODULE.NAME"


def test_no_module_imports_a_module_above_it():
    assert sorted(LAYERS) == sorted(path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__")
    upward = {module: sorted(name for name in relative_imports(PACKAGE / f"{module}.py")
                             if LAYERS.index(name) >= LAYERS.index(module))
              for module in LAYERS}
    assert not any(upward.values()), f"modules importing their own layer or one above it: {upward}"


def lines_of_code(path):
    """Return the lines of `path` that are neither blank nor a comment (docstrings count, as issue 37 counts)."""
    return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#"))


def test_the_package_stays_under_1800_lines_of_code():
    sizes = {path.name: lines_of_code(path) for path in sorted(PACKAGE.glob("*.py"))}
    assert sum(sizes.values()) <= 1800, f"ocr_helpers has {sum(sizes.values())} lines of code: {sizes}"
