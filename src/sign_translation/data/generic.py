"""`load_sign_dataset`: your own sign language data from a csv / tsv / jsonl file or a `videofolder`-style folder.

Accepted layouts:

    clips.csv / clips.tsv / clips.jsonl / clips.json   one row per clip: a video path column and a text column,
                                                       optionally gloss, name, split and any other columns
    my_corpus/
        metadata.jsonl (or metadata.csv)               one table; `file_name` relative to my_corpus/
    my_corpus/
        train/metadata.jsonl, dev/metadata.jsonl, ...  one table per split; `file_name` relative to the split folder

The built-in synthetic corpus (`make_synthetic_corpus`) is written in the last layout (plus a `corpus.json` at the
top), so `load_sign_dataset(corpus_dir)` loads it too.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from typing import Any

import datasets

from ..processing.errors import SignInputError
from .loader_utils import (
    BASE_COLUMNS,
    MissingVideoPolicy,
    build_splits,
    check_on_missing_video,
    gloss_string,
    infer_feature,
    normalize_split,
    open_annotation_text,
    order_splits,
    select_splits,
    string_features,
)

logger = logging.getLogger(__name__)

__all__ = ["load_sign_dataset"]

PathLike = str | os.PathLike

# Column names recognised without being told (case-insensitive), in order of preference.
VIDEO_COLUMN_NAMES = ("video", "video_path", "file_name", "filename", "path", "video_file", "file", "frames")
TEXT_COLUMN_NAMES = ("text", "sentence", "translation", "caption", "transcription", "target")
GLOSS_COLUMN_NAMES = ("gloss", "glosses", "orth")
NAME_COLUMN_NAMES = ("name", "id", "sentence_name", "clip_id")
SPLIT_COLUMN = "split"

TABLE_DELIMITERS = {".csv": ",", ".tsv": "\t"}
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")
METADATA_FILES = ("metadata.jsonl", "metadata.csv")
FIX_HINT = "fix the paths (relative ones resolve against the table's folder)"

_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?((0|[1-9][0-9]*)(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def load_sign_dataset(
    path: PathLike,
    split: str | None = None,
    on_missing_video: MissingVideoPolicy = "error",
    video_column: str | None = None,
    text_column: str | None = None,
    gloss_column: str | None = None,
    name_column: str | None = None,
) -> datasets.Dataset | datasets.DatasetDict:
    """Load sign language clips + sentences from a table file or a videofolder-style folder.

    `path` is
      * a `.csv`, `.tsv`, `.jsonl` (one object per line) or `.json` (a list of objects) file: one row per clip;
      * a folder with `metadata.jsonl` / `metadata.csv` (one table, paths relative to the folder);
      * a folder whose subfolders `<split>/` each hold a `metadata.jsonl` / `metadata.csv` (paths relative to
        that split folder) — the layout of the built-in synthetic corpus. A top-level metadata file wins over
        split folders.
    A single table becomes split "train" unless it has a `split` column (values "train", "dev"/"val"/
    "validation", "test", ...).

    Columns found without being told (case-insensitive, first match wins): video from video / video_path /
    file_name / filename / path / video_file / file / frames; text from text / sentence / translation / caption /
    transcription / target; gloss from gloss / glosses / orth (a list is space-joined; "" when absent); name from
    name / id / sentence_name / clip_id (else the video's file stem). `*_column` arguments override. Video paths
    may point to a video file or a frame folder; relative ones resolve against the table's folder, and `video` is
    always absolute. Every other column passes through with an explicit feature: ints -> int64, floats ->
    float32, strings, lists (list[str] -> List(string), [[start, end], ...] -> List(List(int64))); csv/tsv cells
    that all look like integers or numbers become int64 / float32.

    Args:
        path: table file or folder (see above).
        split: one split name for a `Dataset`; None for a `DatasetDict` of all splits.
        on_missing_video: "error" raises when a row's video does not exist, "skip" drops such rows with a warning,
            "keep" never looks at the file system.
        video_column, text_column, gloss_column, name_column: source column names, when auto-detection does not
            fit.

    Example:
        >>> import json, os, tempfile
        >>> folder = tempfile.mkdtemp()
        >>> os.makedirs(f"{folder}/train/train-00000")  # a frame folder
        >>> row = {"file_name": "train-00000", "text": "hello world", "fps": 25.0, "sign_spans": [[0, 4], [5, 9]]}
        >>> with open(f"{folder}/train/metadata.jsonl", "w") as f:
        ...     _ = f.write(json.dumps(row) + "\\n")
        >>> ds = load_sign_dataset(folder, split="train")
        >>> ds[0]["name"], ds[0]["gloss"], ds[0]["sign_spans"], ds[0]["video"] == f"{folder}/train/train-00000"
        ('train-00000', '', [[0, 4], [5, 9]], True)
    """
    check_on_missing_video(on_missing_video)
    if path is None:
        raise SignInputError("path: expected a csv/tsv/jsonl file or a folder, got None")
    resolved = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.exists(resolved):
        raise SignInputError(f"{resolved} does not exist; expected a csv/tsv/jsonl/json file or a videofolder")
    column_args = {"video": video_column, "text": text_column, "gloss": gloss_column, "name": name_column}

    if os.path.isfile(resolved):
        tables = {None: resolved}
    else:
        top_level = next(
            (os.path.join(resolved, n) for n in METADATA_FILES if os.path.isfile(os.path.join(resolved, n))), None
        )
        tables = {None: top_level} if top_level else _split_tables(resolved)

    columns, features, sources, searched = {}, {}, {}, {}
    if None in tables:  # one table; splits from its `split` column
        table = tables[None]
        grouped, table_features, video_source = _table_columns(table, column_args, use_split_column=True)
        grouped = {"train" if name is None else name: group for name, group in grouped.items()}
        for name in select_splits(split, order_splits(grouped), table):
            columns[name], features[name], sources[name] = grouped[name], table_features, table
            searched[name] = f"the paths of column '{video_source}' resolved against {os.path.dirname(table)}"
    else:
        for name in select_splits(split, order_splits(tables), resolved):
            grouped, table_features, video_source = _table_columns(tables[name], column_args, use_split_column=False)
            columns[name], features[name], sources[name] = grouped[None], table_features, tables[name]
            searched[name] = f"the paths of column '{video_source}' resolved against {os.path.dirname(tables[name])}"
    return build_splits(
        columns, features, split, on_missing_video, sources=sources, searched=searched, fix_hint=FIX_HINT
    )


def _split_tables(folder: str) -> dict[str, str]:
    """`{split: metadata file}` of the split subfolders of a videofolder."""
    tables: dict[str, str] = {}
    with os.scandir(folder) as entries:
        subfolders = sorted(entry.name for entry in entries if entry.is_dir())
    for subfolder in subfolders:
        for filename in METADATA_FILES:
            table = os.path.join(folder, subfolder, filename)
            if os.path.isfile(table):
                name = normalize_split(subfolder)
                if name in tables:
                    raise SignInputError(
                        f"{folder}: split folders {os.path.basename(os.path.dirname(tables[name]))!r} and "
                        f"{subfolder!r} both mean split '{name}'; keep one"
                    )
                tables[name] = table
                break
    if not tables:
        raise SignInputError(
            f"{folder} holds no {' or '.join(METADATA_FILES)}, neither at the top nor in split subfolders "
            f"(<split>/{METADATA_FILES[0]}); expected a videofolder layout or pass a csv/tsv/jsonl file. For the "
            "PHOENIX14T, CSL-Daily and How2Sign releases use load_phoenix14t / load_csl_daily / load_how2sign"
        )
    return tables


def _read_table(path: str) -> tuple[list[str], list[dict[str, Any]], list[int], bool]:
    """Column names, rows and their line numbers of a table file, and whether its values are typed (json) or
    strings (csv/tsv)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in TABLE_SUFFIXES:
        raise SignInputError(
            f"{path}: unsupported file type {suffix or '(none)'!r}; expected {', '.join(TABLE_SUFFIXES)}"
        )
    try:
        with (open_annotation_text(path) if suffix in TABLE_DELIMITERS else open(path, encoding="utf-8-sig")) as f:
            if suffix in TABLE_DELIMITERS:
                header, rows, lines = _read_delimited(f, path, TABLE_DELIMITERS[suffix])
                return header, rows, lines, False
            rows, lines = _read_jsonl(f, path) if suffix == ".jsonl" else _read_json(f, path)
            return list(dict.fromkeys(key for row in rows for key in row)), rows, lines, True
    except UnicodeDecodeError as error:
        raise SignInputError(f"{path}: is not UTF-8 text ({error}); expected a UTF-8 {suffix} file") from error


def _read_delimited(f: Any, path: str, delimiter: str) -> tuple[list[str], list[dict[str, Any]], list[int]]:
    reader = csv.DictReader(f, delimiter=delimiter)
    if not reader.fieldnames:
        raise SignInputError(f"{path}: file is empty; expected a header line naming the columns")
    reader.fieldnames = [column.strip() for column in reader.fieldnames]
    rows, lines = [], []
    for row in reader:
        if row.pop(None, None) is not None:
            raise SignInputError(
                f"{path}, line {reader.line_num}: more fields than the {len(reader.fieldnames)} header columns "
                f"({repr(delimiter)}-separated)"
            )
        rows.append(row)
        lines.append(reader.line_num)
    return list(reader.fieldnames), rows, lines


def _read_jsonl(f: Any, path: str) -> tuple[list[dict[str, Any]], list[int]]:
    rows, lines = [], []
    for line_number, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise SignInputError(
                f"{path}, line {line_number}: invalid JSON ({error.msg}); expected one object per line"
            ) from error
        if not isinstance(row, dict):
            raise SignInputError(f"{path}, line {line_number}: a JSON {type(row).__name__}; expected an object")
        rows.append(row)
        lines.append(line_number)
    return rows, lines


def _read_json(f: Any, path: str) -> tuple[list[dict[str, Any]], list[int]]:
    try:
        data = json.load(f)
    except json.JSONDecodeError as error:
        raise SignInputError(
            f"{path}: invalid JSON ({error.msg} at line {error.lineno}); expected a list of objects"
        ) from error
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise SignInputError(f"{path}: holds a JSON {type(data).__name__}; expected a list of objects (one per clip)")
    return data, list(range(1, len(data) + 1))


def _pick_column(
    kind: str, explicit: str | None, columns: list[str], candidates: tuple[str, ...], path: str
) -> str | None:
    if explicit is not None:
        if explicit not in columns:
            raise SignInputError(
                f"{path}: {kind}_column={explicit!r} is not a column; the columns are {', '.join(columns) or 'none'}"
            )
        return explicit
    by_lower = {}
    for column in columns:
        by_lower.setdefault(column.lower(), column)
    return next((by_lower[name] for name in candidates if name in by_lower), None)


def _table_columns(
    path: str, column_args: dict[str, str | None], use_split_column: bool
) -> tuple[dict[str | None, dict[str, list]], datasets.Features, str]:
    """Plain columns grouped by split (key None when the table has no split column), their features, and the
    name of the source video column."""
    columns, rows, lines, typed = _read_table(path)
    video_source = _pick_column("video", column_args["video"], columns, VIDEO_COLUMN_NAMES, path)
    text_source = _pick_column("text", column_args["text"], columns, TEXT_COLUMN_NAMES, path)
    if video_source is None or text_source is None:
        kind, candidates = ("video", VIDEO_COLUMN_NAMES) if video_source is None else ("text", TEXT_COLUMN_NAMES)
        raise SignInputError(
            f"{path}: no {kind} column; looked for {', '.join(candidates)} among the columns "
            f"{', '.join(columns) or '(none)'}; pass {kind}_column=<name>"
        )
    gloss_source = _pick_column("gloss", column_args["gloss"], columns, GLOSS_COLUMN_NAMES, path)
    name_source = _pick_column("name", column_args["name"], columns, NAME_COLUMN_NAMES, path)
    split_source = next((c for c in columns if c.lower() == SPLIT_COLUMN), None) if use_split_column else None
    used = {video_source, text_source, gloss_source, name_source, split_source} - {None}
    shadowed = [column for column in columns if column in BASE_COLUMNS and column not in used]
    if shadowed:
        logger.warning("%s: column(s) %s are replaced by the chosen source columns and dropped", path, shadowed)
    extras = [column for column in columns if column not in used and column not in BASE_COLUMNS]
    logger.info(
        "%s: video <- %r, text <- %r, gloss <- %r, name <- %r, passthrough %s",
        path,
        video_source,
        text_source,
        gloss_source,
        name_source,
        extras,
    )

    base_dir = os.path.dirname(path)
    videos, texts, glosses, names, splits = [], [], [], [], []
    for row, line in zip(rows, lines):
        where = f"{path}, line {line}"
        video = row.get(video_source)
        if not isinstance(video, str) or not video.strip():
            raise SignInputError(
                f"{where}: column '{video_source}' is {video!r}; expected a video file or frame folder path"
            )
        video = os.path.normpath(os.path.join(base_dir, os.path.expanduser(video.strip())))
        text = row.get(text_source)
        if not isinstance(text, str):
            raise SignInputError(
                f"{where}: column '{text_source}' is {text!r}; expected the target sentence as a string"
            )
        videos.append(video)
        texts.append(text)
        glosses.append(gloss_string(row.get(gloss_source) if gloss_source else None, path, f"line {line}"))
        name = row.get(name_source) if name_source else None
        names.append(str(name) if name not in (None, "") else os.path.splitext(os.path.basename(video))[0])
        if split_source:
            value = row.get(split_source)
            if not isinstance(value, str) or not value.strip():
                raise SignInputError(
                    f"{where}: column '{split_source}' is {value!r}; expected a split name such as 'train'"
                )
            splits.append(normalize_split(value))

    table = {"name": names, "video": videos, "text": texts, "gloss": glosses}
    features = dict(string_features(*BASE_COLUMNS))
    for column in extras:
        values = [row.get(column) for row in rows]
        if not typed:
            values = _parse_cells(values)
        features[column] = infer_feature(values, column, path)
        table[column] = values
    if not split_source:
        return {None: table}, datasets.Features(features), video_source
    grouped: dict[str | None, dict[str, list]] = {}
    for name in order_splits(set(splits)):
        keep = [s == name for s in splits]
        grouped[name] = {key: [v for v, k in zip(values, keep) if k] for key, values in table.items()}
    return grouped, datasets.Features(features), video_source


def _parse_cells(values: list[str | None]) -> list[Any]:
    """csv/tsv cells of one column as ints (all integers), floats (all numbers) or the strings themselves.

    Integers with leading zeros ("007") stay strings so ids round-trip; empty cells become None in numeric columns.
    """
    present = [value.strip() for value in values if value is not None and value.strip()]
    if not present:
        return values
    if all(_INT.fullmatch(value) for value in present):
        return [int(value) if value is not None and value.strip() else None for value in values]
    if all(_FLOAT.fullmatch(value) for value in present):
        return [float(value) if value is not None and value.strip() else None for value in values]
    return values
