# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The XRA1200(P) model of a ClusterHAT v2.x / v3.x (spec §7.3-§7.4, §10.2), driven through EmulatedSMBus
the way the official CLI's xra1200.py would (``read_byte_data`` / ``write_byte_data`` at 0x20 on bus 1)."""

from __future__ import annotations

import errno
import json

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import BusJournal
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import (
    XRA1200,
    HostI2CAdapter,
    hub_active_high,
    parse_version,
)

A = 0x20
IN, OUT, DIR, PUR = 0x00, 0x01, 0x03, 0x04


def rig(version='2.5', **kwargs):
    hat = XRA1200(version, **kwargs)
    adapter = HostI2CAdapter.for_hat(hat)
    return hat, adapter, EmulatedSMBus(adapter)


def cli_init(bus, version):
    """§7.4 exactly as the CLI does it (cli:464-514), one read-modify-write of OUT per step."""
    major, minor = parse_version(version)

    def rmw(set_mask=0, clear_mask=0):
        bus.write_byte_data(A, OUT, (bus.read_byte_data(A, OUT) | set_mask) & ~clear_mask & 0xFF)

    direction = bus.read_byte_data(A, DIR)
    first_in = bus.read_byte_data(A, IN)
    try:
        bus.read_byte_data(A, PUR)
        p_part = True
    except OSError:
        p_part = False
    if direction != 0xFF:
        return None
    if p_part:
        bus.write_byte_data(A, PUR, 0x7F)
        wp_link = (bus.read_byte_data(A, IN) >> 7) & 1
        if wp_link:
            bus.write_byte_data(A, PUR, 0xFF)
        else:
            rmw(set_mask=0x80)
    else:
        rmw(set_mask=0x80)
        wp_link = -1
    if first_in & 0x0F == 0x0F:
        rmw(set_mask=0x0F)
    else:
        rmw(clear_mask=0x0F)
    rmw(clear_mask=0x40)
    if major == 2:
        rmw(set_mask=0x10)
    if (major, minor) == (2, 0):
        rmw(set_mask=0x20)
    else:
        rmw(clear_mask=0x20)
    bus.write_byte_data(A, DIR, 0x00)
    return wp_link


# ---------------------------------------------------------------------- §7.3 registers


def test_power_up_registers():
    """§7.3: DIR is 0xFF after power-up; PUR (P part) 0xFF; every pin is an input."""
    hat, _adapter, bus = rig(part='xra1200p')
    assert bus.read_byte_data(A, DIR) == 0xFF
    assert bus.read_byte_data(A, PUR) == 0xFF
    assert bus.read_byte_data(A, OUT) == 0xFF
    assert hat.outputs()['initialized'] is False


def test_in_reads_out_for_outputs_and_external_level_for_inputs():
    """§7.3: IN is the pin levels: OUT on output pins, the external level (POS link intact: 0) on inputs."""
    hat, _adapter, bus = rig(part='xra1200p')
    bus.write_byte_data(A, OUT, 0x05)
    bus.write_byte_data(A, DIR, 0xF0)  # bits 0-3 outputs, 4-7 inputs with pull-ups
    assert bus.read_byte_data(A, IN) == 0xF5
    bus.write_byte_data(A, DIR, 0x00)
    assert bus.read_byte_data(A, IN) == 0x05


def test_in_is_read_only():
    hat, adapter, bus = rig()
    bus.write_byte_data(A, DIR, 0x00)
    bus.write_byte_data(A, OUT, 0x12)
    adapter.journal.clear()
    bus.write_byte_data(A, IN, 0xFF)
    assert bus.read_byte_data(A, IN) == 0x12
    assert adapter.journal.count(mutating=True) == 0


def test_pos_link_cut_reads_high_power_bits():
    """§7.4 step 3: with the POS link cut, (IN & 0x0F) == 0x0F while the pins are inputs, and the Pis are powered."""
    hat, _adapter, bus = rig(pos_link_cut=True)
    assert bus.read_byte_data(A, IN) & 0x0F == 0x0F
    assert hat.outputs()['power'] == [True] * 4
    hat2, _adapter, bus2 = rig(pos_link_cut=False)
    assert bus2.read_byte_data(A, IN) & 0x0F == 0
    assert hat2.outputs()['power'] == [False] * 4


@pytest.mark.parametrize('soldered, expected', [(True, 1), (False, 0)])
def test_wp_link_detected_on_p_part(soldered, expected):
    """§7.4 step 2: PUR = 0x7F drops bit 7's pull-up, then IN bit 7 = 1 means the WP link is soldered."""
    _hat, _adapter, bus = rig(part='xra1200p', wp_link_soldered=soldered)
    assert bus.read_byte_data(A, IN) & 0x80  # pulled up either way
    bus.write_byte_data(A, PUR, 0x7F)
    assert (bus.read_byte_data(A, IN) >> 7) & 1 == expected


def test_plain_part_naks_pur():
    """§7.3: on a plain XRA1200 the PUR access fails (NAK: EREMOTEIO on the Pi's bcm2835 bus); the CLI detects the part so."""
    _hat, adapter, bus = rig(part='xra1200')
    with pytest.raises(OSError) as exc:
        bus.read_byte_data(A, PUR)
    assert exc.value.errno == errno.EREMOTEIO
    with pytest.raises(OSError):
        bus.write_byte_data(A, PUR, 0x7F)
    assert adapter.journal.count(error='EREMOTEIO') == 2
    assert adapter.journal.count(mutating=True) == 0
    assert bus.read_byte_data(A, DIR) == 0xFF  # the failed access changed nothing


def test_p_part_pur_works():
    _hat, _adapter, bus = rig(part='xra1200p')
    bus.write_byte_data(A, PUR, 0x7F)
    assert bus.read_byte_data(A, PUR) == 0x7F


def test_register_pointer_persists_and_advances():
    """A plain register device: a pointer-only write then a bare read; block reads advance the pointer [UNCLEAR in §7.3]."""
    _hat, _adapter, bus = rig(part='xra1200p')
    bus.write_byte_data(A, OUT, 0x3C)
    bus.write_byte(A, OUT)
    assert bus.read_byte(A) == 0x3C
    assert bus.read_byte(A) == 0x00  # pointer advanced to 0x02
    assert bus.read_i2c_block_data(A, OUT, 4) == [0x3C, 0x00, 0xFF, 0xFF]  # OUT, 0x02, DIR, PUR


def test_unknown_register_naks():
    _hat, _adapter, bus = rig()
    with pytest.raises(OSError):
        bus.read_byte_data(A, 0x0B)


def test_absent_hat_naks_every_call():
    hat, _adapter, bus = rig()
    hat.present = False
    with pytest.raises(OSError) as exc:
        bus.read_byte_data(A, IN)
    assert exc.value.errno == errno.EREMOTEIO
    with pytest.raises(OSError):
        bus.read_byte_data(0x21, IN)  # nothing else on the bus


# ---------------------------------------------------------------------- polarity and outputs (§7.3, §7.4)


@pytest.mark.parametrize('version, active_high', [('2.0', True), ('2.1', False), ('2.5', False), ('2.6', False), ('3.0', False), ('3.1', False)])
def test_hub_polarity_per_version(version, active_high):
    """§7.3: v2.0 active-high; v2.1+ and v3.x active-low (the DA firmware and the CLI's initialisation agree).

    [DISAGREE] the CLI's ``hub on|off`` tests only minor == 0 and so would drive v3.0 active-high;
    the model follows the recommendation (active-high only for 2.0).
    """
    hat, _adapter, bus = rig(version)
    assert hub_active_high(version) is active_high
    bus.write_byte_data(A, DIR, 0x00)
    bus.write_byte_data(A, OUT, 0x20)
    assert hat.outputs()['hub_on'] is active_high
    bus.write_byte_data(A, OUT, 0x00)
    assert hat.outputs()['hub_on'] is not active_high


@pytest.mark.parametrize(
    'version, pos_cut, wp_soldered, part, out, wp_link',
    [
        ('2.0', False, False, 'xra1200p', 0xB0, 0),
        ('2.5', False, False, 'xra1200p', 0x90, 0),
        ('2.5', True, False, 'xra1200', 0x9F, -1),
        ('2.5', False, True, 'xra1200p', 0x90, 1),  # bit 7 not written: OUT keeps its power-up 1
        ('3.0', False, False, 'xra1200p', 0x90, 0),  # bit 4 untouched on v3: stays at its power-up 1
        ('3.1', True, True, 'xra1200p', 0x9F, 1),
    ],
)
def test_cli_first_run_initialisation(version, pos_cut, wp_soldered, part, out, wp_link):
    """§7.4 run against the model: final OUT, DIR = 0x00, WP link found, POS link cut → Pis on."""
    hat, adapter, bus = rig(version, part=part, pos_link_cut=pos_cut, wp_link_soldered=wp_soldered)
    assert cli_init(bus, version) == wp_link
    assert bus.read_byte_data(A, DIR) == 0x00
    assert bus.read_byte_data(A, OUT) == out
    state = hat.outputs()
    assert state['initialized'] is True
    assert state['power'] == [pos_cut] * 4
    assert state['hub_on'] is True
    assert state['alert'] is False
    assert state['wp'] is True  # OUT bit 7 set, or held by the link
    assert state['led'] is (True if version.startswith('2.') else None)
    if part == 'xra1200p':
        assert (bus.read_byte_data(A, PUR) >> 7) & 1 == wp_link  # §7.4: later runs read the link from PUR bit 7
    # Second CLI run: DIR != 0xFF, nothing written.
    adapter.journal.clear()
    assert cli_init(bus, version) is None
    assert adapter.journal.count(mutating=True) == 0


def test_soldered_wp_link_holds_protection():
    """A soldered WP link keeps the line high even with OUT bit 7 = 0 (why the CLI refuses ``wp off``, §8.4)."""
    hat, _adapter, bus = rig(part='xra1200p', wp_link_soldered=True)
    bus.write_byte_data(A, DIR, 0x00)
    bus.write_byte_data(A, OUT, 0x00)
    assert bus.read_byte_data(A, IN) == 0x80
    assert hat.outputs()['wp'] is True


def test_power_cycle_returns_to_power_up():
    hat, _adapter, bus = rig()
    cli_init(bus, '2.5')
    hat.power_cycle()
    assert bus.read_byte_data(A, DIR) == 0xFF
    assert hat.outputs()['initialized'] is False


# ---------------------------------------------------------------------- journal and wire bytes


def test_mutating_entries_are_writes_to_out_dir_pur():
    """Writes to OUT, DIR, PUR are mutating; reads and pointer-only writes are not (check mode proves no writes)."""
    _hat, adapter, bus = rig(part='xra1200p')
    for reg in (IN, OUT, DIR, PUR):
        bus.read_byte_data(A, reg)
    bus.write_byte(A, OUT)
    bus.read_i2c_block_data(A, IN, 5)
    assert adapter.journal.count(mutating=True) == 0
    bus.write_byte_data(A, OUT, 0x01)
    bus.write_byte_data(A, DIR, 0x00)
    bus.write_byte_data(A, PUR, 0x7F)
    mutating = adapter.journal.select(mutating=True)
    assert [(e['op'], e['reg']) for e in mutating] == [('write_byte_data', OUT), ('write_byte_data', DIR), ('write_byte_data', PUR)]
    assert all(e['usb_transfers'] == 0 and e['bus'] == 1 and e['addr'] == A for e in adapter.journal)


def test_wire_bytes_match_spec_10_2():
    """§10.2: read_byte_data carries 4 bytes, write_byte_data 3, read_i2c_block(n) 3 + n."""
    _hat, adapter, bus = rig()
    bus.read_byte_data(A, IN)
    assert adapter.wire_bytes == 4
    bus.write_byte_data(A, OUT, 1)
    assert adapter.wire_bytes == 7
    bus.read_i2c_block_data(A, IN, 4)
    assert adapter.wire_bytes == 14
    assert adapter.wire_time_us() == 14 * 90


def test_journal_shared_with_other_buses():
    """One BusJournal can take the HAT's bus 1 and ClusterCTRL buses alike (the lab keeps one journal)."""
    journal = BusJournal()
    hat = XRA1200('3.1')
    bus = EmulatedSMBus(HostI2CAdapter.for_hat(hat, journal=journal))
    bus.read_byte_data(A, IN)
    assert journal.summary()['smbus_calls'] == 1


# ---------------------------------------------------------------------- configuration and persistence


@pytest.mark.parametrize('bad', ['1.3', '4.0', '2', 'x.y', '2.16', (1, 0)])
def test_bad_versions_refused(bad):
    with pytest.raises(ValueError):
        XRA1200(bad)


def test_bad_part_refused():
    with pytest.raises(ValueError):
        XRA1200('2.5', part='xra1201')


def test_persistence_round_trip():
    hat, _adapter, bus = rig('2.6', part='xra1200p', pos_link_cut=True, wp_link_soldered=True)
    cli_init(bus, '2.6')
    bus.write_byte_data(A, OUT, 0x5A)
    bus.write_byte(A, DIR)
    saved = json.loads(json.dumps(hat.to_dict()))
    copy = XRA1200.from_dict(saved)
    assert copy.to_dict() == hat.to_dict()
    assert copy.outputs() == hat.outputs()
    bus2 = EmulatedSMBus(HostI2CAdapter.for_hat(copy))
    assert bus2.read_byte(A) == 0x00  # pointer restored (DIR)
    assert bus2.read_byte_data(A, IN) == hat.pin_levels()


def test_plain_part_persistence_has_no_pur():
    hat = XRA1200('3.0', part='xra1200')
    d = hat.to_dict()
    assert '0x04' not in d['regs']
    d['regs']['0x04'] = 0xFF
    with pytest.raises(ValueError):
        XRA1200.from_dict(d)


@pytest.mark.parametrize(
    'change, words',
    [
        (lambda d: d.update(ptr='0'), "ptr: expected an integer 0-255, got the string '0'"),
        (lambda d: d.update(present=None), 'present: expected true or false, got null'),
        (lambda d: d['regs'].update({'0x01': 300}), "regs['0x01']: expected an integer 0-255"),
        (lambda d: d['regs'].pop('0x03'), 'regs: the xra1200p registers are'),
        (lambda d: d.update(version='4.0'), 'version: ClusterHAT version 4.0 has no XRA1200'),
        (lambda d: d.update(kind='clusterctrl'), 'kind: expected one of clusterhat'),
        (lambda d: d.pop('format'), 'format: missing'),
        (lambda d: d.update(colour='red'), 'colour: unknown field'),
    ],
)
def test_from_dict_names_the_bad_field(change, words):
    """A saved HAT comes from a file anyone may edit: every field is checked and named (issue 10)."""
    saved = json.loads(json.dumps(XRA1200('2.5').to_dict()))
    change(saved)
    with pytest.raises(ValueError) as info:
        XRA1200.from_dict(saved)
    assert words in str(info.value)
