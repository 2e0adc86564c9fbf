# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The owner-only file helpers: bounded reads of regular files only, no symbolic link followed, no deadlock."""

from __future__ import annotations

import errno
import os
import stat
import threading

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import (
    FileRefused,
    FileTooLarge,
    exclusive_lock,
    load_json,
    open_private,
    read_regular,
    remove_stale_temporaries,
    write_private,
)


def mode(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def in_thread(function):
    """Run ``function`` in a thread; what it returned or raised. A hang fails the test instead of hanging it."""
    outcome = []

    def target():
        try:
            outcome.append(('returned', function()))
        except BaseException as exc:  # pylint: disable=broad-except
            outcome.append(('raised', exc))

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(30)  # a guard against a hang, not a timing assertion
    assert not worker.is_alive(), 'blocked'
    return outcome[0]


# ---------------------------------------------------------------------------- reading


def test_read_regular_reads_a_small_file(tmp_path):
    path = tmp_path / 'f'
    path.write_bytes(b'abc')
    assert read_regular(str(path), 3) == b'abc'


def test_a_file_above_the_bound_is_refused_before_reading(tmp_path):
    path = tmp_path / 'big'
    with open(str(path), 'wb') as handle:
        handle.truncate(2 * 1024**3)  # sparse: 2 GiB that reading would have to allocate
    with pytest.raises(FileTooLarge) as info:
        read_regular(str(path), 1024)
    assert (info.value.size, info.value.limit) == (2 * 1024**3, 1024)


@pytest.mark.parametrize('special, words', [('/dev/zero', 'a character device'), ('/dev/null', 'a character device')])
def test_devices_are_refused(special, words):
    kind, exc = in_thread(lambda: read_regular(special, 1024))
    assert kind == 'raised' and isinstance(exc, FileRefused) and words in str(exc)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = str(tmp_path / 'fifo')
    os.mkfifo(fifo)
    kind, exc = in_thread(lambda: read_regular(fifo, 1024))
    if kind == 'returned' or not isinstance(exc, FileRefused):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert isinstance(exc, FileRefused) and 'a FIFO' in str(exc)


def test_a_directory_is_refused_as_such(tmp_path):
    with pytest.raises(FileRefused) as info:
        read_regular(str(tmp_path))
    assert info.value.errno == errno.EISDIR


def test_symbolic_links_are_followed_only_when_asked(tmp_path):
    target = tmp_path / 'target'
    target.write_bytes(b'data')
    link = tmp_path / 'link'
    link.symlink_to(target)
    assert read_regular(str(link)) == b'data'
    with pytest.raises(FileRefused, match='a symbolic link'):
        read_regular(str(link), follow_symlinks=False)


@pytest.mark.parametrize('raw', [b'{"a": NaN}', b'[' * 200000 + b']' * 200000, b'\xff', b'{"n": ' + b'9' * 5000 + b'}', b'{'])
def test_load_json_turns_every_oddity_into_value_error(tmp_path, raw):
    path = tmp_path / 'x.json'
    path.write_bytes(raw)
    with pytest.raises(ValueError):
        load_json(str(path))


def test_load_json_of_a_missing_file_is_none(tmp_path):
    assert load_json(str(tmp_path / 'missing.json')) is None
    assert load_json(str(tmp_path / 'missing-dir' / 'x.json')) is None


# ---------------------------------------------------------------------------- files the collection writes


def test_open_private_creates_owner_only_whatever_the_umask(tmp_path):
    old = os.umask(0)
    try:
        os.close(open_private(str(tmp_path / 'new'), os.O_WRONLY | os.O_APPEND))
    finally:
        os.umask(old)
    assert mode(tmp_path / 'new') == 0o600


def test_open_private_makes_an_own_file_owner_only(tmp_path):
    path = tmp_path / 'journal'
    path.write_text('x\n')
    os.chmod(str(path), 0o644)
    os.close(open_private(str(path), os.O_WRONLY | os.O_APPEND))
    assert mode(path) == 0o600


@pytest.mark.parametrize('make', ['symlink', 'dangling', 'fifo', 'directory'])
def test_open_private_refuses_what_is_not_a_regular_file_and_writes_nothing(tmp_path, make):
    target = tmp_path / 'target'
    target.write_text('precious\n')
    os.chmod(str(target), 0o644)
    path = tmp_path / 'journal'
    if make == 'symlink':
        path.symlink_to(target)
    elif make == 'dangling':
        path.symlink_to(tmp_path / 'nowhere')
    elif make == 'fifo':
        os.mkfifo(str(path))
    else:
        path.mkdir()
    kind, exc = in_thread(lambda: open_private(str(path), os.O_WRONLY | os.O_APPEND))
    assert kind == 'raised' and isinstance(exc, FileRefused), exc
    assert target.read_text() == 'precious\n' and mode(target) == 0o644
    assert not (tmp_path / 'nowhere').exists()


def test_write_private_never_writes_through_a_planted_temporary_name(tmp_path):
    """The old temporary name was <path>.tmp.<pid>, opened O_TRUNC through any symbolic link planted there."""
    target = tmp_path / 'target'
    target.write_text('precious\n')
    path = str(tmp_path / 'state.json')
    os.symlink(str(target), '%s.tmp.%d' % (path, os.getpid()))
    write_private(path, '{"ok": 1}')
    assert target.read_text() == 'precious\n'
    with open(path) as handle:
        assert handle.read() == '{"ok": 1}'
    assert mode(path) == 0o600


def test_write_private_refuses_to_replace_a_symbolic_link(tmp_path):
    target = tmp_path / 'target'
    target.write_text('precious\n')
    link = tmp_path / 'state.json'
    link.symlink_to(target)
    with pytest.raises(FileRefused):
        write_private(str(link), 'x')
    assert os.path.islink(str(link)) and target.read_text() == 'precious\n'


def test_write_private_leaves_no_temporary_file_on_failure(tmp_path):
    path = tmp_path / 'state.json'
    path.mkdir()  # os.replace onto a directory fails
    with pytest.raises(OSError):
        write_private(str(path), 'x', sync=False)
    assert os.listdir(str(tmp_path)) == ['state.json']


def test_stale_temporaries_of_a_killed_writer_are_removed_and_nothing_else(tmp_path):
    path = str(tmp_path / 'state.json')
    for name in ('state.json.tmp.0123456789abcdef', 'state.json.tmp.42', 'other.json.tmp.0123456789abcdef', 'state.json'):
        (tmp_path / name).write_text('x')
    assert remove_stale_temporaries(path) == ['state.json.tmp.0123456789abcdef']
    assert sorted(os.listdir(str(tmp_path))) == ['other.json.tmp.0123456789abcdef', 'state.json', 'state.json.tmp.42']


# ---------------------------------------------------------------------------- locks


def test_a_lock_this_process_holds_is_refused_instead_of_waiting_for_ever(tmp_path):
    path = str(tmp_path / 'lab.state.json')
    with exclusive_lock(path):
        kind, exc = in_thread(lambda: exclusive_lock(path).__enter__())
        assert kind == 'raised' and isinstance(exc, OSError) and exc.errno == errno.EDEADLK
    with exclusive_lock(path):  # released: it can be taken again
        pass


def test_a_symlinked_lock_file_is_refused(tmp_path):
    target = tmp_path / 'target'
    target.write_text('precious\n')
    os.chmod(str(target), 0o644)
    (tmp_path / 'x.lock').symlink_to(target)
    with pytest.raises(FileRefused), exclusive_lock(str(tmp_path / 'x')):
        pass
    assert mode(target) == 0o644


def test_lock_open_errors_become_the_callers_exception(tmp_path):
    (tmp_path / 'x.lock').mkdir()
    with pytest.raises(RuntimeError, match='Is a directory') as info, exclusive_lock(str(tmp_path / 'x'), lambda exc: RuntimeError(exc.strerror)):
        pass
    assert isinstance(info.value.__cause__, OSError)
