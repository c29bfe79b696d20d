"""Progress bars: on only when stdout and stderr are terminals (or forced); the wrapped work is unchanged."""
import io
import sys

import pytest

from aitl_reid.progress import PROGRESS_ENV, ProgressLoader, progress, progress_enabled


class Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.fixture
def streams(monkeypatch):
    """Replace stdout/stderr by streams that claim to be (or not to be) terminals; return the stderr one."""
    monkeypatch.delenv(PROGRESS_ENV, raising=False)

    def use(stdout_tty, stderr_tty):
        err = Stream(stderr_tty)
        monkeypatch.setattr(sys, "stdout", Stream(stdout_tty))
        monkeypatch.setattr(sys, "stderr", err)
        return err

    return use


@pytest.mark.parametrize("stdout_tty, stderr_tty, shown", [(True, True, True), (False, True, False),
                                                           (True, False, False), (False, False, False)])
def test_bars_show_only_when_stdout_and_stderr_are_terminals(streams, stdout_tty, stderr_tty, shown):
    streams(stdout_tty, stderr_tty)
    assert progress_enabled() is shown


@pytest.mark.parametrize("forced, shown", [("1", True), ("0", False)])
def test_environment_variable_forces_bars_on_or_off(streams, monkeypatch, forced, shown):
    streams(not shown, not shown)
    monkeypatch.setenv(PROGRESS_ENV, forced)
    assert progress_enabled() is shown


def test_without_a_terminal_nothing_is_drawn_and_items_pass_through(streams):
    err = streams(False, False)
    assert list(progress(range(5), "work")) == [0, 1, 2, 3, 4]
    assert err.getvalue() == ""


def test_on_a_terminal_the_bar_goes_to_stderr_and_items_are_unchanged(streams):
    err = streams(True, True)
    assert list(progress(range(5), "work")) == [0, 1, 2, 3, 4]
    assert "work" in err.getvalue() and sys.stdout.getvalue() == ""


def test_progress_loader_keeps_length_and_batches_and_labels_each_epoch(streams):
    err = streams(True, True)
    epoch = {"n": 1}
    loader = ProgressLoader([10, 20, 30], lambda: f"epoch {epoch['n']}")
    assert len(loader) == 3 and list(loader) == [10, 20, 30]
    epoch["n"] = 2
    assert list(loader) == [10, 20, 30]
    assert "epoch 1" in err.getvalue() and "epoch 2" in err.getvalue()
