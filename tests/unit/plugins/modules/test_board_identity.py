# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Boards named apart from their order (issue 10, day one): every ClusterCTRL board leaves the factory at
order 20 (spec §5.1), and two boards sharing an order cannot be numbered (§8.3, §11 fact 66)."""

from __future__ import annotations

import random

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import parse_bus
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import AddressingError
from ansible_collections.picluster.clusterctrl.plugins.modules import (
    clusterctrl_board,
    clusterctrl_eeprom,
    clusterctrl_fan,
    clusterctrl_info,
    clusterctrl_power,
    clusterctrl_usbboot,
)
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import execute, journal, write_lab

TWO_NEW = 'controllers:\n  - {type: triple, usb_path: "1-1.3"}\n  - {type: stack, usb_path: "1-1.2"}\n'


def test_info_lists_every_board_of_a_clashing_cluster_and_warns(tmp_path):
    lab = write_lab(tmp_path, TWO_NEW)
    failed, result, _seconds = execute(clusterctrl_info, dict(virtual_lab=lab))
    assert not failed
    assert sorted((c['usb_path'], c['order'], c['bus']) for c in result['controllers']) == [('1-1.2', 20, 11), ('1-1.3', 20, 10)]
    assert len(result['pis']) == 8
    (warning,) = [w['event']['msg'] if isinstance(w, dict) else w for w in result['warnings']]
    assert 'order 20 is used by ClusterCTRL Stack (bus 11, USB path 1-1.2) and ClusterCTRL Triple (bus 10, USB path 1-1.3)' in warning


@pytest.mark.parametrize(
    'module, args',
    [
        (clusterctrl_power, dict(pis=['p1'])),
        (clusterctrl_power, dict(pis=['1'], usb_path='1-1.3')),
        (clusterctrl_usbboot, dict(pis=['all'])),
        (clusterctrl_fan, dict(state='on')),
        (clusterctrl_eeprom, dict(save=['power'])),
        (clusterctrl_board, dict(controller='20', alert='on')),
    ],
)
def test_every_other_use_refuses_naming_the_boards_and_the_fix(tmp_path, module, args):
    lab = write_lab(tmp_path, TWO_NEW)
    failed, result, _seconds = execute(module, dict(args, virtual_lab=lab))
    assert failed and result['changed'] is False
    assert 'USB path 1-1.2' in result['msg'] and 'USB path 1-1.3' in result['msg']
    assert 'clusterctrl_board: {assign_orders: true}' in result['msg']
    assert "clusterctrl_board: {usb_path: '1-1.2', order: 1}" in result['msg']
    assert not [e for e in journal(lab) if e['mutating']]


def test_board_and_eeprom_work_on_a_clashing_cluster_by_usb_path_and_bus(tmp_path):
    lab = write_lab(tmp_path, TWO_NEW)
    failed, result, _seconds = execute(clusterctrl_board, dict(virtual_lab=lab, usb_path='1-1.3', order=2, save_order=True))
    assert not failed and result['controller'] == 2 and result['saved'][0]['written'] == ['order'], result
    failed, result, _seconds = execute(clusterctrl_eeprom, dict(virtual_lab=lab, bus='11', save=['order']))
    assert not failed and result['controllers'][0]['written'] == ['order'] and result['controllers'][0]['image'] == {'order': 20}
    failed, result, _seconds = execute(clusterctrl_board, dict(virtual_lab=lab, bus='11', order=1))
    assert not failed and result['changed'] is True
    failed, result, _seconds = execute(clusterctrl_power, dict(virtual_lab=lab, pis=['p1', 'p6'], power_on_delay=0))
    assert not failed and result['pis']['p6']['controller'] == 2 and result['pis']['p1']['controller'] == 1


def test_naming_a_board_that_is_not_there_lists_the_boards(tmp_path):
    lab = write_lab(tmp_path, TWO_NEW)
    failed, result, _seconds = execute(clusterctrl_board, dict(virtual_lab=lab, usb_path='1-9', order=2))
    assert failed and 'no single board is at USB path 1-9' in result['msg'] and 'USB path 1-1.2' in result['msg']


def test_assign_orders_is_deterministic_idempotent_and_predicted(tmp_path):
    """Seeded layouts of 1-6 boards, some at the factory order: check mode predicts the real run, a re-run changes nothing."""
    rng = random.Random(10)
    types = ['single', 'triple', 'phat', 'aplus6', 'stack', 'da']
    for case in range(25):
        directory = tmp_path / f'c{case}'
        directory.mkdir()
        lines = ['controllers:']
        used = set()
        paths = rng.sample(range(1, 10), rng.randint(1, 6))
        for path in paths:
            order = rng.choice([None, None, rng.randint(1, 25)])
            if order in used or order == 20:
                order = None
            used.add(order)
            lines.append(f'  - {{type: {rng.choice(types)}, usb_path: "1-1.{path}"' + (f', order: {order}' if order else '') + '}')
        lab = write_lab(directory, '\n'.join(lines) + '\n')
        failed, predicted, _seconds = execute(clusterctrl_board, dict(virtual_lab=lab, assign_orders=True), check_mode=True, diff=True)
        assert not failed, predicted['msg']
        failed, real, _seconds = execute(clusterctrl_board, dict(virtual_lab=lab, assign_orders=True), diff=True)
        assert not failed and real['orders'] == predicted['orders'] and real['diff'] == predicted['diff']
        new = sorted(f'1-1.{p}' for p, line in zip(paths, lines[1:]) if 'order' not in line)
        assert sorted(real['orders']) == new
        taken = {int(line.split('order: ')[1].rstrip('}')) for line in lines[1:] if 'order' in line}
        given = [real['orders'][path]['value'] for path in new]
        assert given == sorted(given) and not set(given) & taken and 20 not in given
        assert given == [n for n in range(1, 256) if n not in taken and n != 20][: len(new)]  # the lowest free, by USB path
        failed, again, _seconds = execute(clusterctrl_board, dict(virtual_lab=lab, assign_orders=True))
        assert not failed and again['changed'] is False
        failed, info, _seconds = execute(clusterctrl_info, dict(virtual_lab=lab))
        assert not failed and 'warnings' not in info, (lines, [(c['usb_path'], c['order']) for c in info['controllers']])


@pytest.mark.parametrize('text', ['²', '١', '3x', '', ' ', '-1', '99999', 'i2c-1', '/dev/i2c-1\nx', '../dev/i2c-1'])
def test_bus_names_are_ascii_digits_or_a_device_path(text):
    with pytest.raises(AddressingError, match='neither a bus number'):
        parse_bus(text)


def test_bus_numbers_and_paths_parse():
    assert parse_bus('3') == 3 and parse_bus(' 12 ') == 12 and parse_bus('/dev/ClusterCTRL-3') == '/dev/ClusterCTRL-3'


def test_unicode_bus_number_fails_cleanly_in_a_module():
    failed, result, _seconds = execute(clusterctrl_info, dict(buses=['²']))
    assert failed and 'neither a bus number' in result['msg'] and 'exception' not in result
