"""Clip-sized frame buffers that skip the kernel's page faults: huge pages, and memory reused from freed clips.

A clip's float32 frames are a fresh buffer of tens of MiB written once. Fresh memory costs page faults and the
kernel zeroing every page before the first write: with 4 KiB pages that was 2-4x the uint8 → float32 conversion
itself on a 2-core VM, with 2 MiB pages (`madvise(MADV_HUGEPAGE)`) it is still about half of it
(benchmarks/video_input.py: "into a fresh buffer, huge pages" vs "into a reused buffer"). So the buffers of clips
that are no longer referenced anywhere are kept (up to `set_frame_buffer_cache(max_bytes)`, default
`DEFAULT_CACHE_BYTES`) and handed to the next clip of a similar size, whose conversion then writes into memory
that is already mapped.

A buffer goes back to the cache only when the last tensor (or view, or numpy array) of it is gone: the tensor is
`torch.from_numpy` of a numpy view of the block, and a `weakref.finalize` on that view — which torch's storage holds
until it is freed — returns the block. Values never depend on the cache: every element of a buffer is written by
its caller before it is read (as with `torch.empty`).
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections import deque
from collections.abc import Sequence

import numpy as np
import torch

_HUGE_PAGE = 2 * 1024 * 1024
_MADV_HUGEPAGE = 14  # <sys/mman.h>, Linux

# Buffers below this size come straight from torch.empty: their page faults are negligible.
CACHE_MIN_BYTES = 4 * 1024 * 1024
# Freed buffers kept for reuse, in bytes (about four 100-frame clips at 224 px): `set_frame_buffer_cache` changes it.
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
# A cached block serves a request of n bytes when it holds at most this many times n (the rest stays unused while
# the buffer lives); new blocks are rounded up to whole huge pages, so clips of similar length share blocks.
CACHE_SLACK = 1.5


def _madvise_hugepage():
    """libc's `madvise`, or None where there is none (not Linux, no libc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        madvise = libc.madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


_MADVISE = _madvise_hugepage()


def huge_page_empty(shape: Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """`torch.empty(shape, dtype)` whose pages the kernel may back with 2 MiB huge pages (Linux, transparent huge
    pages in "madvise" mode, the usual default). Only a hint: where huge pages are unavailable nothing changes."""
    buffer = torch.empty(tuple(shape), dtype=dtype)
    nbytes = buffer.numel() * buffer.element_size()
    if _MADVISE is not None and nbytes >= 2 * _HUGE_PAGE:
        start = buffer.data_ptr()
        aligned = (start + _HUGE_PAGE - 1) // _HUGE_PAGE * _HUGE_PAGE
        length = (start + nbytes - aligned) // _HUGE_PAGE * _HUGE_PAGE
        if length > 0:
            _MADVISE(aligned, length, _MADV_HUGEPAGE)  # a hint: a failure (EINVAL on old kernels) changes nothing
    return buffer


class _BlockCache:
    """Freed blocks (uint8 numpy arrays) waiting for reuse.

    `give_back` runs from `weakref.finalize`, i.e. whenever and in whatever thread the last reference to a buffer
    dies — possibly inside `take` itself (a garbage collection triggered there). It therefore never touches the
    block list directly: it appends to `_returned` (atomic under the GIL) and tidies up only if it gets the lock
    without waiting; `take` moves returned blocks into the list under the lock."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._blocks: list[np.ndarray] = []  # oldest first
        self._returned: deque[np.ndarray] = deque()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _absorb(self) -> None:
        """Under the lock: returned blocks into the list, then the oldest dropped beyond `max_bytes`."""
        while self._returned:
            self._blocks.append(self._returned.popleft())
        total = sum(block.nbytes for block in self._blocks)
        while self._blocks and total > self.max_bytes:
            total -= self._blocks.pop(0).nbytes

    def take(self, nbytes: int) -> np.ndarray | None:
        with self._lock:
            self._absorb()
            best = None
            for index in range(len(self._blocks)):
                size = self._blocks[index].nbytes
                if nbytes <= size <= CACHE_SLACK * nbytes and (best is None or size < self._blocks[best].nbytes):
                    best = index
            if best is None:
                self.misses += 1
                return None
            self.hits += 1
            return self._blocks.pop(best)

    def give_back(self, block: np.ndarray) -> None:
        if self.max_bytes <= 0 or self is not _CACHE:  # off, or a parent's cache seen from a forked child: free it
            return
        self._returned.append(block)
        if self._lock.acquire(blocking=False):
            try:
                self._absorb()
            finally:
                self._lock.release()

    def resize(self, max_bytes: int) -> None:
        with self._lock:
            self.max_bytes = max_bytes
            self._absorb()

    def info(self) -> dict[str, int]:
        with self._lock:
            self._absorb()
            return {"max_bytes": self.max_bytes, "blocks": len(self._blocks),
                    "bytes": sum(block.nbytes for block in self._blocks), "hits": self.hits, "misses": self.misses}


_CACHE = _BlockCache(DEFAULT_CACHE_BYTES)


def _reset_after_fork() -> None:
    """A forked child (e.g. a DataLoader worker) starts with an empty cache and a fresh lock: the parent's blocks
    are copy-on-write pages there, and its lock may have been held by another thread at the fork."""
    global _CACHE
    _CACHE = _BlockCache(_CACHE.max_bytes)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


def set_frame_buffer_cache(max_bytes: int) -> None:
    """Keep up to `max_bytes` of freed clip buffers for reuse (default `DEFAULT_CACHE_BYTES`, 256 MiB); 0 turns
    the reuse off and releases what is kept. Per process."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValueError(f"max_bytes: expected a number of bytes >= 0, got {max_bytes!r}")
    _CACHE.resize(max_bytes)


def frame_buffer_cache_info() -> dict[str, int]:
    """The cache's limit, the blocks and bytes it keeps now, and how many requests it served (hits) or not."""
    return _CACHE.info()


def _numpy_dtype(dtype: torch.dtype):
    try:
        return torch.empty(0, dtype=dtype).numpy().dtype
    except (TypeError, RuntimeError):  # bfloat16 & co.: no numpy twin
        return None


def empty_frames(shape: Sequence[int], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An uninitialised contiguous CPU tensor like `torch.empty(shape, dtype=dtype)` for a clip's (or a batch's)
    frames: from a freed clip's memory when the cache holds a block of a fitting size, else fresh memory with the
    huge-page hint. Every element must be written before it is read, exactly as with `torch.empty`."""
    shape = tuple(int(s) for s in shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    np_dtype = _numpy_dtype(dtype) if nbytes >= CACHE_MIN_BYTES and _CACHE.max_bytes > 0 else None
    if np_dtype is None:
        return huge_page_empty(shape, dtype)
    cache = _CACHE
    block = cache.take(nbytes)
    if block is None:
        rounded = -(-nbytes // _HUGE_PAGE) * _HUGE_PAGE
        block = huge_page_empty((rounded,), torch.uint8).numpy()  # the numpy array keeps the tensor's memory alive
    array = block[:nbytes].view(np_dtype).reshape(shape)
    weakref.finalize(array, cache.give_back, block).atexit = False
    return torch.from_numpy(array)
