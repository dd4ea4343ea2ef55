"""The description / embedding caches of MMSLT steps A and B (`DescriptionCache`, `DescriptionCacheWriter`).

Generating descriptions is the dominant cost of MMSLT (PHOENIX14T has about 948k frames), so its results are written
video by video into a cache that survives crashes, resumes, and refuses to mix settings.

Cache format (`DescriptionCache`): a folder with
  * `cache_info.json` — what made the cache (`kind`, `settings`: model id, prompt, max_new_tokens, frame_stride,
    encoder id, pooling, dim, ...; `details`: not compared, e.g. dtype). Written atomically. Appending with other
    `settings` raises `SignInputError` unless `overwrite=True`.
  * `shard-000000-<random>.arrow`, ... — Arrow stream files (the format `datasets.Dataset.from_file` memory-maps),
    one row per video: `name`, `num_frames` (of the source video), `frame_indices` (which source frames were
    described, increasing), `descriptions` (list[str]) or `embeddings` (float32 (n, D)) (+ `source_checksum`: the
    checksum of the descriptions row the embeddings were made from), and `checksum` (SHA-256 of the row).
    A shard is written under a temporary name, fsync'ed and renamed when complete: a killed run leaves whole
    shards or none. Rows are buffered and written `rows_per_shard` videos at a time, so an interrupted run loses
    at most that many videos. The shard's row count is stored in its schema, so a truncated file is detected.
  * `.lock` — held (flock) by the one writer; a second writer fails fast instead of writing duplicates.
Loading checks every row (checksum, frame_indices vs descriptions/embeddings lengths, embedding width, duplicate
names across shards); any failure is a `SignInputError` naming the shard file and the video. Deleting that shard
and re-running regenerates just its videos.

The files here travel with checkpoints (remote code): only `from .module import Name` imports of siblings.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SignInputError

logger = logging.getLogger(__name__)

CACHE_FORMAT = "sign_translation.description_cache"
CACHE_VERSION = 1
CACHE_INFO_FILE = "cache_info.json"
LOCK_FILE = ".lock"
SHARD_PREFIX = "shard-"
SHARD_SUFFIX = ".arrow"
TMP_SUFFIX = ".tmp"
_SHARD_PATTERN = re.compile(r"^shard-(\d{6,})-[0-9a-f]+\.arrow$")
_SCHEMA_KEY = b"sign_translation"
KINDS = ("descriptions", "embeddings")
POOLINGS = ("cls", "mean")


def row_checksum(
    name: str,
    num_frames: int,
    frame_indices: np.ndarray,
    descriptions: Sequence[str] | None = None,
    embeddings: np.ndarray | None = None,
    source_checksum: str | None = None,
) -> str:
    """SHA-256 over everything a cache row holds (lengths included, so no two rows hash alike by concatenation)."""
    digest = hashlib.sha256()
    digest.update(f"{name}\x00{int(num_frames)}\x00".encode())
    indices = np.ascontiguousarray(frame_indices, dtype="<i8")
    digest.update(len(indices).to_bytes(8, "little"))
    digest.update(indices.tobytes())
    if descriptions is not None:
        for text in descriptions:
            data = text.encode("utf-8")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    if embeddings is not None:
        array = np.ascontiguousarray(embeddings, dtype="<f4")
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    if source_checksum is not None:
        digest.update(source_checksum.encode())
    return digest.hexdigest()


def _features(kind: str, dim: int | None):
    import datasets

    columns: dict[str, Any] = {
        "name": datasets.Value("string"),
        "num_frames": datasets.Value("int64"),
        "frame_indices": datasets.List(datasets.Value("int64")),
    }
    if kind == "descriptions":
        columns["descriptions"] = datasets.List(datasets.Value("string"))
    else:
        columns["embeddings"] = datasets.List(datasets.List(datasets.Value("float32"), length=dim))
        columns["source_checksum"] = datasets.Value("string")
    columns["checksum"] = datasets.Value("string")
    return datasets.Features(columns)


class _Shard:
    """One loaded shard: the memory-mapped table and flat numpy views of its list columns."""

    def __init__(self, path: Path, dataset, kind: str, dim: int | None) -> None:
        self.path = path
        self.dataset = dataset
        table = dataset.data.table
        if any(column.num_chunks > 1 for column in table.columns):
            table = table.combine_chunks()
        self.table = table
        self.names: list[str] = table.column("name").to_pylist()
        self.num_frames = table.column("num_frames").to_numpy()
        self.checksums: list[str] = table.column("checksum").to_pylist()
        self.index_offsets, self.indices = _flat_list(table.column("frame_indices"))
        self.descriptions = table.column("descriptions") if kind == "descriptions" else None
        self.source_checksums = table.column("source_checksum").to_pylist() if kind == "embeddings" else None
        if kind == "embeddings":
            self.embedding_offsets, flat = _flat_list(table.column("embeddings"))
            self.embeddings = flat.reshape(-1, dim)  # (frames in shard, D)

    def frame_indices(self, row: int) -> np.ndarray:
        return self.indices[self.index_offsets[row] : self.index_offsets[row + 1]]

    def row_descriptions(self, row: int) -> list[str]:
        return self.descriptions.chunk(0)[row].as_py()

    def row_embeddings(self, row: int) -> np.ndarray:
        return self.embeddings[self.embedding_offsets[row] : self.embedding_offsets[row + 1]]


def _flat_list(column) -> tuple[np.ndarray, np.ndarray]:
    """(offsets rebased to 0, flat values as a numpy view) of a single-chunk list<...> column; nested lists
    (list<fixed_size_list<float, D>>) are flattened down to their scalars."""
    import pyarrow as pa

    chunk = column.chunk(0)
    offsets = chunk.offsets.to_numpy().astype(np.int64)
    values = chunk.flatten()  # honours the chunk's own slice offset
    while pa.types.is_list(values.type) or pa.types.is_fixed_size_list(values.type):
        values = values.flatten()
    return offsets - offsets[0], values.to_numpy(zero_copy_only=False)


class DescriptionCache:
    """Per-frame descriptions or their embeddings, one row per video, in a folder of Arrow shards.

    Opening is lazy: the first lookup loads every shard (memory-mapped with `datasets.Dataset.from_file`),
    checks every row (see the module docstring) and builds the index name → row, so later lookups are dict
    accesses plus numpy slicing. The object pickles as its folder and re-opens, without re-checking, in DataLoader
    worker processes.

    Frame lookup (`embeddings_for`, `descriptions_for`): a requested source-frame index that was described gets
    its own row; any other index gets the nearest described frame (a tie goes to the earlier one). So a cache
    built with `frame_stride=4` serves every frame of the video, each from the closest described frame.

    Example:
    ```python
    >>> import tempfile, numpy as np
    >>> from sign_translation.processing import DescriptionCache
    >>> cache = DescriptionCache(tempfile.mkdtemp())
    >>> with cache.writer("embeddings", {"encoder": "demo", "dim": 2}) as writer:
    ...     writer.add("clip-1", frame_indices=[0, 2], num_frames=4,
    ...                embeddings=np.array([[0, 0], [1, 1]], np.float32), source_checksum="-")
    >>> cache.embeddings_for("clip-1", [0, 1, 2, 3]).tolist()
    [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]]
    >>> len(cache), "clip-1" in cache
    (1, True)

    ```
    """

    def __init__(self, cache_dir: str | os.PathLike, verify: bool = True) -> None:
        self.cache_dir = Path(cache_dir)
        self.verify = verify
        self._shards: list[_Shard] | None = None
        self._index: dict[str, tuple[int, int]] = {}
        self._info: dict | None = None

    @classmethod
    def load(cls, cache_dir: str | os.PathLike, verify: bool = True) -> DescriptionCache:
        """Open an existing cache and load (and check) it now; `SignInputError` if it is missing or corrupt."""
        cache = cls(cache_dir, verify=verify)
        cache._ensure_loaded()
        return cache

    open = load

    # -- pickling (DataLoader workers): the folder, re-opened lazily without re-checking the rows
    def __getstate__(self) -> dict:
        verified = self._shards is not None and self.verify
        return {"cache_dir": str(self.cache_dir), "verify": self.verify and not verified}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cache_dir"], verify=state["verify"])

    def __repr__(self) -> str:
        size = f"{len(self._index)} videos" if self._shards is not None else "not loaded"
        return f"DescriptionCache({str(self.cache_dir)!r}, {size})"

    # -- metadata
    def exists(self) -> bool:
        return (self.cache_dir / CACHE_INFO_FILE).is_file()

    @property
    def info(self) -> dict:
        """The parsed `cache_info.json`."""
        if self._info is None:
            self._info = _read_info(self.cache_dir)
            if self._info is None:
                hint = "" if self.cache_dir.is_dir() else " (the folder does not exist)"
                raise SignInputError(
                    f"{self.cache_dir}: not a description cache: no {CACHE_INFO_FILE}{hint}; create it with "
                    "describe_dataset / descriptions_from_corpus / encode_descriptions (or `sign-translation describe`)"
                )
        return self._info

    @property
    def kind(self) -> str:
        return self.info["kind"]

    @property
    def settings(self) -> dict:
        return self.info["settings"]

    @property
    def dim(self) -> int | None:
        return self.settings.get("dim")

    def shard_files(self) -> list[Path]:
        if not self.cache_dir.is_dir():
            return []
        files = [p for p in self.cache_dir.iterdir() if _SHARD_PATTERN.match(p.name)]
        return sorted(files, key=lambda p: p.name)

    # -- loading
    def reload(self) -> DescriptionCache:
        self._shards, self._index, self._info = None, {}, None
        self._ensure_loaded()
        return self

    def _ensure_loaded(self) -> None:
        if self._shards is not None:
            return
        info = self.info
        kind, dim = info["kind"], info["settings"].get("dim")
        shards: list[_Shard] = []
        index: dict[str, tuple[int, int]] = {}
        for path in self.shard_files():
            shard = _load_shard(path, kind, dim, self.verify)
            for row, name in enumerate(shard.names):
                if name in index:
                    other = shards[index[name][0]].path
                    raise SignInputError(
                        f"{path}: video {name!r} is also in {other}: duplicate cache entries (two writers at once?); "
                        "delete one of the two shard files"
                    )
                index[name] = (len(shards), row)
            shards.append(shard)
        self._shards, self._index = shards, index

    # -- lookup
    @property
    def names(self) -> list[str]:
        self._ensure_loaded()
        return list(self._index)

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._index)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def _locate(self, name: str) -> tuple[_Shard, int]:
        self._ensure_loaded()
        try:
            shard_pos, row = self._index[name]
        except (KeyError, TypeError):
            raise SignInputError(
                f"{self.cache_dir}: no entry for video {name!r} ({len(self._index)} videos cached); was it "
                "described? (run describe_dataset / `sign-translation describe` on its split)"
            ) from None
        return self._shards[shard_pos], row

    def get(self, name: str) -> dict:
        """The row of one video: `name`, `num_frames`, `frame_indices` (int64) and `descriptions` or
        `embeddings` (float32 (n, D), read-only view), `checksum`."""
        shard, row = self._locate(name)
        entry = {
            "name": name,
            "num_frames": int(shard.num_frames[row]),
            "frame_indices": shard.frame_indices(row),
            "checksum": shard.checksums[row],
        }
        if shard.descriptions is not None:
            entry["descriptions"] = shard.row_descriptions(row)
        else:
            entry["embeddings"] = shard.row_embeddings(row)
            entry["source_checksum"] = shard.source_checksums[row]
        return entry

    def checksum(self, name: str) -> str:
        shard, row = self._locate(name)
        return shard.checksums[row]

    def rows_for(self, name: str, frame_indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row positions (into the video's described frames) serving the requested source-frame indices: an exact
        match, else the nearest described frame (ties: the earlier one)."""
        shard, row = self._locate(name)
        described = shard.frame_indices(row)
        num_frames = int(shard.num_frames[row])
        wanted = np.asarray(frame_indices)
        if wanted.ndim != 1 or (wanted.size and not np.issubdtype(wanted.dtype, np.integer)):
            raise SignInputError(f"frame_indices for {name!r}: expected a 1-D sequence of integers, got {wanted!r}")
        wanted = wanted.astype(np.int64)
        if wanted.size and (wanted.min() < 0 or wanted.max() >= num_frames):
            raise SignInputError(
                f"frame_indices for {name!r}: {int(wanted.min())}..{int(wanted.max())} out of range: the video has "
                f"{num_frames} frames (0..{num_frames - 1})"
            )
        after = np.searchsorted(described, wanted).clip(max=len(described) - 1)  # first described ≥ wanted
        before = (after - 1).clip(min=0)
        take_before = np.abs(wanted - described[before]) <= np.abs(described[after] - wanted)
        return np.where(take_before, before, after)

    def embeddings_for(self, name: str, frame_indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """(len(frame_indices), D) float32: the description vector of each requested source frame (see class doc)."""
        if self.kind != "embeddings":
            raise SignInputError(f"{self.cache_dir}: a {self.kind} cache holds no embeddings; use encode_descriptions")
        shard, row = self._locate(name)
        return shard.row_embeddings(row)[self.rows_for(name, frame_indices)]

    def descriptions_for(self, name: str, frame_indices: Sequence[int] | np.ndarray) -> list[str]:
        """The description of each requested source frame (nearest described frame; see class doc)."""
        if self.kind != "descriptions":
            raise SignInputError(f"{self.cache_dir}: an {self.kind} cache holds no descriptions")
        shard, row = self._locate(name)
        texts = shard.row_descriptions(row)
        return [texts[i] for i in self.rows_for(name, frame_indices)]

    @property
    def dataset(self):
        """All rows as one `datasets.Dataset` (memory-mapped shards, concatenated)."""
        import datasets

        self._ensure_loaded()
        if not self._shards:
            features = _features(self.kind, self.dim)
            return datasets.Dataset.from_dict({k: [] for k in features}, features=features)
        return datasets.concatenate_datasets([shard.dataset for shard in self._shards])

    # -- writing
    def writer(
        self,
        kind: str,
        settings: dict,
        details: dict | None = None,
        overwrite: bool = False,
        rows_per_shard: int = 8,
    ) -> DescriptionCacheWriter:
        """A `DescriptionCacheWriter` (context manager) appending rows to this cache; see that class."""
        return DescriptionCacheWriter(self, kind, settings, details, overwrite, rows_per_shard)


def _read_info(cache_dir: Path) -> dict | None:
    path = cache_dir / CACHE_INFO_FILE
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SignInputError(
            f"{path}: unreadable cache info ({err}); delete the cache folder or pass overwrite"
        ) from err
    if not isinstance(info, dict) or info.get("format") != CACHE_FORMAT or info.get("kind") not in KINDS:
        raise SignInputError(f"{path}: not a sign_translation description cache info file")
    if info.get("version") != CACHE_VERSION:
        raise SignInputError(
            f"{path}: cache format version {info.get('version')}, this code reads version {CACHE_VERSION}; rebuild "
            "the cache (overwrite=True)"
        )
    return info


def _load_shard(path: Path, kind: str, dim: int | None, verify: bool) -> _Shard:
    import datasets
    import pyarrow as pa

    def corrupt(what: str, name: str | None = None) -> SignInputError:
        video = f" video {name!r}:" if name is not None else ""
        return SignInputError(
            f"{path}:{video} {what}. The cache entry is corrupt: delete this shard file and re-run the same command "
            "to regenerate its videos"
        )

    try:
        with pa.memory_map(str(path)) as source:  # datasets keeps only its own schema metadata: read ours here
            metadata = pa.ipc.open_stream(source).schema.metadata or {}
        dataset = datasets.Dataset.from_file(str(path))
        shard = _Shard(path, dataset, kind, dim)
    except SignInputError:
        raise
    except Exception as err:  # pyarrow/datasets raise many types for a damaged file
        raise corrupt(
            f"unreadable cache shard ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        ) from err
    try:
        expected_rows = json.loads(metadata[_SCHEMA_KEY])["num_rows"]
    except (KeyError, ValueError, TypeError):
        raise corrupt("no row count in the shard's schema (not written by this cache)") from None
    if expected_rows != len(shard.names):
        raise corrupt(f"truncated: {len(shard.names)} of its {expected_rows} rows are readable")
    for row, name in enumerate(shard.names):
        indices = shard.frame_indices(row)
        num_frames = int(shard.num_frames[row])
        if kind == "descriptions":
            payload = shard.row_descriptions(row)
            count = len(payload)
            what = "descriptions"
        else:
            payload = shard.row_embeddings(row)
            count = payload.shape[0]
            what = "embeddings"
        if count != len(indices):
            raise corrupt(f"{len(indices)} frame indices but {count} {what}", name)
        if len(indices) and (np.any(np.diff(indices) <= 0) or indices[0] < 0 or indices[-1] >= num_frames):
            raise corrupt(f"frame_indices not increasing within 0..{num_frames - 1}", name)
        if kind == "embeddings" and (shard.embedding_offsets[-1] * dim != shard.embeddings.size):
            raise corrupt(f"embedding width is not {dim}", name)
        if verify:
            expected = row_checksum(
                name,
                num_frames,
                indices,
                descriptions=payload if kind == "descriptions" else None,
                embeddings=payload if kind == "embeddings" else None,
                source_checksum=shard.source_checksums[row] if kind == "embeddings" else None,
            )
            if expected != shard.checksums[row]:
                raise corrupt("checksum mismatch (its data changed after it was written)", name)
    return shard


class DescriptionCacheWriter:
    """Appends rows to a `DescriptionCache`, one shard file per `rows_per_shard` videos, atomically.

    Opening it takes the folder's lock, writes `cache_info.json` (or checks that the existing one has the same
    `settings`, else `SignInputError`; `overwrite=True` deletes the old shards first), removes temporary files a
    killed run left, and loads the names already cached so callers can skip them (`name in writer`). On leaving
    the `with` block — also through an exception such as KeyboardInterrupt — buffered complete rows are written.
    """

    def __init__(
        self,
        cache: DescriptionCache,
        kind: str,
        settings: dict,
        details: dict | None = None,
        overwrite: bool = False,
        rows_per_shard: int = 8,
    ) -> None:
        if kind not in KINDS:
            raise SignInputError(f"kind: expected one of {list(KINDS)}, got {kind!r}")
        if not isinstance(rows_per_shard, int) or rows_per_shard < 1:
            raise SignInputError(f"rows_per_shard: expected an integer ≥ 1, got {rows_per_shard!r}")
        settings = json.loads(json.dumps(settings))  # plain JSON values, compared as written
        if kind == "embeddings" and not (isinstance(settings.get("dim"), int) and settings["dim"] > 0):
            raise SignInputError(f"settings: an embeddings cache needs the vector width 'dim', got {settings!r}")
        self.cache = cache
        self.kind = kind
        self.settings = settings
        self.dim = settings.get("dim") if kind == "embeddings" else None
        self.rows_per_shard = rows_per_shard
        self.written_rows = 0
        self._buffer: list[dict] = []
        self._lock_file = None
        cache_dir = cache.cache_dir
        cache_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._prepare(details or {}, overwrite)
        except BaseException:
            self._release_lock()
            raise

    def _acquire_lock(self) -> None:
        import fcntl

        path = self.cache.cache_dir / LOCK_FILE
        self._lock_file = open(path, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            raise SignInputError(
                f"{self.cache.cache_dir}: another process is writing this cache (its {LOCK_FILE} is locked); wait "
                "for it, or use another cache folder"
            ) from None

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None

    def _prepare(self, details: dict, overwrite: bool) -> None:
        cache_dir = self.cache.cache_dir
        for path in cache_dir.iterdir():  # a killed writer's partial files (we hold the lock: none is live)
            if path.name.startswith(".") and path.name.endswith(TMP_SUFFIX):
                path.unlink()
        info = None if overwrite else _read_info(cache_dir)
        if info is not None:
            if info["kind"] != self.kind or info["settings"] != self.settings:
                raise SignInputError(
                    f"{cache_dir / CACHE_INFO_FILE}: {_settings_difference(info, self.kind, self.settings)}"
                )
        else:
            shards = self.cache.shard_files()
            if shards and not overwrite:
                raise SignInputError(
                    f"{cache_dir}: {len(shards)} shard files but no {CACHE_INFO_FILE}: not made by this code, or "
                    "damaged; pass overwrite=True to start again"
                )
            for path in shards:  # old shards first: a crash leaves the old info with fewer, intact rows
                path.unlink()
            (cache_dir / CACHE_INFO_FILE).unlink(missing_ok=True)
            info = {
                "format": CACHE_FORMAT,
                "version": CACHE_VERSION,
                "kind": self.kind,
                "settings": self.settings,
                "details": {
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    **json.loads(json.dumps(details, default=str)),
                },
            }
            _write_atomic(
                cache_dir / CACHE_INFO_FILE, (json.dumps(info, indent=2, ensure_ascii=False) + "\n").encode()
            )
        self.cache._shards, self.cache._info = None, None
        self.cache._ensure_loaded()
        self._done = set(self.cache._index)
        numbers = [int(_SHARD_PATTERN.match(p.name).group(1)) for p in self.cache.shard_files()]
        self._next_shard = max(numbers, default=-1) + 1

    def __contains__(self, name: object) -> bool:
        return name in self._done

    @property
    def done(self) -> set[str]:
        """Names already in the cache or buffered."""
        return set(self._done)

    def add(
        self,
        name: str,
        frame_indices: Sequence[int] | np.ndarray,
        num_frames: int,
        descriptions: Sequence[str] | None = None,
        embeddings: np.ndarray | None = None,
        source_checksum: str | None = None,
    ) -> None:
        """Buffer one video's row; a shard is written every `rows_per_shard` rows."""
        if self._lock_file is None:
            raise SignInputError(f"{self.cache.cache_dir}: the cache writer is closed")
        if not isinstance(name, str) or not name:
            raise SignInputError(f"name: expected a non-empty video name string, got {name!r}")
        if name in self._done:
            raise SignInputError(f"{self.cache.cache_dir}: video {name!r} is already cached; names must be unique")
        indices = np.asarray(frame_indices, dtype=np.int64).reshape(-1)
        num_frames = int(num_frames)
        if indices.size == 0:
            raise SignInputError(f"video {name!r}: no frame index given; expected at least one described frame")
        if np.any(np.diff(indices) <= 0) or indices[0] < 0 or indices[-1] >= num_frames:
            raise SignInputError(
                f"video {name!r}: frame_indices must increase strictly within 0..{num_frames - 1}, got "
                f"{indices[:8].tolist()}{'...' if indices.size > 8 else ''}"
            )
        row: dict[str, Any] = {"name": name, "num_frames": num_frames, "frame_indices": indices}
        if self.kind == "descriptions":
            if descriptions is None or embeddings is not None:
                raise SignInputError(f"video {name!r}: a descriptions cache takes descriptions=[...] only")
            descriptions = list(descriptions)
            if len(descriptions) != indices.size or not all(isinstance(t, str) for t in descriptions):
                raise SignInputError(
                    f"video {name!r}: expected {indices.size} description strings (one per frame index), got "
                    f"{len(descriptions)}"
                )
            row["descriptions"] = descriptions
            row["checksum"] = row_checksum(name, num_frames, indices, descriptions=descriptions)
        else:
            if embeddings is None or descriptions is not None:
                raise SignInputError(f"video {name!r}: an embeddings cache takes embeddings=array only")
            array = np.ascontiguousarray(embeddings, dtype=np.float32)
            if array.shape != (indices.size, self.dim):
                raise SignInputError(
                    f"video {name!r}: embeddings of shape {array.shape}, expected ({indices.size}, {self.dim})"
                )
            source_checksum = "" if source_checksum is None else str(source_checksum)
            row["embeddings"] = array
            row["source_checksum"] = source_checksum
            row["checksum"] = row_checksum(
                name, num_frames, indices, embeddings=array, source_checksum=source_checksum
            )
        self._buffer.append(row)
        self._done.add(name)
        if len(self._buffer) >= self.rows_per_shard:
            self.flush()

    def flush(self) -> Path | None:
        """Write the buffered rows as one shard (temp file, fsync, rename). Returns its path, or None if empty."""
        if not self._buffer:
            return None
        import pyarrow as pa

        features = _features(self.kind, self.dim)
        schema = features.arrow_schema
        columns: dict[str, Any] = {}
        for key in features:
            values = [row[key] for row in self._buffer]
            if key in ("frame_indices", "embeddings"):  # numpy → Arrow without Python lists (embeddings are large)
                lengths = np.array([len(v) for v in values], dtype=np.int32)
                offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
                flat = pa.array(np.concatenate(values).reshape(-1))
                if key == "embeddings":
                    flat = pa.FixedSizeListArray.from_arrays(flat, self.dim)
                values = pa.ListArray.from_arrays(offsets, flat).cast(schema.field(key).type)
            columns[key] = values
        meta = {
            **(schema.metadata or {}),
            _SCHEMA_KEY: json.dumps({"num_rows": len(self._buffer), "kind": self.kind}).encode(),
        }
        schema = schema.with_metadata(meta)
        table = pa.Table.from_pydict(columns, schema=schema)
        path = self.cache.cache_dir / f"{SHARD_PREFIX}{self._next_shard:06d}-{secrets.token_hex(4)}{SHARD_SUFFIX}"
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as stream:
            stream.write_table(table)
        _write_atomic(path, sink.getvalue().to_pybytes())
        self._next_shard += 1
        self.written_rows += len(self._buffer)
        self._buffer = []
        self.cache._shards = None  # readers of this object see the new shard on their next lookup
        return path

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._release_lock()

    def __enter__(self) -> DescriptionCacheWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _settings_difference(info: dict, kind: str, settings: dict) -> str:
    if info["kind"] != kind:
        return f"this is a {info['kind']} cache; a {kind} cache cannot be written into it (use another folder)"
    old = info["settings"]
    keys = sorted(set(old) | set(settings), key=str)
    changes = "; ".join(
        f"{k}: cached {json.dumps(old.get(k))[:80]} vs now {json.dumps(settings.get(k))[:80]}"
        for k in keys
        if old.get(k) != settings.get(k)
    )
    return (
        f"the cache was made with other settings ({changes}). Use another cache folder, the same settings, or "
        "overwrite=True (--overwrite) to delete it and start again"
    )


def _write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary name, fsync, rename: readers and resumed runs only ever see complete files."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}{TMP_SUFFIX}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename itself durable (not possible on every filesystem)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


__all__ = ["DescriptionCache", "DescriptionCacheWriter", "row_checksum"]
