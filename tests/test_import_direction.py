"""The library never imports the training scripts; the scripts import the library (issue 12).

An AST scan of every module of the library (src/sign_translation, modeling/, processing/): no `import`
of `train_scripts` in any spelling (absolute, `sign_translation.train_scripts`, relative `.train_scripts`), and no
`importlib.import_module` / `__import__` / `runpy` call naming it. The demo runs the scripts as child processes and
finds their recipes as files (`sign_translation.recipes`).
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

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


def test_importing_the_library_loads_no_script():
    """At run time too: importing the library's entry points and locating recipes and scripts (what the demo does
    before it starts a stage) leaves `sign_translation.train_scripts` unimported."""
    code = ("import sys\n"
            "import sign_translation.cli, sign_translation.demo, sign_translation.hub, sign_translation.card\n"
            "import sign_translation.describe\n"
            "from sign_translation.recipes import list_recipes, script_path\n"
            "list_recipes(); script_path('run_fla_llm.py')\n"
            "loaded = [m for m in sys.modules if 'train_scripts' in m]\n"
            "assert not loaded, loaded\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_recipes_and_scripts_are_found_in_a_wheel_layout(tmp_path):
    """Lay the package out as a wheel holds it (setuptools' `build_py`, the step `bdist_wheel` copies from:
    package_dir mapping + package_data) and locate recipes and scripts from there, with the editable install out of
    the way (PYTHONPATH comes before its finder). The editable install itself is what every other test uses."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib",
                    str(target)], cwd=REPO, check=True, timeout=300, capture_output=True)
    code = ("import sys, sign_translation\n"
            "from sign_translation.recipes import recipe_path, script_path\n"
            "from sign_translation.methods import available_methods\n"
            f"assert sign_translation.__file__.startswith({str(target)!r}), sign_translation.__file__\n"
            "for m in available_methods().values():\n"
            "    assert script_path(m.training_script).is_file()\n"
            "    for s in m.stages:\n"
            "        p = recipe_path(m.recipe(s['name'], 'synthetic'))\n"
            f"        assert str(p).startswith({str(target)!r}), p\n"
            "assert not [m for m in sys.modules if 'train_scripts' in m]\n"
            "print('ok')\n")
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
