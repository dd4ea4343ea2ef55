"""Machinery shared by the dataset loaders: split names, video paths, missing videos, typed `datasets` columns.

Every loader turns its source into plain columns (`{"name": [...], "video": [...], "text": [...], ...}`) plus an
explicit `datasets.Features`, then calls `build_splits`, which applies the `on_missing_video` policy and returns a
`Dataset` (one split asked for) or a `DatasetDict` (all splits).
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import io
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import datasets

from ..processing.errors import SignInputError

logger = logging.getLogger(__name__)

MissingVideoPolicy = Literal["error", "skip", "keep"]
ON_MISSING_VIDEO_CHOICES = ("error", "skip", "keep")

# Split names are "train", "dev", "test" everywhere; these spellings of the development split mean "dev".
CANONICAL_SPLITS = ("train", "dev", "test")
SPLIT_ALIASES = {"val": "dev", "valid": "dev", "validation": "dev", "development": "dev"}

# Columns every loader returns first, in this order (all strings).
BASE_COLUMNS = ("name", "video", "text", "gloss")

# How many missing paths an error message lists.
MISSING_SHOWN = 5


# ---------------------------------------------------------------------------------------------- text encodings
# Annotation files as people have them: UTF-8 (with or without BOM), else the corpus's legacy encoding — Latin-1
# for PHOENIX corpus.csv and How2Sign csv (cp1252 = Latin-1 + printable 0x80-0x9f), GBK for CSL-Daily's split
# file (GB18030 is its superset).
LATIN_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
CHINESE_ENCODINGS = ("utf-8-sig", "gb18030")
_ENCODING: contextvars.ContextVar[str | None] = contextvars.ContextVar("annotation_encoding", default=None)


@contextlib.contextmanager
def annotation_encoding(encoding: str | None):
    """Read csv/txt annotation files with this encoding inside the block (None: detect).

    >>> from sign_translation.data import annotation_encoding, load_phoenix14t
    >>> with annotation_encoding("latin-1"):  # doctest: +SKIP
    ...     dataset = load_phoenix14t("PHOENIX-2014-T")
    """
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError as err:
            raise SignInputError(f"--encoding {encoding}: unknown text encoding (e.g. utf-8, latin-1, gbk)") from err
    token = _ENCODING.set(encoding)
    try:
        yield
    finally:
        _ENCODING.reset(token)


def open_annotation_text(path: str, candidates: Sequence[str] = LATIN_ENCODINGS) -> io.StringIO:
    """A csv/txt annotation file decoded with the chosen (`annotation_encoding`) or detected encoding, as a text
    stream (newlines kept as in the file, like `open(..., newline="")`). A non-UTF-8 file is logged with the
    encoding used, so the user sees how it was read."""
    with open(path, "rb") as f:
        raw = f.read()
    chosen = _ENCODING.get()
    if chosen:
        try:
            text = raw.decode("utf-8-sig" if codecs.lookup(chosen).name == "utf-8" else chosen)
        except UnicodeDecodeError as err:
            raise SignInputError(
                f"{path}: not valid {chosen} at byte {err.start} ({raw[err.start:err.start + 4]!r}); pass the "
                "file's encoding with --encoding (e.g. utf-8, latin-1, gbk)"
            ) from err
        logger.info("%s: read as %s (chosen)", path, chosen)
        return io.StringIO(text, newline="")
    for candidate in candidates:
        try:
            text = raw.decode(candidate)
        except UnicodeDecodeError:
            continue
        if candidate != "utf-8-sig":
            logger.warning("%s is not UTF-8: read it as %s (detected; pass --encoding to choose)", path, candidate)
        return io.StringIO(text, newline="")
    raise SignInputError(
        f"{path}: is not text in any of {', '.join(candidates)}; pass the file's encoding with --encoding"
    )


def string_features(*names: str) -> dict[str, datasets.Value]:
    """`{name: Value("string")}` for each name, in order."""
    return {name: datasets.Value("string") for name in names}


def normalize_split(name: str) -> str:
    """Canonical split name: lower-cased, with val/valid/validation/development mapped to "dev"."""
    name = str(name).strip().lower()
    return SPLIT_ALIASES.get(name, name)


def order_splits(names: Iterable[str]) -> list[str]:
    """train, dev, test first, then any other split names alphabetically."""
    names = set(names)
    return [s for s in CANONICAL_SPLITS if s in names] + sorted(names - set(CANONICAL_SPLITS))


def select_splits(split: str | None, available: Sequence[str], source: str) -> list[str]:
    """The splits to load: all `available` ones for `split=None`, else the one asked for (aliases accepted)."""
    if split is None:
        return list(available)
    if not isinstance(split, str):
        raise SignInputError(f"split: expected a string such as 'train', 'dev' or 'test' or None, got {split!r}")
    wanted = normalize_split(split)
    if wanted not in available:
        alias = f" (= '{wanted}')" if wanted != split else ""
        problem = (
            f"split {split!r}{alias} is not present" if wanted in CANONICAL_SPLITS else f"unknown split {split!r}"
        )
        raise SignInputError(
            f"{source}: {problem}; available splits: {', '.join(available) or 'none'} "
            "('val'/'validation' are accepted for 'dev')"
        )
    return [wanted]


def check_on_missing_video(on_missing_video: str) -> None:
    """Validate the `on_missing_video` argument."""
    if on_missing_video not in ON_MISSING_VIDEO_CHOICES:
        raise SignInputError(
            f"on_missing_video: expected one of {', '.join(map(repr, ON_MISSING_VIDEO_CHOICES))}, "
            f"got {on_missing_video!r}"
        )


def existing_dir(path: str | os.PathLike, what: str) -> str:
    """`path` as an absolute folder path; `SignInputError` naming it when it does not exist or is a file."""
    if path is None:
        raise SignInputError(f"{what}: expected a folder path, got None")
    resolved = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.exists(resolved):
        raise SignInputError(f"{what} {resolved} does not exist; expected a folder")
    if not os.path.isdir(resolved):
        raise SignInputError(f"{what} {resolved} is a file; expected the folder that holds it")
    return resolved


def first_existing(candidates: Sequence[str]) -> str | None:
    """The first path in `candidates` that exists, or None."""
    for candidate in candidates:
        if os.path.exists(candidate):
            return candidate
    return None


def pick_video_root(video_root: str | os.PathLike | None, candidates: Sequence[str]) -> str:
    """The user's `video_root` (absolute), else the first existing default candidate, else the first candidate.

    Only the few candidate folders are looked at, never the entries, so this is cheap even for
    `on_missing_video="keep"`.
    """
    if video_root is not None:
        return os.path.abspath(os.path.expanduser(os.fspath(video_root)))
    return first_existing(candidates) or candidates[0]


def describe_root(path: str) -> str:
    """`path`, flagged when it does not exist (one stat, so also fine for `on_missing_video="keep"`)."""
    return path if os.path.isdir(path) else f"{path} (which does not exist)"


def join_under(root: str, relative_paths: Iterable[str]) -> list[str]:
    """`root/<path>` for each path (absolute paths stay as they are), as normalized absolute strings."""
    join, normpath = os.path.join, os.path.normpath
    return [normpath(join(root, path)) for path in relative_paths]


def gloss_string(value: Any, source: str, entry: str) -> str:
    """A gloss field as one space-separated string ("" when absent); lists of glosses are joined."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(token, str) for token in value):
        return " ".join(value)
    raise SignInputError(
        f"{source}: entry {entry!r} has field 'gloss' of type {type(value).__name__}; expected a string or a list "
        "of strings"
    )


def apply_missing_video_policy(
    columns: dict[str, list],
    on_missing_video: str,
    *,
    source: str,
    split: str,
    searched: str,
    fix_hint: str = "pass video_root=<folder with the videos>",
) -> dict[str, list]:
    """Check that every entry's video exists (unless "keep"); raise or drop the missing ones.

    `searched` says where videos were looked for (the video_root and how paths are formed); it goes into the
    error message so the user knows what to fix; `fix_hint` says how to point the loader at the videos.
    """
    if on_missing_video == "keep":
        return columns
    videos = columns["video"]
    exists = os.path.exists
    present = [exists(video) for video in videos]
    missing = [video for video, ok in zip(videos, present) if not ok]
    if not missing:
        return columns
    if on_missing_video == "error":
        shown = ", ".join(missing[:MISSING_SHOWN]) + (", ..." if len(missing) > MISSING_SHOWN else "")
        raise SignInputError(
            f"{source}: {len(missing)} of {len(videos)} entries of split '{split}' have no video (searched "
            f"{searched}; first missing: {shown}); {fix_hint}, "
            "on_missing_video='skip' to drop those entries, or on_missing_video='keep' to load the annotations "
            "without videos"
        )
    logger.warning(
        "%s: skipping %d of %d entries of split '%s' whose video does not exist (searched %s)",
        source,
        len(missing),
        len(videos),
        split,
        searched,
    )
    return {key: [value for value, ok in zip(values, present) if ok] for key, values in columns.items()}


def build_splits(
    split_columns: Mapping[str, dict[str, list]],
    features: Mapping[str, datasets.Features],
    split: str | None,
    on_missing_video: str,
    *,
    sources: Mapping[str, str],
    searched: Mapping[str, str],
    fix_hint: str = "pass video_root=<folder with the videos>",
) -> datasets.Dataset | datasets.DatasetDict:
    """Typed datasets from plain columns: one `Dataset` when `split` was asked for, else a `DatasetDict`.

    `split_columns`, `features`, `sources` and `searched` map each split name to its columns, its `Features`, the
    annotation file it came from and a description of where its videos were looked for (for error messages).
    """
    built = {}
    for name, columns in split_columns.items():
        columns = apply_missing_video_policy(
            columns, on_missing_video, source=sources[name], split=name, searched=searched[name], fix_hint=fix_hint
        )
        built[name] = datasets.Dataset.from_dict(columns, features=features[name], split=datasets.NamedSplit(name))
    if split is not None:
        return next(iter(built.values()))
    return datasets.DatasetDict(built)


def infer_feature(values: Sequence[Any], column: str, source: str) -> datasets.features.features.FeatureType:
    """An explicit feature for a passthrough column from its Python values (None allowed anywhere).

    str -> string, bool -> bool, int -> int64, float (or ints mixed with floats) -> float32, lists -> `List` of
    the element feature (so list[str] -> List(string), list of [start, end] -> List(List(int64))). Anything else
    falls back to Arrow's own inference.
    """
    present = [value for value in values if value is not None]
    if not present:
        return datasets.Value("string")
    kinds = {_kind(value) for value in present}
    if kinds == {"bool"}:
        return datasets.Value("bool")
    if kinds == {"int"}:
        return datasets.Value("int64")
    if kinds <= {"int", "float"}:
        return datasets.Value("float32")
    if kinds == {"str"}:
        return datasets.Value("string")
    if kinds == {"list"}:
        elements = [element for value in present for element in value]
        return datasets.List(infer_feature(elements, column, source))
    try:
        return datasets.Dataset.from_dict({column: list(values)}).features[column]
    except Exception as error:  # Arrow raises several types for mixed values
        raise SignInputError(
            f"{source}: column '{column}' mixes value types ({', '.join(sorted(kinds))}); expected one type per "
            f"column ({type(error).__name__}: {error})"
        ) from error


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__
