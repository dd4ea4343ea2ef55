"""Where the training scripts and their JSON recipes are, in a source checkout, an editable and a wheel install.

The scripts (`train_scripts/`, installed as `sign_translation.train_scripts`) import the library, never the other
way round: the library only needs their files — the recipes (data) and the script paths, which the demo runs as a
user would (`python train_scripts/run_fla_llm.py --recipe ...`). The folder is found through the import system's
finders without importing it (`importlib.util.find_spec` of a sub-package imports only its parent, which is this
package), so the `package_dir` mapping of both install kinds resolves.

Example:
```python
>>> from sign_translation.recipes import list_recipes, load_recipe, recipe_path
>>> recipe_path("fla_llm_phoenix14t_stage1.json").name
'fla_llm_phoenix14t_stage1.json'
>>> "mmslt_synthetic_pretrain.json" in list_recipes()
True
>>> load_recipe("fla_llm_phoenix14t_stage1.json")["learning_rate"]  # the paper's SGD learning rate
0.01

```
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from .processing.errors import SignInputError

SCRIPTS_PACKAGE = "sign_translation.train_scripts"


def scripts_dir() -> Path:
    """The folder of the training scripts (`train_scripts/` of the checkout, or the installed package's copy)."""
    spec = importlib.util.find_spec(SCRIPTS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:  # a plain source tree on sys.path without any install
        fallback = Path(__file__).resolve().parents[2] / "train_scripts"
        if fallback.is_dir():
            return fallback
        raise SignInputError(f"cannot find the training scripts ({SCRIPTS_PACKAGE} is not installed and there is no "
                             f"{fallback})")
    return Path(locations[0])


def recipes_dir() -> Path:
    return scripts_dir() / "recipes"


def list_recipes() -> list[str]:
    """File names of the shipped recipes."""
    return sorted(p.name for p in recipes_dir().glob("*.json"))


def recipe_path(name: str) -> Path:
    """The path of a shipped recipe by file name (a path to an existing file is returned as it is)."""
    given = Path(name)
    if given.is_file():
        return given
    path = recipes_dir() / name
    if not path.is_file():
        raise SignInputError(f"recipe {name!r}: no such file in {recipes_dir()} (shipped recipes: "
                             f"{', '.join(list_recipes())})")
    return path


def load_recipe(name: str) -> dict:
    path = recipe_path(name)
    try:
        recipe = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise SignInputError(f"{path}: the recipe is not valid JSON ({err})") from err
    if not isinstance(recipe, dict):
        raise SignInputError(f"{path}: a recipe must be a JSON object of argument names and values")
    return recipe


def script_path(name: str) -> Path:
    """The path of a training script by file name (e.g. a method's `training_script`, "run_fla_llm.py")."""
    path = scripts_dir() / name
    if not path.is_file():
        raise SignInputError(f"training script {name!r}: no such file in {scripts_dir()}")
    return path


__all__ = ["list_recipes", "load_recipe", "recipe_path", "recipes_dir", "script_path", "scripts_dir"]
