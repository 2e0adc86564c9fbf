# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cluster numbering and Pi addressing (spec §8.2, §8.3, §11 fact 66), on real emulated boards.

Every board is an emulated MCU behind an emulated i2c-tiny-usb adapter, read by the real
driver, so ORDER and MAXPI come from the registers exactly as on hardware. The module passes
``pis`` as strings (``type: list, elements: str``) and ``controller`` as an int, so the
tests do the same.
"""

from __future__ import annotations

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cluster import Board, Cluster, PiAddress
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError, ClusterCTRLError, DiscoveryError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.smbus import EmulatedSMBus

ADAPTERS = {}


def make_board(kind, order, bus, usb_path=None, **firmware_kwargs):
    """A Board over a real emulated board; returns (Board, firmware) so tests can look at the pins.

    The board's adapter is kept in ADAPTERS (keyed by the Board) so tests can read its bus journal.
    """
    firmware = ClusterCTRLFirmware(kind, order=order, **firmware_kwargs)
    adapter = I2CTinyUsbAdapter.for_board(firmware, bus_number=bus)
    driver = ClusterCTRLv2Driver(EmulatedSMBus(adapter), label='ClusterCTRL %s on bus %d' % (kind, bus), randomize_factory_order=False)
    board = Board(driver, bus, usb_path)
    ADAPTERS[id(board)] = adapter
    return board, firmware


@pytest.fixture
def triple_phat():
    """Spec §8.3 example without the HAT: Triple order 5 + pHAT order 20 (pHAT listed first on purpose)."""
    phat, phat_fw = make_board('phat', 20, 11, '1-2.2')
    triple, triple_fw = make_board('triple', 5, 10, '1-1.1')
    cluster = Cluster([phat, triple])
    return cluster, triple, phat, triple_fw, phat_fw


def names(addresses):
    return [a.name for a in addresses]


# ---------------------------------------------------------------------------- numbering (§8.3)


def test_spec_example_triple_order5_phat_order20(triple_phat):
    """§8.3: with no HAT, Triple order 5 + pHAT order 20 gives p1-p3 = Triple P1-P3, p4-p5 = pHAT P1-P2."""
    cluster, triple, phat, _tfw, _pfw = triple_phat
    assert cluster.boards == [triple, phat]
    assert cluster.size == 5
    assert triple.first == 1
    assert phat.first == 4
    expected = [('p1', 1, triple, 1), ('p2', 2, triple, 2), ('p3', 3, triple, 3), ('p4', 4, phat, 1), ('p5', 5, phat, 2)]
    assert [tuple(a) for a in cluster.all_pis()] == expected
    assert [triple.pi_name(s) for s in (1, 2, 3)] == ['p1', 'p2', 'p3']
    assert [phat.pi_name(s) for s in (1, 2)] == ['p4', 'p5']


def test_numbering_uses_order_read_from_the_board_not_bus_or_list_position():
    """Bus 3 has the highest order, so its Pis come last although it is listed first and has the lowest bus."""
    stack, _unused = make_board('stack', 200, 3)
    single, _unused = make_board('single', 1, 40)
    aplus6, _unused = make_board('aplus6', 7, 12)
    cluster = Cluster([stack, single, aplus6])
    assert [b.order for b in cluster.boards] == [1, 7, 200]
    assert [(b.driver.type.value, b.first) for b in cluster.boards] == [('single', 1), ('aplus6', 2), ('stack', 7)]
    assert cluster.size == 1 + 5 + 5
    assert cluster.by_number(11) == PiAddress('p11', 11, stack, 5)
    assert cluster.by_number(2) == PiAddress('p2', 2, aplus6, 1)


def test_a_global_name_reaches_the_right_pin_of_the_right_board(triple_phat):
    """Powering p4 through its resolved address switches on the pHAT's P1 and nothing on the Triple."""
    cluster, _triple, _phat, triple_fw, phat_fw = triple_phat
    (addr,) = cluster.resolve(['p4'])
    addr.board.driver.power_on(addr.slot)
    assert phat_fw.pi_power(1) is True
    assert phat_fw.pi_power(2) is False
    assert [triple_fw.pi_power(p) for p in (1, 2, 3)] == [False, False, False]


def test_single_board_cluster_and_empty_cluster():
    da, _unused = make_board('da', 9, 10)
    cluster = Cluster([da])
    assert cluster.size == 32  # numbering covers every mux port, as the CLI's does
    assert names(cluster.resolve(['all'])) == ['p1', 'p2', 'p3', 'p4']  # but only ClusterHAT port 0 is populated
    empty = Cluster([])
    assert empty.size == 0
    assert empty.all_pis() == []
    with pytest.raises(AddressingError, match='no ClusterCTRL board has order 1; orders present: none'):
        empty.resolve(['1'], controller=1)


def test_order_set_through_the_driver_before_building_the_cluster_counts():
    """The order the driver last set is what numbering uses (clusterctrl setorder, then the next run)."""
    triple, _unused = make_board('triple', 20, 10)
    phat, _unused = make_board('phat', 20, 11)
    triple.driver.set_order(30)
    cluster = Cluster([triple, phat])
    assert cluster.boards == [phat, triple]
    assert names(cluster.resolve(['p3'])) == ['p3']
    assert cluster.resolve(['p3'])[0].board is triple


# ---------------------------------------------------------------------------- duplicate orders (§11 fact 66)


def test_duplicate_factory_orders_are_refused_naming_both_boards():
    """§8.3/§11 fact 66: two boards at the factory order 20 collide; the message names both and says how to fix it."""
    triple, _unused = make_board('triple', None, 10)
    phat, _unused = make_board('phat', None, 11)
    assert triple.order == phat.order == 20
    cluster = Cluster([triple, phat])  # kept: the boards can still be named by bus or USB path (issue 10)
    assert cluster.board_at(bus=11) is phat and cluster.board_at(bus='10') is triple
    for refused in (lambda: cluster.resolve(['p1']), lambda: cluster.board(20), cluster.all_pis):
        with pytest.raises(DiscoveryError) as info:
            refused()
        text = str(info.value)
        assert 'distinct orders' in text
        assert 'order 20 is used by ClusterCTRL Triple (bus 10) and ClusterCTRL pHAT (bus 11)' in text
        assert 'clusterctrl_board: {assign_orders: true}' in text and "clusterctrl_board: {bus: '10', order: 1}" in text
        assert isinstance(info.value, ClusterCTRLError)
    assert len(cluster.all_pis(allow_clashes=True)) == 5


def test_every_clash_is_reported_and_unique_boards_are_not_named():
    a, _unused = make_board('triple', 7, 10)
    b, _unused = make_board('stack', 7, 11)
    c, _unused = make_board('single', 255, 12, blank_eeprom=True)
    d, _unused = make_board('aplus6', 255, 13, blank_eeprom=True)
    e, _unused = make_board('phat', 50, 14)
    with pytest.raises(DiscoveryError) as info:
        Cluster([d, e, a, c, b]).require_distinct_orders()
    text = str(info.value)
    assert 'order 7 is used by ClusterCTRL Triple (bus 10) and ClusterCTRL Stack (bus 11)' in text
    assert 'order 255 is used by ClusterCTRL Single (bus 12) and ClusterCTRL A+6 (bus 13)' in text
    assert text.index('order 7 ') < text.index('order 255 ')
    assert 'bus 14' not in text


def test_blank_eeprom_boards_read_order_255_and_collide():
    """§8.3: a blank EEPROM gives 255, so two blank boards are a duplicate too."""
    a, _unused = make_board('triple', None, 10, blank_eeprom=True)
    b, _unused = make_board('phat', None, 11, blank_eeprom=True)
    assert a.order == b.order == 255
    with pytest.raises(DiscoveryError, match='order 255 is used by'):
        Cluster([a, b]).resolve(['all'])


# ---------------------------------------------------------------------------- resolve(): what works


def test_resolve_global_names_sorted_and_without_duplicates(triple_phat):
    cluster, triple, phat, _tfw, _pfw = triple_phat
    got = cluster.resolve(['p5', 'p1', 'p3', 'p1', 'p5'])
    assert got == [PiAddress('p1', 1, triple, 1), PiAddress('p3', 3, triple, 3), PiAddress('p5', 5, phat, 2)]


def test_resolve_all_gives_every_pi_once_in_order(triple_phat):
    cluster, _triple, _phat, _tfw, _pfw = triple_phat
    assert names(cluster.resolve(['all'])) == ['p1', 'p2', 'p3', 'p4', 'p5']
    assert cluster.resolve(['p4', 'all', 'p2']) == cluster.all_pis()
    assert names(cluster.resolve(['ALL'])) == ['p1', 'p2', 'p3', 'p4', 'p5']


def test_resolve_board_relative_slots_give_global_names(triple_phat):
    """``controller: 20, pis: [2]`` is the pHAT's P2, which is p5 globally."""
    cluster, triple, phat, _tfw, _pfw = triple_phat
    assert cluster.resolve(['2'], controller=20) == [PiAddress('p5', 5, phat, 2)]
    assert cluster.resolve(['3', '1', '3'], controller=5) == [PiAddress('p1', 1, triple, 1), PiAddress('p3', 3, triple, 3)]
    assert cluster.resolve([2, '2', ' 1 '], controller=20) == [PiAddress('p4', 4, phat, 1), PiAddress('p5', 5, phat, 2)]


def test_resolve_all_with_controller_is_only_that_board(triple_phat):
    cluster, _triple, phat, _tfw, _pfw = triple_phat
    got = cluster.resolve(['all'], controller=20)
    assert names(got) == ['p4', 'p5']
    assert all(a.board is phat for a in got)
    assert names(cluster.resolve(['1', 'all'], controller=5)) == ['p1', 'p2', 'p3']


def test_board_by_order(triple_phat):
    cluster, triple, phat, _tfw, _pfw = triple_phat
    assert cluster.board(5) is triple
    assert cluster.board('20') is phat


@pytest.mark.parametrize(
    'controller, message',
    [
        ('hat', 'controller "hat" was named, but this cluster has no ClusterHAT'),
        ('HAT', 'controller "hat" was named, but this cluster has no ClusterHAT'),
        ('two', 'controller must be a board order (1 to 255) or "hat", got \'two\''),
        (7, 'no ClusterCTRL board has order 7; orders present: 5, 20'),
    ],
)
def test_unknown_controllers_are_named_in_the_error(triple_phat, controller, message):
    cluster = triple_phat[0]
    with pytest.raises(AddressingError) as err:
        cluster.board(controller)
    assert message in str(err.value)


# ---------------------------------------------------------------------------- resolve(): errors (bad_input.yml)


@pytest.mark.parametrize(
    'pis, controller, message',
    [
        (['node1'], None, 'unknown Pi name \'node1\': use "all" or global names p1 to p5 (or set controller to use slot numbers)'),
        (['1'], None, "unknown Pi name '1'"),
        (['p'], None, "unknown Pi name 'p'"),
        (['p-1'], None, "unknown Pi name 'p-1'"),
        (['p0'], None, 'Pi p0 does not exist: this cluster has p1 to p5'),
        (['p6'], None, 'Pi p6 does not exist: this cluster has p1 to p5'),
        (['p1', 'p99'], None, 'Pi p99 does not exist: this cluster has p1 to p5'),
        (['1'], 3, 'no ClusterCTRL board has order 3; orders present: 5, 20'),
        (['4'], 5, "Pi '4' does not exist on the controller with order 5 (ClusterCTRL Triple): its Pis are 1 to 3"),
        (['0'], 20, "Pi '0' does not exist on the controller with order 20 (ClusterCTRL pHAT): its Pis are 1 to 2"),
        (['3'], 20, "Pi '3' does not exist on the controller with order 20"),
        (['-1'], 20, "Pi '-1' does not exist on the controller with order 20"),
        (['p1'], 5, "Pi 'p1' does not exist on the controller with order 5 (ClusterCTRL Triple): its Pis are 1 to 3"),
        (['one'], 5, "Pi 'one' does not exist on the controller with order 5"),
        ([], None, 'no Pis named: give "all", global names like p1, or slots with controller'),
        ([], 5, 'no Pis named'),
        (None, None, 'no Pis named'),
    ],
)
def test_resolve_errors_are_addressing_errors_with_clear_messages(triple_phat, pis, controller, message):
    cluster, _triple, _phat, _tfw, _pfw = triple_phat
    with pytest.raises(AddressingError) as info:
        cluster.resolve(pis, controller)
    assert message in str(info.value)


def test_a_bad_name_sends_nothing_to_any_board(triple_phat):
    """Resolution happens before any command: a request with one bad name leaves every board untouched."""
    cluster, triple, phat, _tfw, _pfw = triple_phat
    before = [len(ADAPTERS[id(b)].journal) for b in (triple, phat)]
    with pytest.raises(AddressingError):
        cluster.resolve(['p1', 'p4', 'p42'])
    with pytest.raises(AddressingError):
        cluster.resolve(['1', '9'], controller=20)
    after = [len(ADAPTERS[id(b)].journal) for b in (triple, phat)]
    assert after == before


def test_non_ascii_digit_slot_is_an_addressing_error(triple_phat):
    """'²' passes str.isdigit() but int() refuses it; the user must still get an AddressingError, not a bare ValueError."""
    cluster, _triple, _phat, _tfw, _pfw = triple_phat
    with pytest.raises(AddressingError, match='does not exist on the controller with order 5'):
        cluster.resolve(['\u00b2'], controller=5)
