# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: owner-only files the collection keeps on the managed node. Not a public API.

Used by the virtual lab (lab file, state, journal, lock) and by clusterctrl_eeprom's record.
Every path here may be named by a user or replaced by another local user, so:

* a file is read only when it is a regular file of bounded size, checked before anything is read
  (``/dev/zero`` never ends, a FIFO blocks forever);
* files the collection writes (state, record, journal, lock, temporary files) are opened without
  following a symbolic link and must be regular files; they are created owner-only (0600,
  directories 0700) whatever the umask;
* a file is replaced atomically through a temporary file created ``O_EXCL`` with a random name;
* ``exclusive_lock`` holds ``flock`` on ``<path>.lock`` and refuses (EDEADLK) a lock file this
  process already holds, where waiting would wait forever.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import stat
import sys

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
# A lab file, a lab state and an EEPROM record are small; anything bigger is not one.
MAX_FILE_BYTES = 1024 * 1024
# Integers of more digits than this are no counter, register or size of ours.
MAX_INT_DIGITS = 40

_TEMPORARY = re.compile(r'\.tmp\.[0-9a-f]{16}\Z')
_FILE_KINDS = (
    (stat.S_ISDIR, 'a directory'),
    (stat.S_ISLNK, 'a symbolic link'),
    (stat.S_ISFIFO, 'a FIFO'),
    (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'),
    (stat.S_ISSOCK, 'a socket'),
)
# (st_dev, st_ino) of the lock files this process holds: a second flock on one of them would wait forever.
_HELD_LOCKS = set()


class FileRefused(OSError):
    """A path that is not a regular file (or is a symbolic link where none is followed)."""


class FileTooLarge(FileRefused):
    """A regular file larger than the caller's bound; ``size`` and ``limit`` in bytes."""

    def __init__(self, path: str, size: int, limit: int):
        super().__init__(errno.EFBIG, f'the file is {size} bytes or more; at most {limit} are read', path)
        self.size = size
        self.limit = limit


def _refuse_unless_regular(path: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise FileRefused(errno.EISDIR, os.strerror(errno.EISDIR), path)
    kind = next((name for test, name in _FILE_KINDS if test(mode)), 'a special file')
    raise FileRefused(errno.EINVAL, f'not a regular file but {kind}', path)


def read_regular(path: str, limit: int = MAX_FILE_BYTES, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    Anything else is refused before a byte is read: FileRefused for a directory, FIFO, device or
    socket (and a symbolic link unless ``follow_symlinks``), FileTooLarge beyond ``limit``. A missing
    file raises FileNotFoundError; other OSErrors go through.
    """
    info = os.stat(path) if follow_symlinks else os.lstat(path)
    _refuse_unless_regular(path, info.st_mode)
    if info.st_size > limit:
        raise FileTooLarge(path, info.st_size, limit)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    fd = os.open(path, flags)  # O_NONBLOCK: a FIFO swapped in since the stat cannot block the open
    try:
        _refuse_unless_regular(path, os.fstat(fd).st_mode)
        chunks = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, limit + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:
        raise FileTooLarge(path, size, limit)
    return b''.join(chunks)


def _bounded_int(text: str) -> int:
    if len(text.lstrip('-')) > MAX_INT_DIGITS:
        raise ValueError(f'a number of {len(text)} digits')
    return int(text)


# Python 3.11+ refuses to convert integers of more than sys.get_int_max_str_digits() digits (4300 by
# default), quickly; older versions take seconds over a megabyte of digits, so they get a check.
_PARSE_INT = int if 0 < getattr(sys, 'get_int_max_str_digits', lambda: 0)() <= 4300 else _bounded_int


def _no_constant(name: str):
    raise ValueError(f'{name} is not JSON')


def parse_json(raw: bytes):
    """The JSON document in ``raw``; ValueError for anything that is not UTF-8 JSON of sane depth and numbers."""
    try:
        return json.loads(raw.decode('utf-8'), parse_int=_PARSE_INT, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise ValueError(f'not UTF-8 text: {exc}') from exc
    except RecursionError as exc:
        raise ValueError('nested too deeply') from exc


def load_json(path: str, limit: int = MAX_FILE_BYTES):
    """The JSON document in the regular file ``path`` (a symbolic link is refused), or None when there is no file.

    Raises OSError (FileRefused, FileTooLarge, PermissionError...) when it cannot be read and
    ValueError when it is not JSON. Nothing is created or locked.
    """
    try:
        raw = read_regular(path, limit, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return parse_json(raw)


def open_private(path: str, flags: int) -> int:
    """Open (creating owner-only if missing) the regular file ``path`` without following a symbolic link.

    ``flags`` are the access flags (``os.O_RDWR``, ``os.O_WRONLY | os.O_APPEND``...). A symbolic
    link, FIFO, device or directory is refused (FileRefused) without being written to; a file
    this process owns is made 0600. Returns the file descriptor.
    """
    with contextlib.suppress(FileNotFoundError):
        _refuse_unless_regular(path, os.lstat(path).st_mode)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a symbolic link put there since the lstat
            raise FileRefused(errno.ELOOP, 'not a regular file but a symbolic link', path) from exc
        raise
    try:
        info = os.fstat(fd)
        _refuse_unless_regular(path, info.st_mode)
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != FILE_MODE:
            os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def write_private(path: str, text: str, sync: bool = True) -> None:
    """Replace ``path`` atomically with ``text``, owner-only.

    The temporary file beside it is created ``O_EXCL`` with a random name (never through a
    symbolic link) and removed on any failure. ``sync=False`` skips the fsync: the replace is
    still atomic against a killed process, only not against a power cut. ``path`` itself must
    be missing or a regular file (a symbolic link there is refused, not replaced).
    """
    with contextlib.suppress(FileNotFoundError):
        _refuse_unless_regular(path, os.lstat(path).st_mode)
    tmp = f'{path}.tmp.{secrets.token_hex(8)}'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    try:
        try:
            os.fchmod(fd, FILE_MODE)  # whatever the umask
            write_all(fd, text.encode('utf-8'))
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove_stale_temporaries(path: str) -> list:
    """Remove the temporary files ``write_private(path)`` left behind when its process was killed.

    Only call this while holding the lock that every writer of ``path`` holds: then no
    temporary file of ``path`` is in use. Returns the names removed.
    """
    directory, base = os.path.split(path)
    removed = []
    for name in os.listdir(directory or '.'):
        if name.startswith(base) and _TEMPORARY.match(name, len(base)):
            candidate = os.path.join(directory, name)
            with contextlib.suppress(OSError):
                if stat.S_ISREG(os.lstat(candidate).st_mode):
                    os.unlink(candidate)
                    removed.append(name)
    return removed


@contextlib.contextmanager
def exclusive_lock(path: str, open_error=None):
    """Hold an exclusive flock on ``path + '.lock'`` (a regular file, created owner-only) for the block.

    A lock file this process already holds is refused with OSError(EDEADLK) instead of waiting
    for ever. ``open_error(exc)`` turns a failure to open the lock file into the caller's exception.
    """
    lock_path = path + '.lock'
    try:
        fd = open_private(lock_path, os.O_RDWR)
        info = os.fstat(fd)
        identity = (info.st_dev, info.st_ino)
        if identity in _HELD_LOCKS:
            os.close(fd)
            raise OSError(errno.EDEADLK, f'this run already holds the lock {lock_path}')
    except OSError as exc:
        if open_error is None:
            raise
        raise open_error(exc) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD_LOCKS.add(identity)
        try:
            yield
        finally:
            _HELD_LOCKS.discard(identity)
    finally:
        os.close(fd)


def make_private_dirs(directory: str) -> None:
    """Create ``directory`` and its missing parents owner-only (0700), whatever the umask (os.makedirs would not)."""
    parent = os.path.dirname(directory)
    if parent and parent != directory and not os.path.isdir(parent):
        make_private_dirs(parent)
    try:
        os.mkdir(directory, DIRECTORY_MODE)
    except FileExistsError:  # a parallel fork made it first
        if os.path.isdir(directory):
            return
        raise
    os.chmod(directory, DIRECTORY_MODE)
