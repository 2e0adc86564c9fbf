# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Saving and restoring a ClusterCTRLFirmware (``firmware_state``): exact round trips, every bad field named."""

from __future__ import annotations

import json

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Cmd, Reg
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.module_utils.emulator.firmware_rig import ALL, A, reset, rig, send


def exercise(fw, bus):
    send(bus, Cmd.ON, 1)
    send(bus, Cmd.SET_ORDER, 9)
    bus.write_byte_data(A, Reg.MODE, 0x33)
    send(bus, Cmd.LED_DIS, 1)
    send(bus, Cmd.SAVE)
    send(bus, Cmd.GET_DATA, 0)
    bus.write_byte_data(A, Reg.DATA3, 0x44)  # written since the last command: tracked for args
    bus.read_byte(A)


@pytest.mark.parametrize('board', ALL)
def test_round_trip_is_exact(board):
    """to_dict is JSON-serialisable and from_dict restores RAM, pointer, pins, EEPROM and counters exactly."""
    fw, bus = rig(board, order=5)
    exercise(fw, bus)
    saved = json.loads(json.dumps(fw.to_dict()))
    clone = ClusterCTRLFirmware.from_dict(saved)
    assert clone.to_dict() == fw.to_dict()
    assert clone.outputs() == fw.outputs()
    assert clone.eeprom_counts() == fw.eeprom_counts()
    # Both continue identically, including the register pointer left by the last read.
    bus2 = EmulatedSMBus(I2CTinyUsbAdapter.for_board(clone))
    assert bus2.read_byte(A) == bus.read_byte(A)
    send(bus, Cmd.ON, 2 if fw.spec.maxpi > 1 else 1)
    send(bus2, Cmd.ON, 2 if fw.spec.maxpi > 1 else 1)
    assert clone.to_dict() == fw.to_dict()


def test_round_trip_keeps_absence_and_pending_command():
    """An absent board stays absent; a deferred slow command stays pending across a save."""
    fw, bus = rig('triple', busy_messages=2)
    send(bus, Cmd.ALERT_ON)
    clone = ClusterCTRLFirmware.from_dict(json.loads(json.dumps(fw.to_dict())))
    assert clone.pending == 2 and clone.regs[Reg.CMD] == Cmd.ALERT_ON
    clone.message(True, 1)
    clone.message(True, 1)
    assert clone.outputs()['alert_led'] is True
    fw2, bus2 = rig('aplus6')
    reset(fw2, bus2)
    fw2.present = False
    assert ClusterCTRLFirmware.from_dict(fw2.to_dict()).present is False


def test_round_trip_da_and_stack_inputs():
    fw, bus = rig('da', da_hat_ports=(0, 5))
    send(bus, Cmd.ON, 22)
    clone = ClusterCTRLFirmware.from_dict(json.loads(json.dumps(fw.to_dict())))
    assert clone.outputs()['hats'][5]['pi_power'] == [False, True, False, False]
    assert clone.exists == 0x21
    st, _unused = rig('stack', cooling_requests=0x11, temperature_raw=300, adc_raw={2: 500})
    clone = ClusterCTRLFirmware.from_dict(json.loads(json.dumps(st.to_dict())))
    assert (clone.cooling_requests, clone.temperature_raw, clone.adc_raw[2]) == (0x11, 300, 500)


@pytest.mark.parametrize(
    'change, words',
    [
        (lambda d: d.update(regs=d['regs'][:-1]), 'regs: expected a list of 15 integers 0-255'),
        (lambda d: d.update(eeprom=[0] * 1024), 'eeprom: expected a list of 256 integers 0-255'),
        (lambda d: d.update(ptr=256), 'ptr: expected an integer 0-255, got the number 256'),
        (lambda d: d.update(present=1), 'present: expected true or false, got the number 1'),
        (lambda d: d.update(power_pins=[1]), 'power_pins: expected a list of 1 true/false values'),
        (lambda d: d.update(led_pins=[True, False]), 'led_pins: expected a list of 1 true/false values'),
        (lambda d: d.update(board='quad'), 'board: expected one of single, triple, phat, aplus6, stack, da'),
        (lambda d: d.update(firmware='1.6', head=True), 'head: true only with firmware 1.8'),
        (lambda d: d.update(hat_ports=[0]), 'hat_ports: expected a list of at most 0 distinct integers 0-7'),
        (lambda d: d['boot_log'][0].update(event='explode'), 'boot_log[0].event: expected one of'),
        (lambda d: d['boot_log'].append({'t_ms': 0, 'event': 'usb', 'pi': 1}), 'boot_log[2].pi: unknown field'),
        (lambda d: d.update(activity=[{'code': 3}]), 'activity[0].name: missing'),
        (lambda d: d['eeprom_write_counts'].update({'07': 1}), 'eeprom_write_counts[\'07\']: expected a key "0" to "255"'),
        (lambda d: d['eeprom_write_counts'].update({'\u0661': 1}), "eeprom_write_counts['\u0661']: expected a key"),
        (lambda d: d.pop('written_data'), 'written_data: missing'),
        (lambda d: d.update(exists=0), 'exists: unknown field'),
    ],
)
def test_from_dict_names_the_bad_field(change, words):
    """A saved state comes from a file anyone may edit: every field is checked and named (issue 10)."""
    saved = json.loads(json.dumps(rig('single')[0].to_dict()))
    change(saved)
    with pytest.raises(ValueError) as info:
        ClusterCTRLFirmware.from_dict(saved)
    assert words in str(info.value)


def test_from_dict_of_a_da_checks_its_hats():
    fw, bus = rig('da', da_hat_ports=(0, 5))
    saved = json.loads(json.dumps(fw.to_dict()))
    del saved['hats']['5']
    with pytest.raises(ValueError, match=r'hats: expected one entry per port of hat_ports \[0, 5\], got ports \[0\]'):
        ClusterCTRLFirmware.from_dict(saved)
    saved = json.loads(json.dumps(fw.to_dict()))
    saved['hats']['0']['power'] = [True, False]
    with pytest.raises(ValueError, match=r"hats\['0'\].power: expected a list of 4 true/false values"):
        ClusterCTRLFirmware.from_dict(saved)
