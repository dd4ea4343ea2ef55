"""Progress bars for the long jobs (rendering, description generation, feature caching, evaluation, batch
translation): tqdm bars with counts, rate and ETA, on stderr, shown on a terminal and silenced by `-q`.

`set_quiet(True)` (what the CLI's `-q` calls) turns off this package's bars and those of the libraries the jobs run
inside (`datasets.map`, the `Trainer`, `huggingface_hub` downloads), and sets tqdm's own `TQDM_DISABLE` so bars
made anywhere else in the process stay off too.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable

_quiet = False


def set_quiet(quiet: bool = True) -> None:
    """Silence (or re-enable) every progress bar of this process."""
    global _quiet
    _quiet = bool(quiet)
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"
    else:
        os.environ.pop("TQDM_DISABLE", None)
    try:
        import datasets

        (datasets.disable_progress_bars if quiet else datasets.enable_progress_bars)()
    except ImportError:  # pragma: no cover - datasets is a dependency
        pass
    try:
        from transformers.utils import logging as transformers_logging

        (transformers_logging.disable_progress_bar if quiet else transformers_logging.enable_progress_bar)()
    except ImportError:  # pragma: no cover
        pass
    try:
        from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

        (disable_progress_bars if quiet else enable_progress_bars)()
    except ImportError:  # pragma: no cover
        pass


def is_quiet() -> bool:
    return _quiet


@contextlib.contextmanager
def quiet_progress(quiet: bool = True):
    """`set_quiet(quiet)` for the duration of a block, then everything as it was (the CLI's `main` can run inside
    another program, e.g. a test, that has its own settings)."""
    import datasets
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from transformers.utils import logging as transformers_logging

    if not quiet:
        yield
        return
    before = (_quiet, os.environ.get("TQDM_DISABLE"), datasets.is_progress_bar_enabled(),
              transformers_logging.is_progress_bar_enabled(), are_progress_bars_disabled())
    set_quiet(True)
    try:
        yield
    finally:
        globals()["_quiet"] = before[0]
        if before[1] is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before[1]
        (datasets.enable_progress_bars if before[2] else datasets.disable_progress_bars)()
        (transformers_logging.enable_progress_bar if before[3] else transformers_logging.disable_progress_bar)()
        (disable_progress_bars if before[4] else enable_progress_bars)()


def progress_bar(iterable: Iterable | None = None, total: int | None = None, desc: str | None = None,
                 unit: str = "it", disable: bool | None = None, **kwargs):
    """A tqdm bar on stderr (counts, rate, ETA). `disable=None` shows it only on a terminal; `-q` always hides it."""
    from tqdm.auto import tqdm

    if _quiet:
        disable = True
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, file=sys.stderr, dynamic_ncols=True,
                **kwargs)


__all__ = ["is_quiet", "progress_bar", "quiet_progress", "set_quiet"]
