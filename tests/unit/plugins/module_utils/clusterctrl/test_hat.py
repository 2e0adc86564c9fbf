# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ClusterHATDriver against the XRA1200 model through EmulatedSMBus (spec §7.3-§7.5, §8.3-§8.4), and
``detect_clusterhat`` against fake /proc/device-tree trees (§7.1, §8.1). No mocks."""

from __future__ import annotations

import errno

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cluster import Board, Cluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver, PiRef
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import (
    AddressingError,
    BusError,
    ClusterCTRLError,
    NotSupportedError,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import (
    ClusterHATDriver,
    detect_clusterhat,
    hub_active_high,
    parse_hat_version,
    read_defaults,
    usb_port,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.journal import BusJournal
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import XRA1200, HostI2CAdapter

IN, OUT, DIR, PUR = 0x00, 0x01, 0x03, 0x04


def no_sleep(_seconds):
    return None


class Rig:
    """A virtual HAT on bus 1 and a driver on it."""

    def __init__(self, version='2.5', part='xra1200p', pos_link_cut=False, wp_link_soldered=False, **driver_kwargs):
        self.hat = XRA1200(version, part=part, pos_link_cut=pos_link_cut, wp_link_soldered=wp_link_soldered)
        self.adapter = HostI2CAdapter.for_hat(self.hat)
        self.bus = EmulatedSMBus(self.adapter)
        driver_kwargs.setdefault('sleep', no_sleep)
        self.driver = ClusterHATDriver(self.bus, version, **driver_kwargs)

    @property
    def journal(self):
        return self.adapter.journal

    def calls(self):
        return [(e['op'], e['reg']) for e in self.journal]

    def mutating(self):
        return self.journal.count(mutating=True)

    def initialized_rig(self):
        self.driver.initialize()
        self.journal.clear()
        return self


# ---------------------------------------------------------------------- construction and identity


def test_construction_sends_nothing():
    rig = Rig()
    assert len(rig.journal) == 0
    assert rig.driver.maxpi == 4
    assert rig.driver.order == 0
    assert rig.driver.type.product == 'ClusterHAT v2.5'
    assert 'ClusterHAT v2.5' in rig.driver.label and 'bus 1' in rig.driver.label
    assert list(rig.driver.pis()) == [PiRef(0, 1), PiRef(0, 2), PiRef(0, 3), PiRef(0, 4)]


@pytest.mark.parametrize('size, maxpi', [(1, 1), (2, 2), (4, 4), (6, 4)])
def test_size_option_capped_at_four(size, maxpi):
    """§7.1: CLUSTERHAT_SIZE sets the number of Pis, capped at 4."""
    rig = Rig(size=size)
    assert rig.driver.maxpi == maxpi
    with pytest.raises(AddressingError):
        rig.driver.power_on(maxpi + 1)
    assert len(rig.journal) == 0  # validated before any traffic


@pytest.mark.parametrize('bad', ['1.5', '4.0', 'v2', '2.x'])
def test_unsupported_versions_refused(bad):
    with pytest.raises(ValueError):
        ClusterHATDriver(None, bad)


def test_v1_refusal_says_why():
    with pytest.raises(ValueError, match='v1.x is driven by host GPIO'):
        parse_hat_version('1.2')


# ---------------------------------------------------------------------- reading never writes


def test_reading_an_uninitialised_hat_never_writes():
    """Check mode must never write: every read path leaves no mutating journal entry, and DIR stays 0xFF (§7.4)."""
    rig = Rig(pos_link_cut=True)
    d = rig.driver
    assert d.initialized() is False
    state = d.read_state()
    assert state.initialized is False
    assert state.power == [True] * 4  # the POS link levels are what the Pis get
    d.power_status_all()
    d.power_status(1)
    d.hub_status()
    d.alert_status()
    d.wp_status()
    d.led_status()
    assert d.part == 'xra1200p'
    assert d.wp_link() is None  # unknowable without the PUR write
    plan = d.initialize(check_mode=True)
    assert plan.needed and not plan.performed
    assert rig.mutating() == 0
    assert rig.hat.regs[DIR] == 0xFF


def test_check_mode_plan_matches_real_initialisation():
    rig = Rig('2.0', pos_link_cut=True)
    plan = rig.driver.initialize(check_mode=True)
    result = rig.driver.initialize()
    assert result.performed and result.out == plan.out == rig.hat.regs[OUT]
    assert result.pos_link_cut is True and plan.pos_link_cut is True


def test_state_in_one_transaction():
    """§7.3: the power status of all four Pis, and every other output, come from ONE read of IN."""
    rig = Rig().initialized_rig()
    assert rig.driver.power_status_all() == {1: False, 2: False, 3: False, 4: False}
    assert rig.calls() == [('read_byte_data', IN)]
    rig.journal.clear()
    state = rig.driver.read_state(check_initialized=False)
    assert rig.calls() == [('read_byte_data', IN)]
    assert (state.power, state.led, state.hub, state.alert, state.wp) == ([False] * 4, True, True, False, True)
    rig.journal.clear()
    rig.driver.read_state()  # initialized() is cached once True: still one read
    assert rig.calls() == [('read_byte_data', IN)]


# ---------------------------------------------------------------------- first-run initialisation (§7.4)


def test_initialise_only_when_dir_is_ff():
    rig = Rig()
    first = rig.driver.initialize()
    assert first.needed and first.performed
    assert rig.hat.regs[DIR] == 0x00
    rig.journal.clear()
    second = ClusterHATDriver(rig.bus, '2.5').initialize()
    assert not second.needed and not second.performed
    assert rig.calls() == [('read_byte_data', DIR)]
    assert rig.mutating() == 0


def test_initialisation_after_hat_power_cycle():
    rig = Rig().initialized_rig()
    rig.hat.power_cycle()
    assert ClusterHATDriver(rig.bus, '2.5').initialize().performed


@pytest.mark.parametrize('cut', [True, False])
def test_pos_link_decides_power_at_initialisation(cut):
    """§7.4 step 3: (IN & 0x0F) == 0x0F (POS link cut) switches P1-P4 on, otherwise off."""
    rig = Rig(pos_link_cut=cut)
    assert rig.driver.initialize().pos_link_cut is cut
    assert rig.hat.outputs()['power'] == [cut] * 4
    assert rig.driver.power_status_all() == dict((p, cut) for p in range(1, 5))


@pytest.mark.parametrize('version', ['2.0', '2.1', '2.5', '3.0', '3.2'])
def test_initialisation_outputs(version):
    """§7.4 step 4-5: ALERT off, LED on (v2 only), hub on with the version's polarity, WP on, every pin an output."""
    rig = Rig(version)
    rig.driver.initialize()
    out = rig.hat.outputs()
    assert out['initialized'] and out['hub_on'] and not out['alert'] and out['wp']
    assert out['led'] is (True if version.startswith('2.') else None)
    assert rig.hat.regs[DIR] == 0x00


def test_initialisation_traffic():
    """Fewest transactions: read DIR, IN, PUR probe, OUT; PUR=0x7F, IN; one OUT write; DIR=0x00."""
    rig = Rig()
    rig.driver.initialize()
    assert rig.calls() == [
        ('read_byte_data', DIR),
        ('read_byte_data', IN),
        ('read_byte_data', PUR),
        ('read_byte_data', OUT),
        ('write_byte_data', PUR),
        ('read_byte_data', IN),
        ('write_byte_data', OUT),
        ('write_byte_data', DIR),
    ]


@pytest.mark.parametrize('soldered', [True, False])
def test_wp_link_on_p_part(soldered):
    """§7.4 step 2 (XRA1200P): the link is found with PUR = 0x7F and later read from PUR bit 7."""
    rig = Rig(wp_link_soldered=soldered)
    assert rig.driver.initialize().wp_link == (1 if soldered else 0)
    assert rig.hat.regs[PUR] == (0xFF if soldered else 0x7F)
    assert ClusterHATDriver(rig.bus, '2.5').wp_link() == (1 if soldered else 0)


def test_plain_part_detected_by_failing_pur_access():
    """§7.3 / cli:469-472: a NAKed PUR read means a plain XRA1200; probed once, not retried; wp_link is -1."""
    rig = Rig(part='xra1200')
    assert rig.driver.part == 'xra1200'
    assert rig.driver.is_xra1200p is False
    assert rig.journal.count(error='EREMOTEIO') == 1
    assert rig.driver.initialize().wp_link == -1
    assert rig.driver.wp_link() == -1
    assert rig.journal.count(error=True) == 1


def test_write_without_initialisation_refused_when_auto_initialize_is_off():
    rig = Rig(auto_initialize=False)
    with pytest.raises(ClusterCTRLError, match=r'ClusterHAT v2\.5.*has not been initialised'):
        rig.driver.power_on(1)
    assert rig.mutating() == 0


def test_first_write_initialises_like_the_cli():
    rig = Rig()
    assert rig.driver.power_on(2) is True
    assert rig.hat.outputs()['initialized'] is True
    assert rig.hat.outputs()['power'] == [False, True, False, False]


# ---------------------------------------------------------------------- power (§7.3 read-modify-write)


def test_power_on_is_one_read_and_one_write():
    rig = Rig().initialized_rig()
    assert rig.driver.power_on(3) is True
    assert rig.calls() == [('read_byte_data', OUT), ('write_byte_data', OUT)]
    assert rig.hat.outputs()['power'] == [False, False, True, False]
    assert rig.driver.power_status(3) is True


def test_power_on_again_writes_nothing():
    rig = Rig().initialized_rig()
    rig.driver.power_on(1)
    rig.journal.clear()
    assert rig.driver.power_on(1) is False
    assert rig.calls() == [('read_byte_data', OUT)]
    assert rig.mutating() == 0


def test_power_off_keeps_other_bits():
    rig = Rig(pos_link_cut=True).initialized_rig()
    before = rig.hat.regs[OUT]
    rig.driver.power_off(PiRef(0, 4))
    assert rig.hat.regs[OUT] == before & ~0x08
    with pytest.raises(AddressingError):
        rig.driver.power_off(PiRef(5, 1))


def test_power_all_on_and_off():
    rig = Rig().initialized_rig()
    rig.driver.power_on(2)
    assert rig.driver.power_all_on() == 3
    assert rig.hat.outputs()['power'] == [True] * 4
    rig.driver.power_all_off()
    assert rig.hat.outputs()['power'] == [False] * 4


def test_power_all_on_with_delay_staggers():
    slept = []
    rig = Rig(sleep=slept.append).initialized_rig()
    assert rig.driver.power_all_on(delay=1.0) == 4
    assert slept == [1.0, 1.0, 1.0]


def test_size_limits_power_all_off():
    rig = Rig(size=2, pos_link_cut=True).initialized_rig()
    rig.driver.power_all_off()
    assert rig.hat.outputs()['power'] == [False, False, True, True]


# ---------------------------------------------------------------------- hub polarity (§7.3)


@pytest.mark.parametrize('version, bit_when_on', [('2.0', 1), ('2.1', 0), ('2.6', 0), ('3.0', 0), ('3.1', 0)])
def test_hub_polarity(version, bit_when_on):
    """§7.3: active-high only on v2.0; v2.1+ and v3.x active-low.

    [DISAGREE] the CLI's ``hub on|off`` tests only minor == 0, so on v3.0 it drives the bit
    active-high, against its own initialisation and the DA firmware; this driver follows the
    spec's recommendation. ``hub_active_high=True`` reproduces the CLI command if a v3.0 HAT needs it.
    """
    assert hub_active_high(version) is (bit_when_on == 1)
    rig = Rig(version).initialized_rig()
    rig.driver.hub_off()
    assert rig.hat.outputs()['hub_on'] is False and rig.driver.hub_status() is False
    rig.driver.hub_on()
    assert (rig.hat.regs[OUT] >> 5) & 1 == bit_when_on
    assert rig.hat.outputs()['hub_on'] is True and rig.driver.hub_status() is True


def test_hub_polarity_override_reproduces_cli_v30_command():
    rig = Rig('3.0', hub_active_high=True).initialized_rig()
    rig.driver.hub_on()
    assert (rig.hat.regs[OUT] >> 5) & 1 == 1
    assert rig.hat.outputs()['hub_on'] is False  # the model's hardware is active-low on v3


def test_hub_reset_off_delay_on():
    slept = []
    rig = Rig(sleep=slept.append).initialized_rig()
    rig.driver.hub_reset(delay=0.5)
    assert slept == [0.5]
    assert rig.hat.outputs()['hub_on'] is True
    assert [e['op'] for e in rig.journal] == ['read_byte_data', 'write_byte_data', 'read_byte_data', 'write_byte_data']


# ---------------------------------------------------------------------- alert, LED, WP


def test_alert():
    rig = Rig().initialized_rig()
    rig.driver.alert_on()
    assert rig.hat.outputs()['alert'] is True and rig.driver.alert_status() is True
    rig.driver.alert_off()
    assert rig.hat.outputs()['alert'] is False


def test_led_v2():
    rig = Rig('2.3').initialized_rig()
    rig.driver.led_off()
    assert rig.hat.outputs()['led'] is False and rig.driver.led_status() is False
    rig.driver.led_all_on()
    assert rig.hat.outputs()['led'] is True
    with pytest.raises(NotSupportedError, match='per-Pi LED'):
        rig.driver.led_on(1)


def test_v3_has_no_led():
    """§7.3: bit 4 is v2.x only; the CLI never touches it on v3."""
    rig = Rig('3.1').initialized_rig()
    for call in (rig.driver.led_all_on, rig.driver.led_all_off, rig.driver.led_on, rig.driver.led_status):
        with pytest.raises(NotSupportedError, match=r'ClusterHAT v3\.1.*no LED control'):
            call()
    assert rig.driver.read_state().led is None
    assert len(rig.journal) == 1  # only read_state's IN read


def test_wp_on_off_without_link():
    rig = Rig().initialized_rig()
    rig.driver.wp_off()
    assert rig.hat.outputs()['wp'] is False and rig.driver.wp_status() is False
    rig.driver.wp_on()
    assert rig.hat.outputs()['wp'] is True


def test_wp_off_refused_with_soldered_link_on_p_part():
    """§8.4: ``wp off`` is refused when the WP link is soldered; nothing is written."""
    rig = Rig(wp_link_soldered=True).initialized_rig()
    with pytest.raises(ClusterCTRLError, match='solder link'):
        rig.driver.wp_off()
    assert rig.mutating() == 0


def test_wp_off_on_plain_part_detects_link_by_read_back():
    rig = Rig(part='xra1200', wp_link_soldered=True).initialized_rig()
    with pytest.raises(ClusterCTRLError, match='WP solder link must be fitted'):
        rig.driver.wp_off()
    rig2 = Rig(part='xra1200').initialized_rig()
    rig2.driver.wp_off()
    assert rig2.hat.outputs()['wp'] is False


# ---------------------------------------------------------------------- what a HAT lacks, errors


@pytest.mark.parametrize(
    'name, args',
    [
        ('pwr_led_on', ()),
        ('act_on', ()),
        ('fan_on', ()),
        ('fan_status', ()),
        ('usbboot_on', (1,)),
        ('usbboot_status', (1,)),
        ('read_temp', ()),
        ('set_order', (3,)),
        ('get_path', (1,)),
        ('reset', ()),
        ('eeprom_save_powerstate', ()),
        ('eeprom_reset', ()),
    ],
)
def test_unsupported_features_name_the_hat(name, args):
    rig = Rig()
    with pytest.raises(NotSupportedError, match=r'ClusterHAT v2\.5'):
        getattr(rig.driver, name)(*args)
    assert len(rig.journal) == 0


def test_missing_hat_gives_bus_error_naming_it():
    rig = Rig()
    rig.hat.present = False
    with pytest.raises(BusError, match=r'ClusterHAT v2\.5.*EREMOTEIO') as exc:
        rig.driver.power_status_all()
    assert exc.value.errno == errno.EREMOTEIO


@pytest.mark.parametrize('version, ports', [('2.6', [1, 2, 3, 4]), ('3.1', [1, 2, 3, 4]), ('2.5', [4, 3, 2, 1]), ('3.0', [4, 3, 2, 1])])
def test_usb_ports(version, ports):
    """§7.5: Pi p on port p on v2.6 and v3.1, on port 5 - p otherwise."""
    assert [usb_port(version, p) for p in range(1, 5)] == ports
    assert Rig(version).driver.usb_port(1) == ports[0]


def test_persisted_hat_is_still_initialised():
    rig = Rig(pos_link_cut=True)
    rig.driver.initialize()
    rig.driver.power_off(2)
    copy = XRA1200.from_dict(rig.hat.to_dict())
    bus = EmulatedSMBus(HostI2CAdapter.for_hat(copy))
    driver = ClusterHATDriver(bus, '2.5')
    assert driver.initialize().needed is False
    assert driver.power_status_all() == {1: True, 2: False, 3: True, 4: True}


# ---------------------------------------------------------------------- numbering (§8.3)


def test_hat_numbered_first_in_cluster():
    """§8.3: the HAT's Pis are p1..p4, then the controllers by ascending order (order 0 sorts first)."""
    fw = ClusterCTRLFirmware(BoardType.TRIPLE, order=5)
    ctrl = ClusterCTRLv2Driver(EmulatedSMBus(I2CTinyUsbAdapter.for_board(fw, bus_number=10)), randomize_factory_order=False)
    hat = Rig(size=4).driver
    cluster = Cluster([Board(ctrl, 10), Board(hat, 1)])
    assert [b.driver for b in cluster.boards] == [hat, ctrl]
    assert cluster.size == 7
    assert cluster.by_number(4).board.driver is hat
    assert cluster.by_number(5).board.driver is ctrl and cluster.by_number(5).slot == 1


# ---------------------------------------------------------------------- detection (§7.1, §8.1)


def make_tree(tmp_path, product=b'ZC4:ClusterHAT\x00', product_ver=b'0x0025\x00', skip=(), extra=None):
    hat = tmp_path / 'proc' / 'device-tree' / 'hat'
    hat.mkdir(parents=True)
    files = {
        'product': product,
        'product_ver': product_ver,
        'uuid': b'a4a4cc5c-1234-5678-9abc-def012345678\x00',
        'vendor': b'8086 Consultancy\x00',
        'product_id': b'0x0004\x00',
    }
    files.update(extra or {})
    for name, content in files.items():
        if name not in skip:
            (hat / name).write_bytes(content)
    return str(tmp_path / 'proc')


def defaults(tmp_path, text):
    path = tmp_path / 'clusterctrl'
    path.write_text(text)
    return str(path)


def test_detect_v2_with_trailing_nuls(tmp_path):
    found = detect_clusterhat(make_tree(tmp_path, product=b'ZC4:ClusterHAT\x00\x00\x00'), str(tmp_path / 'none'))
    assert found['version'] == '2.5' and (found['major'], found['minor']) == (2, 5)
    assert found['supported'] is True and found['reason'] is None
    assert found['size'] == 4 and found['forced'] is None
    assert found['product'] == 'ZC4:ClusterHAT'
    assert found['uuid'] == 'a4a4cc5c-1234-5678-9abc-def012345678'
    assert found['vendor'] == '8086 Consultancy' and found['product_id'] == '0x0004' and found['product_ver'] == '0x0025'


@pytest.mark.parametrize(
    'ver, version, supported',
    [
        (b'0x0020', '2.0', True),
        (b'0x002f', '2.15', True),
        (b'0x0026', '2.6', True),
        (b'0x0030', '3.0', True),
        (b'0x0031', '3.1', True),
        (b'0x003F', '3.15', True),
        (b'0x0010', '1.0', False),
        (b'0x001f', '1.15', False),
    ],
)
def test_detect_version_ranges(tmp_path, ver, version, supported):
    """§7.1: product_ver in hex: 0x10-0x1F v1.x, 0x20-0x2F v2.x, 0x30-0x3F v3.x."""
    found = detect_clusterhat(make_tree(tmp_path, product_ver=ver + b'\x00'), str(tmp_path / 'none'))
    assert found['version'] == version and found['supported'] is supported


def test_detect_v1_is_unsupported_with_reason(tmp_path):
    found = detect_clusterhat(make_tree(tmp_path, product_ver=b'0x0012'), str(tmp_path / 'none'))
    assert found['supported'] is False
    assert 'v1.x' in found['reason'] and 'GPIO' in found['reason']


@pytest.mark.parametrize('ver', [b'0x0040', b'0x000F', b'0x0000', b'0x0125', b'zz'])
def test_detect_other_versions_are_not_a_hat(tmp_path, ver):
    assert detect_clusterhat(make_tree(tmp_path, product_ver=ver), str(tmp_path / 'none')) is None


@pytest.mark.parametrize('product', [b'ZC4:ClusterHAT2\x00', b'Sense HAT\x00', b'zc4:clusterhat\x00', b''])
def test_detect_other_hat_is_not_a_clusterhat(tmp_path, product):
    assert detect_clusterhat(make_tree(tmp_path, product=product), str(tmp_path / 'none')) is None


@pytest.mark.parametrize('missing', ['product', 'product_ver', 'uuid', 'vendor', 'product_id'])
def test_detect_needs_all_five_files(tmp_path, missing):
    """§7.1: all five device-tree files must exist and be readable."""
    assert detect_clusterhat(make_tree(tmp_path, skip=(missing,)), str(tmp_path / 'none')) is None


def test_detect_no_hat_directory(tmp_path):
    assert detect_clusterhat(str(tmp_path), str(tmp_path / 'none')) is None


def test_force_overrides_device_tree(tmp_path):
    """§7.1: CLUSTERHAT_FORCE=X.Y forces the version, with no device-tree files needed."""
    found = detect_clusterhat(str(tmp_path), defaults(tmp_path, 'TYPE=c\nCLUSTERHAT_FORCE="3.1"  # forced\n'))
    assert found['version'] == '3.1' and found['forced'] == '3.1' and found['supported'] is True
    assert found['uuid'] is None and found['product'] is None


def test_force_v1_is_unsupported(tmp_path):
    found = detect_clusterhat(str(tmp_path), defaults(tmp_path, 'CLUSTERHAT_FORCE=1.2\n'))
    assert found['supported'] is False and 'v1.x' in found['reason']


def test_force_garbage_is_reported(tmp_path):
    found = detect_clusterhat(str(tmp_path), defaults(tmp_path, 'CLUSTERHAT_FORCE=two\n'))
    assert found['supported'] is False and 'CLUSTERHAT_FORCE=two' in found['reason']


def test_commented_force_is_ignored(tmp_path):
    """§8.1: lines starting with # are skipped."""
    assert detect_clusterhat(str(tmp_path), defaults(tmp_path, '#CLUSTERHAT_FORCE=2.5\n')) is None


@pytest.mark.parametrize(
    'text, size, warned',
    [
        ('CLUSTERHAT_SIZE=2', 2, False),
        ("clusterhat_size='3' # three", 3, False),
        ('CLUSTERHAT_SIZE=8', 4, True),
        ('CLUSTERHAT_SIZE=many', 4, True),
        ('', 4, False),
    ],
)
def test_size_override(tmp_path, text, size, warned):
    """§7.1 / §8.1: CLUSTERHAT_SIZE, default 4, capped at 4; keys lower-cased, values cut at # and unquoted."""
    found = detect_clusterhat(make_tree(tmp_path), defaults(tmp_path, text + '\n'))
    assert found['size'] == size
    assert bool(found['warnings']) is warned


def test_read_defaults_parsing(tmp_path):
    path = defaults(tmp_path, '# comment\nTYPE="c"\nLINK=1 # link\nCLUSTERCTRL_DELAY= 2 \nnot a setting\n')
    assert read_defaults(path) == {'type': 'c', 'link': '1', 'clusterctrl_delay': '2'}
    assert read_defaults(str(tmp_path / 'missing')) == {}


def test_detected_hat_drives_a_virtual_hat(tmp_path):
    """Detection feeds the driver: version and size from /proc and the defaults file."""
    found = detect_clusterhat(make_tree(tmp_path, product_ver=b'0x0031'), defaults(tmp_path, 'CLUSTERHAT_SIZE=3\n'))
    hat = XRA1200(found['version'])
    driver = ClusterHATDriver(EmulatedSMBus(HostI2CAdapter.for_hat(hat)), found['version'], size=found['size'])
    assert driver.maxpi == 3 and driver.has_led is False
    driver.power_on(3)
    assert hat.outputs()['power'] == [False, False, True, False]


def test_effective_state_predicts_the_first_run_set_up_without_writing():
    """§7.4: before set-up the pins are inputs (pulled up); the settings a write would start from are the set-up's."""
    journal = BusJournal()
    driver = ClusterHATDriver(EmulatedSMBus(HostI2CAdapter.for_hat(XRA1200('2.5'), journal=journal)), '2.5')
    raw = driver.read_state()
    assert raw.initialized is False and raw.alert is True  # a pulled-up input, not a setting
    predicted = driver.effective_state()
    assert (predicted.alert, predicted.hub, predicted.led) == (False, True, True)
    assert not [e for e in journal.to_list() if e['mutating']]
    driver.alert_on()
    assert driver.effective_state().alert is True and driver.effective_state().initialized is True
