"""Independent trainer runs of a fixture, side by side: a run whose thread count is fixed gives the same numbers
whatever runs beside it, and a 2-core machine then waits for half as many of them."""
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Sequence


def in_parallel(jobs: Sequence[Callable[[], object]]) -> List[object]:
    """Each job's result, the jobs run as many at a time as this process has cores (each job starts a trainer and
    waits for it); the first job's error is raised once all have ended."""
    with ThreadPoolExecutor(max_workers=len(os.sched_getaffinity(0))) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [future.result() for future in futures]
