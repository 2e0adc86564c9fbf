# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""clusterctrl_eeprom's record: its own lock, a marker it never writes without, keys that never collide,
entries that die with the lab state of their board (issue 10)."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils._eeprom_record import (
    RECORD_FORMAT,
    RECORD_KIND,
    Record,
    board_key,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import exclusive_lock
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab


def board(kind='triple', usb_path=None, bus=10, order=1, **extra):
    return SimpleNamespace(driver=SimpleNamespace(type=BoardType(kind)), usb_path=usb_path, bus=bus, order=order, **extra)


def saved_in(path, key, board_, image):
    with Record(path).open() as record:
        record.update(key, board_, image)


def in_thread(function):
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(_call(function)), daemon=True)
    worker.start()
    worker.join(30)  # a guard against a deadlock, not a timing assertion
    assert not worker.is_alive(), 'deadlocked'
    return outcome[0]


def _call(function):
    try:
        return function()
    except Exception as exc:  # pylint: disable=broad-except
        return exc


# ---------------------------------------------------------------------------- keys


def test_boards_without_usb_path_and_with_one_order_get_their_own_entries():
    """Two boards at factory order 20 without a USB path used to share one entry (the key was type@order-20)."""
    first, second = board(order=20, bus=10), board(order=20, bus=11)
    assert board_key(first) == 'triple@bus:10'
    assert board_key(first) != board_key(second)


def test_the_usb_path_names_a_board_when_known_and_the_lab_instance_is_part_of_the_key():
    assert board_key(board(usb_path='1-1.3', bus=7)) == 'triple@usb:1-1.3'
    assert board_key(board(usb_path='1-1.3'), instance='0123456789abcdef') == 'triple@usb:1-1.3#0123456789abcdef'
    assert board_key(board(usb_path='1-1.3', instance='fedcba9876543210')) == 'triple@usb:1-1.3#fedcba9876543210'


def test_a_board_whose_lab_state_is_reset_is_no_longer_in_the_record(tmp_path):
    """The record outlived the lab: after "delete the state file" a save said unchanged and wrote nothing."""
    lab_path = str(tmp_path / 'lab.yml')
    with open(lab_path, 'w') as handle:
        handle.write('controllers: [{type: triple, order: 1, usb_path: "1-1.2"}]\n')
    record_path = str(tmp_path / 'record.json')
    with VirtualLab(lab_path).session() as session:
        controller = session.controllers[0]
        key = board_key(board(usb_path=controller.usb_path), instance=controller.instance)
        saved_in(record_path, key, board(usb_path=controller.usb_path), {'order': 1})
    with VirtualLab(lab_path).session() as session:  # the same board: the record still vouches for its EEPROM
        controller = session.controllers[0]
        with Record(record_path).open(lock=False) as record:
            assert record.saved(board_key(board(usb_path=controller.usb_path), instance=controller.instance)) == {'order': 1}
    os.unlink(VirtualLab(lab_path).state_file)
    with VirtualLab(lab_path).session() as session:  # a factory-fresh board: nothing saved to it yet
        controller = session.controllers[0]
        with Record(record_path).open(lock=False) as record:
            assert record.saved(board_key(board(usb_path=controller.usb_path), instance=controller.instance)) == {}


# ---------------------------------------------------------------------------- what is a record


def test_a_saved_record_carries_its_marker_and_reads_back(tmp_path):
    path = str(tmp_path / 'sub' / 'record.json')
    saved_in(path, 'triple@usb:1-1.2', board(usb_path='1-1.2'), {'order': 1, 'power': [True, False, False]})
    with open(path) as handle:
        document = json.load(handle)
    assert (document['kind'], document['format']) == (RECORD_KIND, RECORD_FORMAT)
    assert document['boards']['triple@usb:1-1.2']['saved'] == {'order': 1, 'power': [True, False, False]}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    record = Record(path)
    record.load()
    assert record.saved('triple@usb:1-1.2')['order'] == 1


@pytest.mark.parametrize(
    'content',
    [
        '{"format": 1, "boards": {}}',  # any JSON named as record was overwritten before
        '{"settings": {"a": 1}}',
        '[1, 2]',
        'root:x:0:0:root:/root:/bin/bash\n',  # record: /etc/passwd left /etc/passwd.lock behind
        '',
    ],
)
def test_a_file_that_is_not_a_record_is_refused_untouched_with_nothing_created_beside_it(tmp_path, content):
    path = tmp_path / 'passwd'
    path.write_text(content)
    with pytest.raises(ClusterCTRLError, match='is not a record of clusterctrl_eeprom') as info, Record(str(path)).open() as record:
        record.update('triple@bus:10', board(), {'order': 1})
    assert 'left alone' in str(info.value)
    assert path.read_text() == content
    assert os.listdir(str(tmp_path)) == ['passwd']


def test_a_record_cannot_be_written_before_it_is_read(tmp_path):
    path = tmp_path / 'record.json'
    path.write_text('{"mine": true}')
    with pytest.raises(ClusterCTRLError, match='only written once it is known to be a record'):
        Record(str(path)).update('k', board(), {'order': 1})
    assert path.read_text() == '{"mine": true}'


@pytest.mark.parametrize(
    'boards, words',
    [
        ('[]', 'boards: expected a mapping'),
        ('{"k": 5}', "boards['k']: expected a mapping"),
        ('{"k": {"saved": []}}', "boards['k'].saved: expected a mapping"),
    ],
)
def test_a_damaged_record_is_a_clear_error(tmp_path, boards, words):
    path = tmp_path / 'record.json'
    text = '{"kind": "%s", "format": %d, "boards": %s}' % (RECORD_KIND, RECORD_FORMAT, boards)
    path.write_text(text)
    with pytest.raises(ClusterCTRLError) as info:
        Record(str(path)).load()
    assert words in str(info.value) and 'is damaged' in str(info.value)
    assert path.read_text() == text


def test_a_record_of_another_format_is_refused(tmp_path):
    path = tmp_path / 'record.json'
    path.write_text(f'{{"kind": "{RECORD_KIND}", "format": 9, "boards": {{}}}}')
    with pytest.raises(ClusterCTRLError, match='has format 9, not 2'):
        Record(str(path)).load()


def test_a_symlinked_record_is_refused(tmp_path):
    target = tmp_path / 'target'
    target.write_text('{"kind": "%s", "format": %d, "boards": {}}' % (RECORD_KIND, RECORD_FORMAT))
    (tmp_path / 'record.json').symlink_to(target)
    with pytest.raises(ClusterCTRLError, match='cannot be read: not a regular file but a symbolic link'):
        Record(str(tmp_path / 'record.json')).load()


# ---------------------------------------------------------------------------- locks


def test_the_lab_state_file_as_record_is_refused_without_deadlock(tmp_path):
    """record: <the lab's state file> waited for ever: its lock <state>.lock is the lab's own, held by the run."""
    lab_path = str(tmp_path / 'lab.yml')
    with open(lab_path, 'w') as handle:
        handle.write('controllers: [{type: triple, order: 1}]\n')
    lab = VirtualLab(lab_path)
    with lab.session():
        before = Path(lab.state_file).read_text()
        outcome = in_thread(lambda: Record(lab.state_file).open().__enter__())
        assert isinstance(outcome, ClusterCTRLError) and 'is not a record of clusterctrl_eeprom' in str(outcome)
        assert Path(lab.state_file).read_text() == before


def test_a_lock_already_held_by_this_run_is_refused_without_deadlock(tmp_path):
    path = str(tmp_path / 'record.json')
    with exclusive_lock(path):
        outcome = in_thread(lambda: Record(path).open().__enter__())
    assert isinstance(outcome, ClusterCTRLError)
    assert 'cannot be locked: this run already holds the lock' in str(outcome)


def test_check_mode_reads_without_creating_anything(tmp_path):
    path = str(tmp_path / 'missing' / 'record.json')
    with Record(path).open(lock=False) as record:
        assert record.saved('triple@bus:10') == {}
    assert os.listdir(str(tmp_path)) == []


def test_the_record_is_read_again_under_the_lock(tmp_path):
    """A parallel run's save between the first read and the lock is not lost."""
    path = str(tmp_path / 'record.json')
    saved_in(path, 'a', board(), {'order': 1})
    record = Record(path)
    opened = record.open()
    real_load = record.load
    calls = []

    def load():
        real_load()
        if not calls:  # between the check and the lock, another run saves
            saved_in(path, 'b', board(bus=11), {'order': 2})
        calls.append(1)

    record.load = load
    with opened:
        assert record.saved('b') == {'order': 2}
        record.update('a', board(), {'power': [True, False, False]})
    final = Record(path)
    final.load()
    assert final.saved('b') == {'order': 2} and final.saved('a') == {'order': 1, 'power': [True, False, False]}
