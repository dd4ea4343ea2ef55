"""Read pickled label files without ever running code from them.

`pickle.load` calls whatever global a file names (`os.system`, `builtins.exec`, ...), so a tampered label file
downloaded from a research repository runs code on the reader's machine. The label files of PHOENIX14T
(GFSLT-VLP), CSL-Daily and How2Sign (Uni-Sign) and CSL-Daily's `csl2020ct_v2.pkl` hold only dicts, lists,
strings and numbers, which pickle encodes without any global. `load_pickle` therefore refuses EVERY global: a
file that names one fails with `SignInputError` before anything it references is looked up, let alone called.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import zlib
from typing import Any

from ..processing.errors import SignInputError

GZIP_MAGIC = b"\x1f\x8b"

__all__ = ["load_pickle"]


class _NoGlobalsUnpickler(pickle.Unpickler):
    """An unpickler for plain data: every global (class, function, module attribute) is refused."""

    def __init__(self, file: io.BufferedIOBase, path: str) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        raise SignInputError(
            f"{self._path}: the pickle contains a disallowed global '{module}.{name}'; label files must hold only "
            "dicts, lists, strings and numbers, so it was refused and nothing in it was run "
            "(the file may have been tampered with)"
        )

    def persistent_load(self, pid: Any) -> Any:
        raise SignInputError(
            f"{self._path}: the pickle contains a persistent id, which plain label files never do; expected only "
            "dicts, lists, strings and numbers"
        )


# Label files are megabytes; a (decompressed) pickle beyond this is refused rather than read into memory.
MAX_PICKLE_BYTES = 4 * 1024**3


def _read_capped(stream: io.BufferedIOBase, path: str) -> bytes:
    chunks, total = [], 0
    while True:
        chunk = stream.read(64 * 1024 * 1024)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > MAX_PICKLE_BYTES:
            raise SignInputError(
                f"{path}: holds more than {MAX_PICKLE_BYTES // 1024**3} GiB of (decompressed) pickle data; label "
                "files are far smaller, so it was refused"
            )
        chunks.append(chunk)


def _check_declared_sizes(data: bytes, path: str) -> None:
    """Walk the opcodes without building anything: a string or bytes object that declares more bytes than the
    file holds (a truncated or crafted file: e.g. 1 TB) is refused here, before the unpickler would allocate it."""
    import pickletools

    try:
        for _ in pickletools.genops(io.BytesIO(data)):
            pass
    except ValueError as error:
        if "remain" in str(error) or "byte count" in str(error):
            raise SignInputError(
                f"{path}: refused before allocating: {error} (the file is {len(data)} bytes; it is truncated or "
                "crafted)"
            ) from error
        raise


def load_pickle(path: str | os.PathLike) -> Any:
    """Load a plain-data pickle (optionally gzip-compressed) with an unpickler that refuses every global.

    Gzip is detected from the first two bytes, so `labels.train` (gzip) and `csl2020ct_v2.pkl` (plain) load
    alike. Missing, truncated or corrupt files and files that name a global raise `SignInputError` naming the
    file.

    Example:
        >>> import gzip, pickle, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "labels.dev")
        >>> with gzip.open(path, "wb") as f:
        ...     pickle.dump({"dev/a": {"name": "dev/a", "text": "hallo"}}, f)
        >>> load_pickle(path)["dev/a"]["text"]
        'hallo'
    """
    path = os.fspath(path)
    magic = b""
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            compressed = magic == GZIP_MAGIC
            stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            data = _read_capped(stream, path)
        _check_declared_sizes(data, path)
        return _NoGlobalsUnpickler(io.BytesIO(data), path).load()
    except SignInputError:
        raise
    except FileNotFoundError as error:
        raise SignInputError(f"{path}: file not found; expected a pickled label file") from error
    except IsADirectoryError as error:
        raise SignInputError(f"{path}: is a folder; expected a pickled label file") from error
    except PermissionError as error:
        raise SignInputError(f"{path}: cannot be read (permission denied); expected a readable label file") from error
    except (OSError, EOFError, zlib.error) as error:
        kind = "gzip-compressed pickle" if magic == GZIP_MAGIC else "pickle"
        raise SignInputError(
            f"{path}: could not be read as a {kind} ({type(error).__name__}: {error}); the file is truncated or "
            "corrupt, download it again"
        ) from error
    except (
        pickle.UnpicklingError,
        ValueError,
        TypeError,
        IndexError,
        KeyError,
        AttributeError,
        RecursionError,
    ) as error:
        raise SignInputError(
            f"{path}: is not a valid pickle ({type(error).__name__}: {error}); expected a (gzip-compressed) pickle "
            "of plain dicts/lists/strings"
        ) from error
