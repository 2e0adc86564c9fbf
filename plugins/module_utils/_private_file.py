# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: owner-only state files, written atomically under an exclusive lock. Not a public API.

Used by the virtual lab's state and by clusterctrl_eeprom's record: files the collection
writes on the managed node are created with mode 0600 (directories 0700), replaced atomically
(a crash never leaves half a file), read back with one notion of missing, unreadable and corrupt,
and guarded by ``flock`` on ``<path>.lock`` so parallel forks queue.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os

FILE_MODE = 0o600


@contextlib.contextmanager
def exclusive_lock(path, open_error=None):
    """Hold an exclusive flock on ``path + '.lock'`` (created owner-only) for the block.

    ``open_error(exc)`` turns a failure to create the lock file into the caller's exception.
    """
    try:
        fd = os.open(path + '.lock', os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        if open_error is None:
            raise
        raise open_error(exc)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def write_private(path, text):
    """Write ``text`` to ``path`` atomically, owner-only."""
    tmp = '%s.tmp.%d' % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def append_private(path, lines):
    """Append text lines to ``path``, creating it owner-only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    with os.fdopen(fd, 'a') as handle:
        for line in lines:
            handle.write(line + '\n')


def load_private_json(path, file_format, error, unreadable, corrupt):
    """The JSON mapping at ``path`` if its ``format`` is ``file_format``; {} when the file is missing
    or of another format (it is then rebuilt). A file that exists but cannot be read or parsed raises
    ``error(unreadable)`` or ``error(corrupt)``: it is never silently replaced."""
    try:
        with open(path) as handle:
            document = json.load(handle)
    except (IOError, OSError):
        if os.path.exists(path):
            raise error(unreadable)
        return {}
    except ValueError:
        raise error(corrupt)
    if not isinstance(document, dict) or document.get('format') != file_format:
        return {}
    return document


def make_private_dirs(directory):
    """Create ``directory`` and its missing parents owner-only (0700), whatever the umask (os.makedirs would not)."""
    parent = os.path.dirname(directory)
    if parent and parent != directory and not os.path.isdir(parent):
        make_private_dirs(parent)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:  # a parallel fork made it first
        if os.path.isdir(directory):
            return
        raise
    os.chmod(directory, 0o700)
