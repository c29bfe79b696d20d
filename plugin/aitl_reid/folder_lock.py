"""One writer per run or output folder: an exclusive ``flock`` on a file in the folder, held while a command writes.

Two commands started into one folder at once (a scheduler's requeue while the first attempt still runs,
a double click, two sweep workers given the same output) would otherwise mix their checkpoints, epoch
rows and logs. Every command that writes a run or output folder takes :class:`FolderLock` before it
writes anything; a second one stops with :class:`FolderBusyError` (a ``ValueError``: status 2 at the
command line) naming the folder and the holder (host, process id, command, start time, read from the
lock file), having changed nothing.

The operating system releases a ``flock`` when its holder dies, ``kill -9`` included, so nothing has
to be cleaned up by hand before ``model.resume auto``; the holder's lock file stays behind and the
next command takes it over. A forked child (a data-loader worker) would share the lock and keep it
after its parent's death, so children close their copy at once and the lock lives as long as its holder. On a file system without ``flock`` (some network mounts) the lock cannot
be taken: that is said once per process and the command goes on unprotected.

Folders the lock created are removed again on release if they are still empty: a command stopped by
bad input before it wrote anything leaves no folder behind, and a folder that existed stays.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import shlex
import socket
import sys
import time
from typing import List, Optional, Set

from .serialization import WriteError

LOCK_FILE = ".aitl-reid.lock"
UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL}
_HOLDER_WAIT_S = 1.0  # how long a refused command waits for a holder that has just locked to write who it is
_warned_unsupported: List[str] = []
_held: Set[int] = set()  # descriptors of the locks this process holds


def _close_in_forked_child() -> None:
    for fd in _held:
        try:
            os.close(fd)
        except OSError:
            pass
    _held.clear()


os.register_at_fork(after_in_child=_close_in_forked_child)


class FolderBusyError(ValueError):
    """Another process holds the folder's lock; the message names the folder, the holder and what to do."""


def describe_holder(text: str) -> Optional[str]:
    """The lock file's content (:func:`holder_record`) in words; None if it is not such a record (yet)."""
    try:
        holder = json.loads(text)
        return f"process {holder['pid']} on host {holder['host']}, started {holder['started']}: {holder['command']}"
    except (ValueError, KeyError, TypeError):
        return None


def holder_record() -> str:
    """What this process writes into a lock it holds: host, process id, command line, start time."""
    return json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "command": shlex.join(sys.orig_argv),
                       "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")})


def _missing_folders(folder: str) -> List[str]:
    """``folder`` and those of its parents that do not exist yet, deepest first (what ``makedirs`` will create)."""
    missing, path = [], os.path.abspath(folder)
    while not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


class FolderLock:
    """An exclusive lock on ``folder`` (the file ``lock_file`` in it), for one command's writes.

    ``key`` is how the command's user names the folder (``data.save_dir``, ``--out``), for messages; ``what``
    names the locked output in them if it is not the folder (a file in it with its own ``lock_file``).
    Use as a context manager, or :meth:`acquire` and :meth:`release` (which does nothing unless acquired).
    """

    def __init__(self, folder: str, key: str, lock_file: str = LOCK_FILE, what: str = "") -> None:
        self.folder, self.key = folder, key
        self.what = what or f"{key} '{folder}'"
        self.path = os.path.join(folder, lock_file)
        self._fd: Optional[int] = None
        self._created: List[str] = []
        self._acquired = False
        self._owner = 0  # the process that acquired it: a forked child holds nothing to release

    def acquire(self) -> "FolderLock":
        """Take the lock, creating the folder if needed; raises :class:`FolderBusyError` when another process holds
        it and ``WriteError`` when the folder cannot be written."""
        self._created = _missing_folders(self.folder)
        try:
            os.makedirs(self.folder, exist_ok=True)
            while not self._try_lock():
                pass
        except BaseException as err:
            self._remove_created_folders()
            if not isinstance(err, OSError):
                raise
            raise WriteError(f"{self.key} '{self.folder}' is not writable ({err.strerror or err}); give a folder this "
                             f"process can write with {self.key} PATH", err.errno) from err
        self._acquired, self._owner = True, os.getpid()
        return self

    def _try_lock(self) -> bool:
        """One attempt; False when the file was replaced meanwhile (a holder removed it on release), to try again."""
        existed = os.path.exists(self.path)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _flock(fd, self):
                if not existed:
                    os.remove(self.path)
                return True
            try:
                same_file = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same_file = False
            if not same_file:  # locked a file its holder has just removed: another process may lock the new one
                return False
            os.ftruncate(fd, 0)
            os.write(fd, holder_record().encode("utf-8"))
            self._fd = fd
            _held.add(fd)
            return True
        finally:
            if self._fd != fd:
                os.close(fd)

    def release(self) -> None:
        """Remove the lock file (while still holding it, so a waiting process sees it replaced), let go of the lock,
        and remove the folders :meth:`acquire` created if nothing was written into them."""
        if not self._acquired or os.getpid() != self._owner:
            return
        self._acquired = False
        if self._fd is not None:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            _held.discard(self._fd)
            os.close(self._fd)
            self._fd = None
        self._remove_created_folders()

    def _remove_created_folders(self) -> None:
        for path in self._created:  # deepest first; stops at the first that holds something
            try:
                os.rmdir(path)
            except OSError:
                break
        self._created = []

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _flock(fd: int, lock: FolderLock) -> bool:
    """Lock the file open at ``fd`` for ``lock``: True when locked, False (said once) where the file system cannot."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        holder = _read_holder(fd)
        raise FolderBusyError(f"{lock.what} is in use by {holder}; nothing was written. Wait for that command to end, "
                              f"or give this one another {lock.key}.") from None
    except OSError as err:
        if err.errno not in UNSUPPORTED:
            raise
        _warn_unsupported(lock.folder, err)
        return False


def _read_holder(fd: int) -> str:
    """Who holds the lock, from the file open at ``fd``; a holder that has just locked gets a moment to write it."""
    deadline = time.monotonic() + _HOLDER_WAIT_S
    while True:
        os.lseek(fd, 0, os.SEEK_SET)
        described = describe_holder(os.read(fd, 65536).decode("utf-8", "replace"))
        if described is not None:
            return described
        if time.monotonic() > deadline:
            return "a process that has not written who it is"
        time.sleep(0.05)


def _warn_unsupported(folder: str, err: OSError) -> None:
    """Said once per process: the lock is not taken and the command goes on."""
    if _warned_unsupported:
        return
    _warned_unsupported.append(folder)
    print(f"warning: cannot lock '{folder}' ({err.strerror or err}): its file system does not support flock, so a "
          "second command started into this folder at the same time would not be stopped (README: one writer per "
          "folder); going on without the lock", file=sys.stderr)
