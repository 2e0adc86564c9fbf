# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FaultPlan validation and the faults it injects through I2CTinyUsbAdapter."""

from __future__ import annotations

import errno
import json
import time

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.faults import FaultPlan
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus

A = 0x20


def make(plan, board='triple'):
    fw = ClusterCTRLFirmware(board, order=20)
    adapter = I2CTinyUsbAdapter.for_board(fw, fault_plan=plan)
    return fw, adapter, EmulatedSMBus(adapter)


def outcome(call):
    try:
        call()
        return None
    except OSError as e:
        return e.errno


@pytest.mark.parametrize(
    'field,value,message',
    [
        ('transient_error_rate', 1.5, 'between 0 and 1'),
        ('transient_error_rate', -0.1, 'between 0 and 1'),
        ('transient_error_rate', 'x', 'between 0 and 1'),
        ('after_effect_ratio', 2, 'between 0 and 1'),
        ('seed', 1.5, 'seed'),
        ('seed', True, 'seed'),
        ('stop_after_calls', -1, 'stop_after_calls'),
        ('stop_after_calls', 2.0, 'stop_after_calls'),
        ('reset_after_calls', 'a', 'reset_after_calls'),
        ('reset_absent_calls', None, 'reset_absent_calls'),
        ('busy_messages', -2, 'busy_messages'),
    ],
)
def test_validation(field, value, message):
    with pytest.raises(ValueError, match=message):
        FaultPlan(**{field: value})


def test_dict_round_trip_and_unknown_keys():
    plan = FaultPlan(transient_error_rate=0.25, after_effect_ratio=0.5, seed=7, stop_after_calls=10, reset_after_calls=3, reset_absent_calls=2, busy_messages=1)
    assert FaultPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    assert FaultPlan.from_dict(None) == FaultPlan()
    assert FaultPlan().active is False and plan.active is True
    with pytest.raises(ValueError, match='unknown fault plan field'):
        FaultPlan.from_dict({'transient_rate': 0.1})
    with pytest.raises(ValueError, match='must be a dict'):
        FaultPlan.from_dict([1])


def test_transient_rate_within_bounds_and_seeded():
    """With a seed, about rate x calls fail, with EIO/ENXIO/EREMOTEIO only, reproducibly."""
    runs = []
    for _unused in range(2):
        fw, adapter, bus = make({'transient_error_rate': 0.3, 'seed': 1234})
        runs.append([outcome(lambda bus=bus: bus.read_byte_data(A, Reg.ORDER)) for _unused in range(2000)])
    assert runs[0] == runs[1]
    failures = [e for e in runs[0] if e is not None]
    assert 0.25 * 2000 <= len(failures) <= 0.35 * 2000
    assert set(failures) == {errno.EIO, errno.ENXIO, errno.EREMOTEIO}


@pytest.mark.parametrize('ratio,applied', [(0.0, False), (1.0, True)])
def test_after_effect_ratio(ratio, applied):
    """Errors before the transfer leave the board alone; errors after it follow a write that took effect."""
    fw, adapter, bus = make({'transient_error_rate': 1.0, 'after_effect_ratio': ratio, 'seed': 1})
    with pytest.raises(OSError):
        bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.ON])
    assert fw.outputs()['pi_power'][1] is applied
    entry = adapter.journal[-1]
    assert entry['mutating'] is applied
    assert entry['usb_transfers'] == (2 if applied else 1)


def test_stop_after_calls():
    """After N calls every call fails at once with ETIMEDOUT, without sleeping."""
    fw, adapter, bus = make({'stop_after_calls': 3})
    start = time.time()
    results = [outcome(lambda: bus.read_byte_data(A, 0)) for _unused in range(100)]
    assert time.time() - start < 1.0
    assert results[:3] == [None] * 3
    assert set(results[3:]) == {errno.ETIMEDOUT}


def test_reset_after_calls():
    """After N calls the board resets once: RAM from EEPROM, ENODEV for reset_absent_calls calls, then back."""
    fw, adapter, bus = make({'reset_after_calls': 2, 'reset_absent_calls': 2})
    bus.write_byte_data(A, Reg.ORDER, 99)
    bus.write_byte_data(A, Reg.MODE, 5)
    results = [outcome(lambda bus=bus: bus.read_byte_data(A, Reg.ORDER)) for _unused in range(2)]
    assert results == [errno.ENODEV, errno.ENODEV]
    assert bus.read_byte_data(A, Reg.ORDER) == 20
    assert bus.read_byte_data(A, Reg.MODE) == 0
    assert fw.counters()['boot_count'] == 2
    assert [outcome(lambda: bus.read_byte(A)) for _unused in range(10)] == [None] * 10


def test_reset_with_no_absent_calls():
    fw, adapter, bus = make({'reset_after_calls': 1, 'reset_absent_calls': 0})
    bus.write_byte_data(A, Reg.MODE, 5)
    assert bus.read_byte_data(A, Reg.MODE) == 0


def test_busy_messages_from_plan():
    """busy_messages puts the board in slow-command mode: writes NAK while CMD is pending, reads ACK (§1.8)."""
    fw, adapter, bus = make({'busy_messages': 2})
    bus.write_i2c_block_data(A, Reg.DATA0, [1, Cmd.ON])
    assert fw.outputs()['pi_power'][1] is False
    assert outcome(lambda: bus.write_byte_data(A, Reg.MODE, 1)) == errno.ENXIO
    assert bus.read_byte(A) == 0  # STATUS; the command runs right after this second message
    assert fw.outputs()['pi_power'][1] is True
    assert bus.read_byte_data(A, Reg.CMD) == 0
    deferred, nak, run = adapter.journal[0], adapter.journal[1], adapter.journal[2]
    assert deferred['commands'][0]['deferred'] is True and deferred['mutating'] is False
    assert nak['error'] == 'ENXIO' and nak['commands'] == []
    assert run['commands'][0]['name'] == 'ON' and run['commands'][0]['args'] == [1] and run['mutating'] is True
