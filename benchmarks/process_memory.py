"""Resident-memory readings shared by the memory benchmarks (Linux /proc; `memory_and_speed.py`, `paper_memory.py`).

`reset_peak()` clears the process's high-water mark (writing 5 to /proc/self/clear_refs) and returns the current
resident size; after the work, `status_kib("VmHWM:")` is its peak. Sizes in KiB, as /proc reports them.
"""

from __future__ import annotations

import gc


def status_kib(field: str) -> int:
    """A KiB field of /proc/self/status (e.g. "VmRSS:", "VmHWM:"); 0 where it is absent."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def reset_peak() -> int:
    """Reset the peak resident set size (VmHWM) to the current one, which is returned (KiB)."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status_kib("VmRSS:")


def mem_available_gib() -> float:
    """The machine's MemAvailable in GiB (inf where /proc/meminfo does not say)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return float("inf")
