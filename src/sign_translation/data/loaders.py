"""Loaders for the three sign language translation benchmarks: PHOENIX14T, CSL-Daily and How2Sign.

Each loader takes the dataset root, which holds either the ORIGINAL release or the label files that the
reference implementations publish (GFSLT-VLP for PHOENIX14T, Uni-Sign for CSL-Daily and How2Sign), detects which,
and returns `datasets` objects with the columns

    name   (string)  the entry's id in the release (PHOENIX: without the "<split>/" prefix of the label keys;
                     How2Sign: SENTENCE_NAME, i.e. the clip file name without ".mp4")
    video  (string)  absolute path of the entry's video file or frame folder
    text   (string)  the target sentence
    gloss  (string)  space-separated glosses, "" where the source has none

plus what the source format carries (see each loader). Split names are "train", "dev", "test" for every
dataset; "val"/"validation" are accepted as aliases for "dev" (How2Sign's "val" split is returned as "dev").

Label files are pickles; they are read with `safe_pickle.load_pickle`, which refuses every global, so a
tampered file raises `SignInputError` instead of running code.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from typing import Any

import datasets

from ..processing.errors import SignInputError
from .loader_utils import (
    CANONICAL_SPLITS,
    CHINESE_ENCODINGS,
    LATIN_ENCODINGS,
    MissingVideoPolicy,
    build_splits,
    check_on_missing_video,
    describe_root,
    existing_dir,
    first_existing,
    gloss_string,
    infer_feature,
    join_under,
    normalize_split,
    open_annotation_text,
    order_splits,
    pick_video_root,
    select_splits,
    string_features,
)
from .safe_pickle import load_pickle

logger = logging.getLogger(__name__)

__all__ = ["load_csl_daily", "load_how2sign", "load_phoenix14t", "read_label_file"]

PathLike = str | os.PathLike

# File names of the label files (GFSLT-VLP, Uni-Sign); the dev split is also found under these spellings.
LABEL_FILE_SPELLINGS = {"train": ("train",), "dev": ("dev", "val", "validation"), "test": ("test",)}

PHOENIX_CORPUS_CSV = "PHOENIX-2014-T.{split}.corpus.csv"
PHOENIX_FRAMES = os.path.join("features", "fullFrame-210x260px")
PHOENIX_REQUIRED_COLUMNS = ("name", "orth", "translation")

CSL_LABEL_PICKLE = "csl2020ct_v2.pkl"
CSL_SPLIT_FILE = "split_1.txt"
CSL_FRAMES = os.path.join("sentence", "frames_512x512")

HOW2SIGN_SPLIT_NAMES = {"train": "train", "dev": "val", "test": "test"}  # ours -> the release's file names
HOW2SIGN_CSV = "how2sign_realigned_{split}.csv"
HOW2SIGN_REQUIRED_COLUMNS = ("SENTENCE_NAME", "SENTENCE")
# Uni-Sign keys are "<SENTENCE_NAME>.mp4"; SENTENCE_NAME = "<SENTENCE_ID>-<camera>-rgb_front" and
# SENTENCE_ID = "<VIDEO_ID>_<sentence index>" (YouTube ids may themselves hold "_" and "-").
HOW2SIGN_NAME_PATTERN = re.compile(r"(?P<sentence_id>(?P<video_id>.+)_\d+)-\d+-rgb_front")


# --------------------------------------------------------------------------------------------------------------
# PHOENIX14T
# --------------------------------------------------------------------------------------------------------------


def load_phoenix14t(
    root: PathLike,
    split: str | None = None,
    on_missing_video: MissingVideoPolicy = "error",
    video_root: PathLike | None = None,
) -> datasets.Dataset | datasets.DatasetDict:
    """Load RWTH-PHOENIX-Weather 2014T (German Sign Language weather forecasts; 7096 / 519 / 642 entries).

    `root` is either
      * the original release folder (`PHOENIX-2014-T/`, holding
        `annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv`) or its `annotations/manual/` folder.
        Extra columns: `speaker` (string), `start`, `end` (int32, -1 in the release). `video` is the frame folder
        `<video_root>/<split>/<name>`; default video_root: `<release>/features/fullFrame-210x260px`.
      * a folder with GFSLT-VLP label files `labels.{train,dev,test}` (gzip pickles keyed `"<split>/<name>"`).
        Extra column: `length` (int32, number of frames). `video` is `<video_root>/<split>/<name>` (the label
        key); default video_root: `<root>/features/fullFrame-210x260px` if it exists, else `<root>`.
    The original release wins when a folder holds both.

    Args:
        root: dataset root (see above).
        split: "train", "dev" ("val"/"validation") or "test" for one `Dataset`; None for a `DatasetDict` of all.
        on_missing_video: "error" raises when an entry's frame folder does not exist, "skip" drops such entries
            with a warning, "keep" never looks at the file system (e.g. to build a vocabulary).
        video_root: folder holding the `<split>/<name>/` frame folders, overriding the default.

    Example:
        >>> import gzip, pickle, tempfile
        >>> root = tempfile.mkdtemp()
        >>> entry = {"name": "dev/clip-2", "gloss": "DRUCK TIEF KOMMEN", "text": "tiefer luftdruck", "length": 42}
        >>> with gzip.open(f"{root}/labels.dev", "wb") as f:
        ...     pickle.dump({"dev/clip-2": entry}, f)
        >>> ds = load_phoenix14t(root, split="dev", on_missing_video="keep")
        >>> ds[0]["name"], ds[0]["gloss"], ds[0]["video"] == f"{root}/dev/clip-2"
        ('clip-2', 'DRUCK TIEF KOMMEN', True)
    """
    root = existing_dir(root, "PHOENIX14T root")
    check_on_missing_video(on_missing_video)
    corpus_files = {}
    for name in CANONICAL_SPLITS:
        filename = PHOENIX_CORPUS_CSV.format(split=name)
        found = first_existing([os.path.join(root, "annotations", "manual", filename), os.path.join(root, filename)])
        if found:
            corpus_files[name] = found
    label_files = find_label_files(root)
    if corpus_files:
        if label_files:
            logger.info("%s holds both the original PHOENIX14T release and label files; using the release", root)
        return _phoenix_from_corpus(root, corpus_files, split, on_missing_video, video_root)
    if label_files:
        return _phoenix_from_labels(root, label_files, split, on_missing_video, video_root)
    raise SignInputError(
        f"PHOENIX14T root {root} holds no annotations: looked for "
        f"annotations/manual/{PHOENIX_CORPUS_CSV.format(split='{train,dev,test}')} and "
        f"{PHOENIX_CORPUS_CSV.format(split='{train,dev,test}')} (original release) and labels.{{train,dev,test}} "
        "(GFSLT-VLP label files)"
    )


def _phoenix_from_corpus(
    root: str, corpus_files: dict[str, str], split: str | None, on_missing_video: str, video_root: PathLike | None
) -> datasets.Dataset | datasets.DatasetDict:
    splits = select_splits(split, list(corpus_files), f"PHOENIX14T root {root}")
    release_root = root
    if os.path.dirname(corpus_files[splits[0]]) == root and root.endswith(os.path.join("annotations", "manual")):
        release_root = os.path.dirname(os.path.dirname(root))  # root is the release's annotations/manual/
    frames_root = pick_video_root(video_root, [os.path.join(release_root, PHOENIX_FRAMES)])
    columns, features, sources, searched = {}, {}, {}, {}
    for name in splits:
        rows = _read_phoenix_corpus(corpus_files[name])
        names = [row["name"] for row in rows]
        columns[name] = {
            "name": names,
            "video": join_under(os.path.join(frames_root, name), names),
            "text": [row["translation"] for row in rows],
            "gloss": [row["orth"] for row in rows],
            "speaker": [row.get("speaker") for row in rows],
            "start": [_optional_int(row.get("start"), corpus_files[name], "start") for row in rows],
            "end": [_optional_int(row.get("end"), corpus_files[name], "end") for row in rows],
        }
        features[name] = datasets.Features(
            {
                **string_features("name", "video", "text", "gloss", "speaker"),
                "start": datasets.Value("int32"),
                "end": datasets.Value("int32"),
            }
        )
        sources[name] = corpus_files[name]
        searched[name] = f"video_root {describe_root(frames_root)} for frame folders <video_root>/{name}/<name>"
    return build_splits(columns, features, split, on_missing_video, sources=sources, searched=searched)


def _read_phoenix_corpus(path: str) -> list[dict[str, str]]:
    """Rows of a pipe-delimited `PHOENIX-2014-T.<split>.corpus.csv` as dicts keyed by the header."""
    with open_annotation_text(path, LATIN_ENCODINGS) as f:
        reader = csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header is None:
            raise SignInputError(
                f"{path}: file is empty; expected the header name|video|start|end|speaker|orth|translation"
            )
        header = [column.strip() for column in header]
        missing = [column for column in PHOENIX_REQUIRED_COLUMNS if column not in header]
        if missing:
            raise SignInputError(
                f"{path}: header {'|'.join(header)!r} lacks column(s) {', '.join(missing)}; expected "
                "name|video|start|end|speaker|orth|translation (pipe-delimited)"
            )
        rows = []
        for line_number, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) != len(header):
                raise SignInputError(
                    f"{path}, line {line_number}: {len(fields)} '|'-separated fields, expected {len(header)} "
                    f"({'|'.join(header)})"
                )
            rows.append(dict(zip(header, fields)))
    return rows


def _phoenix_from_labels(
    root: str, label_files: dict[str, str], split: str | None, on_missing_video: str, video_root: PathLike | None
) -> datasets.Dataset | datasets.DatasetDict:
    splits = select_splits(split, list(label_files), f"PHOENIX14T root {root}")
    frames_root = pick_video_root(video_root, [os.path.join(root, PHOENIX_FRAMES), root])
    columns, features, sources, searched = {}, {}, {}, {}
    for name in splits:
        path = label_files[name]
        entries = read_label_file(path)
        keys = list(entries)
        columns[name] = {
            "name": [key.rsplit("/", 1)[-1] for key in keys],
            "video": join_under(frames_root, keys),
            "text": [entry["text"] for entry in entries.values()],
            "gloss": [gloss_string(entry.get("gloss"), path, key) for key, entry in entries.items()],
            "length": [_label_length(entry, path, key) for key, entry in entries.items()],
        }
        features[name] = datasets.Features(
            {**string_features("name", "video", "text", "gloss"), "length": datasets.Value("int32")}
        )
        sources[name] = path
        searched[name] = (
            f"video_root {describe_root(frames_root)} for frame folders <video_root>/<label key '{name}/<name>'>"
        )
    return build_splits(columns, features, split, on_missing_video, sources=sources, searched=searched)


def _label_length(entry: dict, path: str, key: str) -> int | None:
    length = entry.get("length")
    if length is None and isinstance(entry.get("imgs_path"), list):
        return len(entry["imgs_path"])
    if length is not None and (not isinstance(length, int) or isinstance(length, bool)):
        raise SignInputError(f"{path}: entry {key!r} has field 'length' = {length!r}; expected an int (frame count)")
    return length


# --------------------------------------------------------------------------------------------------------------
# CSL-Daily
# --------------------------------------------------------------------------------------------------------------


def load_csl_daily(
    root: PathLike,
    split: str | None = None,
    on_missing_video: MissingVideoPolicy = "error",
    video_root: PathLike | None = None,
) -> datasets.Dataset | datasets.DatasetDict:
    """Load CSL-Daily (Chinese Sign Language, daily-life sentences; 18401 / 1077 / 1176 entries).

    `root` is either
      * the original release folder (holding `sentence_label/csl2020ct_v2.pkl` and `sentence_label/split_1.txt`)
        or its `sentence_label/` folder. `text` is the concatenated `label_word` (checked against `label_char`),
        `gloss` the space-joined `label_gloss`. Extra columns: `signer`, `length` (int32, frames). `video` is the
        frame folder `<video_root>/<name>`; default video_root: `<release>/sentence/frames_512x512`.
      * a folder with Uni-Sign label files `labels.{train,dev,test}` (gzip pickles `{name: {name, gloss (list),
        text, video_path}}`). `video` is `<video_root>/<video_path>`; default video_root: the first existing of
        `<root>/sentence-crop` (Uni-Sign's mp4 folder), `<root>/videos`, else `<root>`.
    The original release wins when a folder holds both.

    Args:
        root: dataset root (see above).
        split: "train", "dev" ("val"/"validation") or "test" for one `Dataset`; None for a `DatasetDict` of all.
        on_missing_video: "error" raises when an entry's video does not exist, "skip" drops such entries with a
            warning, "keep" never looks at the file system.
        video_root: folder holding the videos / frame folders, overriding the default.

    Example:
        >>> import gzip, pickle, tempfile
        >>> root = tempfile.mkdtemp()
        >>> entry = {"name": "S000020_P0000_T00", "gloss": ["他", "今天", "年龄", "4"], "text": "他今年四岁。",
        ...          "video_path": "S000020_P0000_T00.mp4"}
        >>> with gzip.open(f"{root}/labels.test", "wb") as f:
        ...     pickle.dump({entry["name"]: entry}, f)
        >>> ds = load_csl_daily(root, on_missing_video="keep")["test"]
        >>> ds[0]["text"], ds[0]["gloss"], ds[0]["video"] == f"{root}/S000020_P0000_T00.mp4"
        ('他今年四岁。', '他 今天 年龄 4', True)
    """
    root = existing_dir(root, "CSL-Daily root")
    check_on_missing_video(on_missing_video)
    label_pickle = first_existing(
        [os.path.join(root, "sentence_label", CSL_LABEL_PICKLE), os.path.join(root, CSL_LABEL_PICKLE)]
    )
    label_files = find_label_files(root)
    if label_pickle:
        if label_files:
            logger.info("%s holds both the original CSL-Daily release and label files; using the release", root)
        return _csl_from_release(root, label_pickle, split, on_missing_video, video_root)
    if label_files:
        return _csl_from_labels(root, label_files, split, on_missing_video, video_root)
    raise SignInputError(
        f"CSL-Daily root {root} holds no annotations: looked for sentence_label/{CSL_LABEL_PICKLE} and "
        f"{CSL_LABEL_PICKLE} (original release, with {CSL_SPLIT_FILE} beside it) and labels.{{train,dev,test}} "
        "(Uni-Sign label files)"
    )


def _csl_from_release(
    root: str, label_pickle: str, split: str | None, on_missing_video: str, video_root: PathLike | None
) -> datasets.Dataset | datasets.DatasetDict:
    label_dir = os.path.dirname(label_pickle)
    split_file = os.path.join(label_dir, CSL_SPLIT_FILE)
    if not os.path.isfile(split_file):
        raise SignInputError(
            f"{split_file} does not exist; the CSL-Daily release keeps the split list ({CSL_SPLIT_FILE}, 'name|split' "
            f"lines) beside {label_pickle}"
        )
    split_of = _read_csl_split_file(split_file)
    splits = select_splits(split, order_splits(set(split_of.values())), split_file)
    release_root = os.path.dirname(label_dir) if os.path.basename(label_dir) == "sentence_label" else label_dir
    frames_root = pick_video_root(video_root, [os.path.join(release_root, CSL_FRAMES)])

    info = _read_csl_info(label_pickle)
    columns = {name: {"name": [], "text": [], "gloss": [], "signer": [], "length": []} for name in splits}
    mismatched, seen = [], set()
    for index, entry in enumerate(info):
        entry_name = entry.get("name")
        if not isinstance(entry_name, str):
            raise SignInputError(f"{label_pickle}: info[{index}] has no string field 'name' (got {entry_name!r})")
        seen.add(entry_name)
        target = columns.get(split_of.get(entry_name))
        if target is None:
            continue
        text = _csl_text(entry, label_pickle, entry_name)
        chars = entry.get("label_char")
        if isinstance(chars, (list, tuple)) and "".join(map(str, chars)) != text:
            mismatched.append(entry_name)
        target["name"].append(entry_name)
        target["text"].append(text)
        target["gloss"].append(gloss_string(entry.get("label_gloss"), label_pickle, entry_name))
        target["signer"].append(entry.get("signer"))
        target["length"].append(_label_length(entry, label_pickle, entry_name))
    if mismatched:
        logger.warning(
            "%s: for %d entries the joined label_word differs from the joined label_char (first: %s); text uses "
            "label_word",
            label_pickle,
            len(mismatched),
            ", ".join(mismatched[:5]),
        )
    unknown = [name for name, split_name in split_of.items() if split_name in columns and name not in seen]
    if unknown:
        logger.warning(
            "%s lists %d names that %s does not hold (first: %s); they are left out",
            split_file,
            len(unknown),
            label_pickle,
            ", ".join(unknown[:5]),
        )
    signer_feature = infer_feature([s for c in columns.values() for s in c["signer"]], "signer", label_pickle)
    features, sources, searched = {}, {}, {}
    for name, split_columns in columns.items():
        split_columns["video"] = join_under(frames_root, split_columns["name"])
        columns[name] = {key: split_columns[key] for key in ("name", "video", "text", "gloss", "signer", "length")}
        features[name] = datasets.Features(
            {
                **string_features("name", "video", "text", "gloss"),
                "signer": signer_feature,
                "length": datasets.Value("int32"),
            }
        )
        sources[name] = label_pickle
        searched[name] = f"video_root {describe_root(frames_root)} for frame folders <video_root>/<name>"
    return build_splits(columns, features, split, on_missing_video, sources=sources, searched=searched)


def _read_csl_split_file(path: str) -> dict[str, str]:
    """`split_1.txt`: a 'name|split' header, then one 'name|split' line per entry -> {name: canonical split}."""
    split_of = {}
    with open_annotation_text(path, CHINESE_ENCODINGS) as f:
        for line_number, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            fields = line.split("|")
            if len(fields) != 2:
                raise SignInputError(f"{path}, line {line_number}: {line!r}; expected 'name|split'")
            name, split_name = (field.strip() for field in fields)
            if line_number == 1 and name.lower() == "name":
                continue
            split_of[name] = normalize_split(split_name)
    if not split_of:
        raise SignInputError(f"{path}: holds no 'name|split' lines")
    return split_of


def _read_csl_info(path: str) -> list[dict]:
    data = load_pickle(path)
    info = data.get("info") if isinstance(data, dict) else None
    if not isinstance(info, list):
        raise SignInputError(
            f"{path}: expected a dict with an 'info' list of entries {{name, length, label_gloss, label_char, "
            f"label_word, ...}}, got {type(data).__name__}"
            + (f" with keys {sorted(map(str, data))[:8]}" if isinstance(data, dict) else "")
        )
    for index, entry in enumerate(info):
        if not isinstance(entry, dict):
            raise SignInputError(f"{path}: info[{index}] is a {type(entry).__name__}; expected a dict")
    return info


def _csl_text(entry: dict, path: str, name: str) -> str:
    for field in ("label_word", "label_char"):
        value = entry.get(field)
        if isinstance(value, str):
            return value
        if isinstance(value, (list, tuple)) and all(isinstance(token, str) for token in value):
            return "".join(value)
    raise SignInputError(
        f"{path}: entry {name!r} has no 'label_word' (or 'label_char') list of strings; expected the sentence as "
        "a list of words"
    )


def _csl_from_labels(
    root: str, label_files: dict[str, str], split: str | None, on_missing_video: str, video_root: PathLike | None
) -> datasets.Dataset | datasets.DatasetDict:
    splits = select_splits(split, list(label_files), f"CSL-Daily root {root}")
    videos_root = pick_video_root(
        video_root, [os.path.join(root, "sentence-crop"), os.path.join(root, "videos"), root]
    )
    columns, features, sources, searched = {}, {}, {}, {}
    for name in splits:
        path = label_files[name]
        entries = read_label_file(path)
        columns[name] = {
            "name": [_entry_string(entry, "name", key, path) for key, entry in entries.items()],
            "video": join_under(
                videos_root, [_entry_string(entry, "video_path", key, path) for key, entry in entries.items()]
            ),
            "text": [entry["text"] for entry in entries.values()],
            "gloss": [gloss_string(entry.get("gloss"), path, key) for key, entry in entries.items()],
        }
        features[name] = datasets.Features(string_features("name", "video", "text", "gloss"))
        sources[name] = path
        searched[name] = f"video_root {describe_root(videos_root)} for <video_root>/<video_path>"
    return build_splits(columns, features, split, on_missing_video, sources=sources, searched=searched)


# --------------------------------------------------------------------------------------------------------------
# How2Sign
# --------------------------------------------------------------------------------------------------------------


def load_how2sign(
    root: PathLike,
    split: str | None = None,
    on_missing_video: MissingVideoPolicy = "error",
    video_root: PathLike | None = None,
) -> datasets.Dataset | datasets.DatasetDict:
    """Load How2Sign (American Sign Language instructional videos; Uni-Sign: 31086 train / 2349 test entries).

    `root` is either
      * a folder with the realigned English translations `how2sign_realigned_{train,val,test}.csv` (tab-separated,
        `VIDEO_ID VIDEO_NAME SENTENCE_ID SENTENCE_NAME START_REALIGNED END_REALIGNED SENTENCE`), directly or where
        the official download script puts them
        (`sentence_level/<split>/text/en/raw_text/re_aligned/`). Extra columns: `video_id`, `sentence_id`
        (string), `start`, `end` (float32, seconds in the full video). The "val" split is returned as "dev".
      * a folder with Uni-Sign label files `labels.{train,test}` (keys `"<SENTENCE_NAME>.mp4"`). Extra columns:
        `video_id`, `sentence_id`, parsed from the clip name.
    The realigned csvs win when a folder holds both.

    `video` is `<video_root>/<SENTENCE_NAME>.mp4` (Uni-Sign: `<video_root>/<video_path>`). Default video_root, per
    split, the first existing of (`<s>` = train / val / test):
    `<root>/sentence_level/<s>/rgb_front/raw_videos` (official download script),
    `<root>/<s>_rgb_front_clips/raw_videos` (the unzipped `<s>_rgb_front_clips.zip`), `<root>/rgb_format`
    (Uni-Sign), `<root>/videos`, else `<root>`. A `video_root` you pass may contain "{split}", which becomes the
    release's split name (train / val / test), e.g. `"/data/How2Sign/{split}_rgb_front_clips/raw_videos"`.

    Args:
        root: dataset root (see above).
        split: "train", "dev" ("val"/"validation") or "test" for one `Dataset`; None for a `DatasetDict` of all.
        on_missing_video: "error" raises when an entry's clip does not exist, "skip" drops such entries with a
            warning, "keep" never looks at the file system.
        video_root: folder holding the clips, overriding the default (may contain "{split}").

    Example:
        >>> import gzip, pickle, tempfile
        >>> root = tempfile.mkdtemp()
        >>> key = "-fZc293MpJk_0-1-rgb_front.mp4"
        >>> with gzip.open(f"{root}/labels.test", "wb") as f:
        ...     pickle.dump({key: {"name": key, "gloss": "", "text": "Hi!", "video_path": key}}, f)
        >>> ds = load_how2sign(root, split="test", on_missing_video="keep")
        >>> ds[0]["name"], ds[0]["video_id"], ds[0]["sentence_id"], ds[0]["text"]
        ('-fZc293MpJk_0-1-rgb_front', '-fZc293MpJk', '-fZc293MpJk_0', 'Hi!')
    """
    root = existing_dir(root, "How2Sign root")
    check_on_missing_video(on_missing_video)
    csv_files = {}
    for name, release_name in HOW2SIGN_SPLIT_NAMES.items():
        filename = HOW2SIGN_CSV.format(split=release_name)
        found = first_existing(
            [
                os.path.join(root, filename),
                os.path.join(root, "sentence_level", release_name, "text", "en", "raw_text", "re_aligned", filename),
            ]
        )
        if found:
            csv_files[name] = found
    label_files = find_label_files(root)
    if csv_files:
        if label_files:
            logger.info("%s holds both How2Sign realigned csvs and label files; using the csvs", root)
        return _how2sign_from_csv(root, csv_files, split, on_missing_video, video_root)
    if label_files:
        return _how2sign_from_labels(root, label_files, split, on_missing_video, video_root)
    raise SignInputError(
        f"How2Sign root {root} holds no annotations: looked for {HOW2SIGN_CSV.format(split='{train,val,test}')} "
        "(also under sentence_level/<split>/text/en/raw_text/re_aligned/) and labels.{train,dev,test} "
        "(Uni-Sign label files)"
    )


def _how2sign_video_root(root: str, video_root: PathLike | None, split: str) -> str:
    release_name = HOW2SIGN_SPLIT_NAMES.get(split, split)
    if video_root is not None:
        return pick_video_root(os.fspath(video_root).replace("{split}", release_name), [])
    return pick_video_root(
        None,
        [
            os.path.join(root, "sentence_level", release_name, "rgb_front", "raw_videos"),
            os.path.join(root, f"{release_name}_rgb_front_clips", "raw_videos"),
            os.path.join(root, "rgb_format"),
            os.path.join(root, "videos"),
            root,
        ],
    )


def _how2sign_from_csv(
    root: str, csv_files: dict[str, str], split: str | None, on_missing_video: str, video_root: PathLike | None
) -> datasets.Dataset | datasets.DatasetDict:
    splits = select_splits(split, list(csv_files), f"How2Sign root {root}")
    columns, features, sources, searched = {}, {}, {}, {}
    for name in splits:
        path = csv_files[name]
        rows = _read_how2sign_csv(path)
        clips_root = _how2sign_video_root(root, video_root, name)
        names = [row["SENTENCE_NAME"] for row in rows]
        columns[name] = {
            "name": names,
            "video": join_under(clips_root, [f"{clip}.mp4" for clip in names]),
            "text": [row["SENTENCE"] for row in rows],
            "gloss": [""] * len(rows),
            "video_id": [row.get("VIDEO_ID") for row in rows],
            "sentence_id": [row.get("SENTENCE_ID") for row in rows],
            "start": [
                _optional_float(row.get("START_REALIGNED", row.get("START")), path, "START_REALIGNED") for row in rows
            ],
            "end": [_optional_float(row.get("END_REALIGNED", row.get("END")), path, "END_REALIGNED") for row in rows],
        }
        features[name] = datasets.Features(
            {
                **string_features("name", "video", "text", "gloss", "video_id", "sentence_id"),
                "start": datasets.Value("float32"),
                "end": datasets.Value("float32"),
            }
        )
        sources[name] = path
        searched[name] = f"video_root {describe_root(clips_root)} for <video_root>/<SENTENCE_NAME>.mp4"
    return build_splits(columns, features, split, on_missing_video, sources=sources, searched=searched)


def _read_how2sign_csv(path: str) -> list[dict[str, str]]:
    """Rows of a tab-separated `how2sign_realigned_<split>.csv` (read like pandas' `read_csv(sep="\\t")`)."""
    with open_annotation_text(path, LATIN_ENCODINGS) as f:
        reader = csv.DictReader(f, delimiter="\t")
        header = [column.strip() for column in reader.fieldnames or []]
        reader.fieldnames = header
        missing = [column for column in HOW2SIGN_REQUIRED_COLUMNS if column not in header]
        if missing:
            raise SignInputError(
                f"{path}: header {header} lacks column(s) {', '.join(missing)}; expected the tab-separated columns "
                "VIDEO_ID VIDEO_NAME SENTENCE_ID SENTENCE_NAME START_REALIGNED END_REALIGNED SENTENCE"
            )
        rows = []
        for row in reader:
            extra = row.pop(None, None)
            if extra is not None or any(row[column] is None for column in HOW2SIGN_REQUIRED_COLUMNS):
                found = len(header) + len(extra) if extra else sum(value is not None for value in row.values())
                raise SignInputError(
                    f"{path}, line {reader.line_num}: {found} tab-separated fields; expected {len(header)} "
                    f"({' '.join(header)})"
                )
            rows.append(row)
    return rows


def _how2sign_from_labels(
    root: str, label_files: dict[str, str], split: str | None, on_missing_video: str, video_root: PathLike | None
) -> datasets.Dataset | datasets.DatasetDict:
    splits = select_splits(split, list(label_files), f"How2Sign root {root}")
    columns, features, sources, searched = {}, {}, {}, {}
    for name in splits:
        path = label_files[name]
        entries = read_label_file(path)
        clips_root = _how2sign_video_root(root, video_root, name)
        names = [key[: -len(".mp4")] if key.endswith(".mp4") else key for key in entries]
        matches = [HOW2SIGN_NAME_PATTERN.fullmatch(clip) for clip in names]
        columns[name] = {
            "name": names,
            "video": join_under(
                clips_root, [_entry_string(entry, "video_path", key, path) for key, entry in entries.items()]
            ),
            "text": [entry["text"] for entry in entries.values()],
            "gloss": [gloss_string(entry.get("gloss"), path, key) for key, entry in entries.items()],
            "video_id": [match["video_id"] if match else None for match in matches],
            "sentence_id": [match["sentence_id"] if match else None for match in matches],
        }
        features[name] = datasets.Features(
            string_features("name", "video", "text", "gloss", "video_id", "sentence_id")
        )
        sources[name] = path
        searched[name] = f"video_root {describe_root(clips_root)} for <video_root>/<video_path>"
    return build_splits(columns, features, split, on_missing_video, sources=sources, searched=searched)


# --------------------------------------------------------------------------------------------------------------
# Label files (GFSLT-VLP, Uni-Sign) and small parsers
# --------------------------------------------------------------------------------------------------------------


def find_label_files(root: str) -> dict[str, str]:
    """`{split: path}` of the `labels.<split>` files in `root` (dev also as labels.val / labels.validation)."""
    found = {}
    for name, spellings in LABEL_FILE_SPELLINGS.items():
        path = first_existing([os.path.join(root, f"labels.{spelling}") for spelling in spellings])
        if path:
            found[name] = path
    return found


def read_label_file(path: PathLike) -> dict[str, dict[str, Any]]:
    """Read a GFSLT-VLP / Uni-Sign label file: a (gzip) pickle of `{key: {..., "text": str, ...}}`.

    The pickle is loaded with an unpickler that refuses every global; a wrong structure (not a dict, an entry
    that is not a dict or has no string `text`) raises `SignInputError` naming the file and the entry.

    Example:
        >>> import gzip, pickle, tempfile
        >>> path = f"{tempfile.mkdtemp()}/labels.train"
        >>> with gzip.open(path, "wb") as f:
        ...     pickle.dump({"a": {"name": "a", "text": "hello", "gloss": ""}}, f)
        >>> read_label_file(path)["a"]["text"]
        'hello'
    """
    path = os.fspath(path)
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise SignInputError(
            f"{path}: holds a {type(data).__name__}; expected a dict mapping entry names to dicts with a 'text' field"
        )
    for key, entry in data.items():
        if not isinstance(entry, dict):
            raise SignInputError(
                f"{path}: entry {key!r} is a {type(entry).__name__}; expected a dict with a 'text' field"
            )
        text = entry.get("text")
        if not isinstance(text, str):
            problem = "has no field 'text'" if "text" not in entry else f"has 'text' = {text!r}"
            raise SignInputError(f"{path}: entry {key!r} {problem}; expected the target sentence as a string")
    if data and not all(isinstance(key, str) for key in data):
        bad = next(key for key in data if not isinstance(key, str))
        raise SignInputError(f"{path}: entry key {bad!r} is a {type(bad).__name__}; expected string names")
    return data


def _entry_string(entry: dict, field: str, key: str, path: str) -> str:
    """A string field of a label entry, falling back to the entry's key when the field is absent."""
    value = entry.get(field)
    if value is None:
        return key
    if not isinstance(value, str):
        raise SignInputError(f"{path}: entry {key!r} has field '{field}' = {value!r}; expected a string")
    return value


def _optional_int(value: str | None, path: str, column: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError as error:
        raise SignInputError(f"{path}: column '{column}' holds {value!r}; expected an integer") from error


def _optional_float(value: str | None, path: str, column: str) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        return float(value)
    except ValueError as error:
        raise SignInputError(f"{path}: column '{column}' holds {value!r}; expected a number (seconds)") from error
