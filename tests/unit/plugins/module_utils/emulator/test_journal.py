# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""BusJournal: entry format, mutating flags, counting helpers and persistence."""

from __future__ import annotations

import json

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import ENTRY_KEYS, BusJournal
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus

A = 0x20


def make(board='triple'):
    fw = ClusterCTRLFirmware(board)
    adapter = I2CTinyUsbAdapter.for_board(fw, bus_number=7)
    return fw, adapter, EmulatedSMBus(adapter)


def test_entry_format():
    fw, adapter, bus = make()
    bus.write_i2c_block_data(A, Reg.DATA1, [1, 2, Cmd.GET_DATA])
    bus.read_i2c_block_data(A, Reg.DATA2, 3)
    write, read = adapter.journal.to_list()
    assert sorted(write) == sorted(ENTRY_KEYS)
    assert write == {
        'seq': 1,
        'bus': 7,
        'addr': A,
        'op': 'write_i2c_block_data',
        'reg': Reg.DATA1,
        'data': [1, 2, Cmd.GET_DATA],
        'length': None,
        'result': None,
        'messages': 1,
        'usb_transfers': 2,
        'mutating': False,
        'error': None,
        'commands': [{'code': 0xF2, 'name': 'GET_DATA', 'args': [2, 1], 'status': 0, 'deferred': False, 'duration_ms': 0, 'mutating': False}],
    }
    assert (read['seq'], read['op'], read['data'], read['length'], read['result']) == (2, 'read_i2c_block_data', None, 3, [3, 8, 1])
    json.dumps(adapter.journal.to_list())


@pytest.mark.parametrize(
    'action,mutating',
    [
        (lambda bus: bus.write_byte_data(A, Reg.ORDER, 4), True),
        (lambda bus: bus.write_byte_data(A, Reg.MODE, 4), False),
        (lambda bus: bus.write_byte_data(A, Reg.DATA0, 1), False),
        (lambda bus: bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.GET_PSTATUS]), False),
        (lambda bus: bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.GETPATH]), False),
        (lambda bus: bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.GET_USTATUS]), False),
        (lambda bus: bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.ON]), True),
        (lambda bus: bus.write_byte_data(A, Reg.CMD, Cmd.SAVE), True),
        (lambda bus: bus.write_byte_data(A, Reg.CMD, 0x90), True),  # unknown codes count as mutating
        (lambda bus: bus.write_byte_data(A, Reg.CMD, 0), False),
        (lambda bus: bus.read_i2c_block_data(A, 0, 15), False),
    ],
)
def test_mutating_flag(action, mutating):
    fw, adapter, bus = make()
    action(bus)
    assert adapter.journal[-1]['mutating'] is mutating
    assert adapter.journal.count(mutating=True) == int(mutating)


def test_counting_helpers_and_summary():
    fw, adapter, bus = make()
    bus.read_i2c_block_data(A, 0, 15)
    bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.ON])
    bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.GET_PSTATUS])
    bus.read_byte_data(A, Reg.DATA0)
    with pytest.raises(OSError):
        bus.read_byte_data(0x30, 0)
    j = adapter.journal
    assert len(j) == j.count() == j.smbus_calls == 5
    assert j.count(op='read_byte_data') == 2
    assert j.count(error=True) == 1 and j.count(error='ENXIO') == 1 and j.count(error=False) == 4
    assert [c['name'] for c in j.commands()] == ['ON', 'GET_PSTATUS']
    assert [c['name'] for c in j.commands(mutating=True)] == ['ON']
    assert j.summary() == {'smbus_calls': 5, 'messages': 7, 'usb_transfers': 14, 'errors': 1, 'mutating_calls': 1, 'commands': 2}


def test_to_list_and_extend_from_list():
    fw, adapter, bus = make()
    bus.write_i2c_block_data(A, Reg.DATA0, [2, Cmd.ON])
    bus.read_byte(A)
    saved = json.loads(json.dumps(adapter.journal.to_list()))
    restored = BusJournal(saved)
    assert restored.to_list() == adapter.journal.to_list()
    restored.extend_from_list(saved)
    assert [e['seq'] for e in restored] == [1, 2, 3, 4]
    assert restored.count(mutating=True) == 2
    saved[0]['commands'][0]['args'].append(9)
    assert restored[0]['commands'][0]['args'] == [2]  # deep copies
    with pytest.raises(ValueError, match='lacks'):
        restored.extend_from_list([{'seq': 1}])
    restored.clear()
    assert len(restored) == 0


def test_shared_journal_across_buses():
    """Several adapters can write into one journal; entries keep their bus numbers."""
    journal = BusJournal()
    buses = []
    for n, board in ((1, 'triple'), (2, 'phat')):
        adapter = I2CTinyUsbAdapter.for_board(ClusterCTRLFirmware(board), bus_number=n, journal=journal)
        buses.append(EmulatedSMBus(adapter))
    buses[0].read_byte_data(A, 1)
    buses[1].read_byte_data(A, 1)
    assert [(e['bus'], e['result']) for e in journal] == [(1, [3]), (2, [2])]


def test_on_record_sees_each_entry_before_the_smbus_call_returns():
    """The virtual lab persists each transaction from this hook; an error there reaches the caller of the SMBus call."""
    fw, adapter, bus = make()
    seen = []
    adapter.journal.on_record = lambda entry: seen.append((entry['seq'], entry['op'], fw.power_pins[0]))
    bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.ON])
    assert seen == [(1, 'write_i2c_block_data', True)]  # the board had already acted

    def full(entry):
        raise RuntimeError('disk full')

    adapter.journal.on_record = full
    with pytest.raises(RuntimeError, match='disk full'):
        bus.read_byte_data(A, Reg.STATUS)
    adapter.journal.on_record = None
    bus.read_byte_data(A, Reg.STATUS)
    assert len(adapter.journal) == 3
