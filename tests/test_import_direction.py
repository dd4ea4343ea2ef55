"""The library never imports the training scripts; the scripts import the library (issue 12).

An AST scan of every module of the library (src/sign_translation, modeling/, processing/): no `import`
of `train_scripts` in any spelling (absolute, `sign_translation.train_scripts`, relative `.train_scripts`), and no
`importlib.import_module` / `__import__` / `runpy` call naming it. The demo runs the scripts as child processes and
finds their recipes as files (`sign_translation.recipes`).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARY = [REPO / "src" / "sign_translation", REPO / "modeling", REPO / "processing"]


def _library_files() -> list[Path]:
    return sorted(p for root in LIBRARY for p in root.rglob("*.py"))


def _script_imports(path: Path, root: Path = REPO) -> list[str]:
    """`file:line: statement` for every import of train_scripts in one file."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = [module] + [f"{module}.{alias.name}" if module else alias.name for alias in node.names]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__", "run_module", "run_path") and isinstance(
                    node.args[0].value, str):
                names = [node.args[0].value]
        if any("train_scripts" in name.split(".") or name.startswith("train_scripts") for name in names):
            found.append(f"{path.relative_to(root)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_scan_finds_every_spelling(tmp_path):
    """The scan itself works: each way of importing the scripts is caught (so the real test can fail)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import train_scripts.run_fla_llm\n"
        "from .train_scripts.run_mmslt import main\n"
        "from sign_translation.train_scripts import generate_descriptions\n"
        "from . import train_scripts\n"
        "import importlib\nimportlib.import_module('sign_translation.train_scripts.run_fla_llm')\n"
        "import runpy\nrunpy.run_module('sign_translation.train_scripts.run_mmslt')\n"
        "from .recipes import recipe_path  # fine\n"
    )
    hits = _script_imports(bad, tmp_path)
    assert len(hits) == 6, hits


def test_no_library_module_imports_train_scripts():
    files = _library_files()
    assert len(files) > 30  # the scan sees the whole library
    offenders = [hit for path in files for hit in _script_imports(path)]
    assert not offenders, "the library imports the training scripts (move what it needs into the library):\n" + \
        "\n".join(offenders)


@pytest.mark.parametrize("module", ["sign_translation.cli", "sign_translation.demo", "sign_translation.hub",
                                    "sign_translation.card", "sign_translation.describe"])
def test_importing_the_library_loads_no_script(module):
    """At run time too: importing (and the demo's set-up) leaves `sign_translation.train_scripts` unimported."""
    code = (f"import sys, {module}\n"
            "from sign_translation.recipes import list_recipes, script_path\n"
            "list_recipes(); script_path('run_fla_llm.py')\n"
            "loaded = [m for m in sys.modules if 'train_scripts' in m]\n"
            "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
