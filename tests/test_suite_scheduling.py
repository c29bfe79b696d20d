"""The test suite's own xdist scheduler (tests/conftest.py): under ``make test`` the files sharing the full-scale MARS
tree go to one worker as one unit of work, and the slowest files are handed out first instead of last."""
from types import SimpleNamespace

import pytest

import conftest

pytest.importorskip("xdist")


class Worker:
    """What the scheduler talks to: appends each unit of work it is sent (its test files) to a shared log."""

    shutting_down = False

    def __init__(self, name: str, collection: list, sent: list) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.collection, self.sent = collection, sent

    def send_runtest_some(self, indexes) -> None:
        files = list(dict.fromkeys(self.collection[i].split("::")[0] for i in indexes))
        self.sent.append((self.gateway.id, files))

    def shutdown(self) -> None:
        self.shutting_down = True


def units_sent(collection: list) -> list:
    """Schedule ``collection`` on two workers as ``make test`` does; the units of work in the order they went out."""
    sent = []
    workers = [Worker(name, collection, sent) for name in ("gw0", "gw1")]
    config = SimpleNamespace(getvalue={"dist": "loadfile", "tx": ["2*popen"]}.get,
                             option=SimpleNamespace(loadscopereorder=True))
    scheduler = conftest.pytest_xdist_make_scheduler(config, None)
    for worker in workers:
        scheduler.add_node(worker)
    for worker in workers:
        scheduler.add_node_collection(worker, collection)
    scheduler.schedule()
    return sent


def test_the_slowest_files_go_out_first():
    many_fast = [f"tests/test_many.py::test_{i}" for i in range(30)]  # xdist's own order: most tests first
    collection = many_fast + ["tests/test_resume_exact.py::test_a", "tests/test_bench.py::test_a",
                              "tests/test_bench.py::test_b"]
    sent = units_sent(collection)
    assert [files for _, files in sent[:2]] == [["tests/test_bench.py"], ["tests/test_resume_exact.py"]]
    assert [worker for worker, _ in sent[:2]] == ["gw0", "gw1"]
    assert sent[-1][1] == ["tests/test_many.py"]


def test_files_sharing_the_mars_tree_are_one_unit_of_work():
    collection = ["tests/test_data_check.py::test_a", "tests/test_other.py::test_c",
                  "tests/test_data_mars_fullscale.py::test_b"]
    sent = units_sent(collection)
    assert sent[0][1] == ["tests/test_data_check.py", "tests/test_data_mars_fullscale.py"]  # slow: listed first
    assert sent[1][1] == ["tests/test_other.py"] and len(sent) == 2


def test_other_ways_of_running_keep_xdists_scheduler():
    assert conftest.pytest_xdist_make_scheduler(SimpleNamespace(getvalue={"dist": "load"}.get), None) is None
