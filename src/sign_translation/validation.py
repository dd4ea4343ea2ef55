"""Checks at the edge: numbers and output paths, with messages that name the option, the value
and what is allowed.

Everything here raises `SignInputError` (a `ValueError`), which the CLI prints as one line and the training
scripts turn into one line too (`run_script`). The argparse `type=` helpers raise `argparse.ArgumentTypeError`
so argparse prints its usual "argument --x: ..." line.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .processing.errors import SignInputError

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------- numbers
def check_int(name: str, value, minimum: int | None = 1, maximum: int | None = None, optional: bool = True):
    """`value` is None (when optional) or an integer within [minimum, maximum]; returns it."""
    if value is None:
        if optional:
            return None
        raise SignInputError(f"{name} is required: expected an integer{_range(minimum, maximum)}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise SignInputError(f"{name}={value!r}: expected an integer{_range(minimum, maximum)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise SignInputError(f"{name}={value}: expected an integer{_range(minimum, maximum)}")
    return value


def check_float(name: str, value, minimum: float | None = None, maximum: float | None = None,
                optional: bool = True, exclusive_minimum: bool = False):
    """`value` is None (when optional) or a finite number within the bounds; returns it as float."""
    if value is None:
        if optional:
            return None
        raise SignInputError(f"{name} is required: expected a number")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SignInputError(f"{name}={value!r}: expected a finite number{_range(minimum, maximum, exclusive_minimum)}")
    low_bad = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
    if low_bad or (maximum is not None and value > maximum):
        raise SignInputError(f"{name}={value}: expected a number{_range(minimum, maximum, exclusive_minimum)}")
    return float(value)


def _range(minimum, maximum, exclusive_minimum: bool = False) -> str:
    low = f"> {minimum}" if exclusive_minimum else f"≥ {minimum}"
    if minimum is not None and maximum is not None:
        return f" {low} and ≤ {maximum}"
    if minimum is not None:
        return f" {low}"
    if maximum is not None:
        return f" ≤ {maximum}"
    return ""


def int_in(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse `type=`: an integer within [minimum, maximum] (no upper bound when maximum is None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer{_range(minimum, maximum)}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected an integer{_range(minimum, maximum)}, got {value}")
        return value

    parse.__name__ = f"integer{_range(minimum, maximum)}"
    return parse


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse `type=`: an integer ≥ minimum."""
    return int_in(minimum)


def float_in(minimum: float | None = None, maximum: float | None = None,
             exclusive_minimum: bool = False) -> Callable[[str], float]:
    """An argparse `type=`: a finite number within [minimum, maximum] (or (minimum, maximum])."""
    bounds = _range(minimum, maximum, exclusive_minimum)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number{bounds}, got {text!r}") from None
        low_bad = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
        if not math.isfinite(value) or low_bad or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"expected a finite number{bounds}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


def device_spec(text: str) -> str:
    """An argparse `type=`: a torch device this machine has (cpu, cuda, cuda:N, mps, xpu, ...), checked before any
    model is loaded, so `--device cuda` on a machine without a GPU is one line instead of a driver traceback."""
    import torch

    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a torch device (expected e.g. cpu, cuda, cuda:1, mps)") from None
    if device.type == "cpu":
        return text
    backend = getattr(torch, device.type, None)
    if backend is None or not hasattr(backend, "is_available") or not backend.is_available():
        raise argparse.ArgumentTypeError(
            f"{text!r}: no {device.type} device is available on this machine (torch.{device.type}.is_available() is "
            "False); use --device cpu")
    count = backend.device_count() if hasattr(backend, "device_count") else 1
    if device.index is not None and device.index >= count:
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {count} {device.type} device(s), "
                                         f"numbered 0..{count - 1}")
    return text


device_spec.__name__ = "device"


def is_hub_repo_id(text: str) -> bool:
    """Whether `text` is a well-formed Hub repo id (`name` or `namespace/name`), by huggingface_hub's own rule."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def hub_repo_id(text: str) -> str:
    """An argparse `type=`: a well-formed Hub repo id (`name` or `namespace/name`), checked before any upload."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError as err:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Hub repo id ({err})") from None
    return text


hub_repo_id.__name__ = "repo id"


# ---------------------------------------------------------------------------------------------- output paths
def check_output_file(path: str | os.PathLike, option: str) -> Path:
    """Before any work: the folder of an output file exists and a file can be created in it.

    Writes and removes a probe file, so a read-only file system or a missing permission is found now, not after
    an hour of translation.
    """
    path = Path(path)
    if path.is_dir():
        raise SignInputError(f"{option} {path}: is a folder; expected a file name")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SignInputError(f"{option} {path}: the folder {folder} does not exist; create it first")
    _probe_write(folder, option, path)
    return path


def check_output_dir(path: str | os.PathLike, option: str, create: bool = True) -> Path:
    """Before any work: an output folder exists or can be created, and files can be written in it.

    With `create=False` nothing is created: the folder, or its nearest existing ancestor, must accept a file.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise SignInputError(f"{option} {path}: exists and is not a folder")
    if not create:
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise SignInputError(f"{option} {path}: cannot create the folder ({existing} is not a folder)")
        try:
            with tempfile.NamedTemporaryFile(dir=existing, prefix=".write-probe-", delete=True):
                pass
        except OSError as err:
            raise SignInputError(
                f"{option} {path}: cannot create the folder (cannot write in {existing}: {err.strerror or err})"
            ) from err
        return path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SignInputError(f"{option} {path}: cannot create the folder ({err.strerror or err})") from err
    _probe_write(path, option, path)
    return path


def _probe_write(folder: Path, option: str, shown: Path) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-", delete=True):
            pass
    except OSError as err:
        raise SignInputError(f"{option} {shown}: cannot write in {folder} ({err.strerror or err})") from err


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write a whole file or nothing: a temporary file beside it, fsynced, then renamed over it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding=encoding) as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ---------------------------------------------------------------------------------------------- scripts
def run_script(main: Callable[[], object]) -> None:
    """Run a training script's `main`: bad input (`SignInputError`, `CheckpointError`) ends with one line on
    stderr and exit status 2 instead of a traceback (set SIGN_TRANSLATION_DEBUG=1 to see it)."""
    from .modeling.checkpoint_loading import CheckpointError

    try:
        main()
    except (SignInputError, CheckpointError) as err:
        if os.environ.get("SIGN_TRANSLATION_DEBUG"):
            raise
        print(f"{Path(sys.argv[0]).name}: error: {err}", file=sys.stderr)
        sys.exit(2)


__all__ = [
    "atomic_write_text",
    "check_float",
    "check_int",
    "check_output_dir",
    "check_output_file",
    "float_in",
    "int_at_least",
    "run_script",
]
