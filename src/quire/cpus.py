"""The CPUs this process may use, and the thread settings that follow from them.

A machine's core count is not what a process may use: a cluster node gives a job
``SLURM_CPUS_PER_TASK`` of them, a container a cgroup quota, ``taskset`` an affinity
mask, and other processes hold some of the rest. torch's threads wait for each other,
spinning, at every step, so one thread on a core another process holds slows them all
(recognition beside one busy process ran at a third of its speed). quire gives torch as
many threads as the usable CPUs that are idle, looks again as long work goes on, and
takes a count given by ``--threads`` / ``QUIRE_THREADS`` / ``OMP_NUM_THREADS`` as it is.
Letting waiting threads sleep instead (``OMP_WAIT_POLICY=PASSIVE``) made the recognizer
six times slower on an idle machine.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path

log = logging.getLogger("quire")

CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpus(root: Path = CGROUP, membership: Path = Path("/proc/self/cgroup")) -> int | None:
    """The CPUs a cgroup quota allows this process (v2 ``cpu.max``, v1 CFS quota, on its
    own group and the groups above it), ``None`` without a quota."""
    limits = []
    try:
        lines = membership.read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, group = line.split(":", 2)
        version2 = controllers == ""
        if not version2 and "cpu" not in controllers.split(","):
            continue
        base = root if version2 else root / controllers
        if not base.is_dir() and not version2:
            base = root / "cpu"
        folder = base / group.lstrip("/")
        while True:
            limits.append(_quota(folder, version2))
            if folder == base or base not in folder.parents:
                break
            folder = folder.parent
    found = [limit for limit in limits if limit]
    return min(found) if found else None


def _quota(folder: Path, version2: bool) -> int | None:
    """The whole CPUs the quota of one cgroup folder allows (at least 1: a thread on a
    fraction of a CPU would be throttled while the others wait); ``None`` without one."""
    try:
        if version2:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
        else:
            quota = (folder / "cpu.cfs_quota_us").read_text().strip()
            period = (folder / "cpu.cfs_period_us").read_text().strip()
        if quota == "max" or int(quota) <= 0:
            return None
        return max(1, int(quota) // int(period))
    except (OSError, ValueError):
        return None


def usable_cpus() -> int:
    """The fewest of: the CPUs this process may run on, its cgroup quota and Slurm's
    ``SLURM_CPUS_PER_TASK``."""
    counts = [len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()]
    counts.append(cgroup_cpus())
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    counts.append(int(slurm) if slurm.isdigit() else None)
    return max(1, min(count for count in counts if count))


Ticks = dict[str, tuple[int, int]]  # per CPU: idle and all clock ticks since boot


def cpu_ticks() -> Ticks | None:
    """``/proc/stat``'s idle and total ticks of each CPU this process may run on."""
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    found = {}
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            number = name.removeprefix("cpu")
            if number.isdigit() and (allowed is None or int(number) in allowed):
                counts = [int(value) for value in values[:8]]
                found[number] = (counts[3] + counts[4], sum(counts))  # idle + iowait, all
    except (OSError, ValueError, IndexError):
        return None
    return found


def idle_between(before: Ticks | None, after: Ticks | None) -> float | None:
    """How many CPUs were idle between two looks at the ticks."""
    if not before or not after:
        return None
    idle = sum(after[cpu][0] - before[cpu][0] for cpu in before if cpu in after)
    total = sum(after[cpu][1] - before[cpu][1] for cpu in before if cpu in after)
    return len(before) * idle / total if total > 0 else None


def idle_cpus(seconds: float = 0.1) -> float | None:
    """How many of the CPUs this process may run on were idle over the next ``seconds``;
    ``None`` where that cannot be read."""
    before = cpu_ticks()
    time.sleep(seconds)
    return idle_between(before, cpu_ticks())


def _threads_for(free: float, usable: int) -> int:
    """Threads for ``free`` CPUs (idle, or this process's own), at most ``usable``."""
    return max(1, min(usable, math.ceil(free - 0.3)))


def _positive(value: str | int | None) -> int | None:
    text = str(value or "")
    return int(text) if text.isdigit() and int(text) > 0 else None


def use_threads(threads: int | None = None) -> int | None:
    """At the start of a command: ``threads``, else the count the user set
    (:func:`fixed_threads`), fixes the thread count (kept in ``QUIRE_THREADS``, and in
    ``OMP_NUM_THREADS`` for torch's pool, read when torch starts). Returns the fixed
    count, ``None`` when nothing fixes it (:func:`fit_threads` then chooses as a model
    is loaded)."""
    fixed = _positive(threads) or fixed_threads()
    if fixed:
        os.environ["QUIRE_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(fixed)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(fixed)
    return fixed


def fixed_threads() -> int | None:
    """The thread count the user gave: ``--threads`` (kept in ``QUIRE_THREADS``),
    ``QUIRE_THREADS`` or ``OMP_NUM_THREADS`` (torchrun sets 1 for each of its
    processes); ``None`` when quire chooses."""
    given = (os.environ.get(name) for name in ("QUIRE_THREADS", "OMP_NUM_THREADS"))
    return next((count for count in map(_positive, given) if count), None)


# The last look at the CPUs: wall clock, this process's CPU time, ticks, threads chosen.
_last_look: tuple[float, float, Ticks | None, int] | None = None


def _look(count: int, ticks: Ticks | None) -> None:
    """Remember a choice of ``count`` threads, made at the CPUs' ``ticks``."""
    global _last_look
    _last_look = (time.monotonic(), time.process_time(), ticks, count)


def fit_threads(every: float = 5.0) -> int:
    """Before compute on the CPU: the fixed thread count, else as many threads as the
    usable CPUs that are idle now (a look of 0.1 s; a look of the last ``every`` seconds
    is reused), so that no thread waits for a core another process holds. Returns the
    count."""
    import torch

    count = fixed_threads()
    if count is None and _last_look is not None and time.monotonic() - _last_look[0] < every:
        count = _last_look[3]
    elif count is None:
        usable = usable_cpus()
        idle = idle_cpus() if usable > 1 else None
        count = usable if idle is None else _threads_for(idle, usable)
        _look(count, cpu_ticks())
    torch.set_num_threads(count)
    log.debug("%d compute threads", count)
    return count


def refit_threads(every: float = 5.0) -> None:
    """During long work (called as it advances): every ``every`` seconds, fit torch's
    threads again to the CPUs that were idle or this process's own since the last look,
    as other processes start and end. Nothing without torch or with a fixed count."""
    if "torch" not in sys.modules or fixed_threads():
        return
    torch = sys.modules["torch"]
    last = _last_look
    if last is not None and time.monotonic() - last[0] < every:
        return
    count, ticks = torch.get_num_threads(), cpu_ticks()
    if last is not None:
        idle = idle_between(last[2], ticks)
        if idle is not None:
            mine = (time.process_time() - last[1]) / (time.monotonic() - last[0])
            count = _threads_for(idle + mine, usable_cpus())
            if count != torch.get_num_threads():
                torch.set_num_threads(count)
                log.debug("%d compute threads", count)
    _look(count, ticks)
