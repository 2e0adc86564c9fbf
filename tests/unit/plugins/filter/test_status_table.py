# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""status_table: real clusterctrl_info results render; anything else raises AnsibleFilterError naming the key.

Issue 10 ("dead-end messages"): a malformed input failed with a bare KeyError 'order'.
"""

from __future__ import annotations

import copy
import random

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.picluster.clusterctrl.plugins.filter.status_table import FilterModule, status_table
from ansible_collections.picluster.clusterctrl.plugins.modules import clusterctrl_info
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import run_module, write_lab

LAB = 'hat: {version: "2.5"}\ncontrollers:\n  - {type: triple, order: 1}\n  - {type: stack, order: 2, firmware: "1.5"}\n  - {type: da, order: 3, hats: [1]}\n'


@pytest.fixture(scope='module')
def info(tmp_path_factory):
    """A real clusterctrl_info result (a ClusterHAT, a Triple, a Stack and a DA)."""
    lab = write_lab(tmp_path_factory.mktemp('status-table'), LAB)
    result, code = run_module(clusterctrl_info.main, virtual_lab=lab)
    assert code == 0, result
    return result


def test_renders_a_real_result(info):
    lines = status_table(info)
    assert lines[0].split() == ['BOARD', 'PRODUCT', 'FW', 'BUS', 'PIS', 'TEMP', 'FAN']
    assert '' in lines
    blank = lines.index('')
    board_lines = lines[1:blank]
    assert len(board_lines) == len(info['controllers'])
    assert board_lines[0].startswith('hat ')
    pi_lines = lines[blank:][2:]
    assert [line.split()[0] for line in pi_lines] == sorted(info['pis'], key=lambda name: int(name[1:]))
    assert FilterModule().filters() == {'status_table': status_table}


def test_board_named_by_order_when_controller_is_absent(info):
    """Without a 'controller' key, a ClusterCTRL board's order names it."""
    older = copy.deepcopy(info)
    for board in older['controllers']:
        if board['order'] is not None:
            board.pop('controller')
    assert status_table(older)[2].split()[0] == '1'


def _walk(data, path):
    for step in path:
        data = data[step]
    return data


def _drop(*path):
    def apply(data):
        for key in path[-1:]:
            del _walk(data, path[:-1])[key]
        return data

    return apply


def _set(*path_and_value):
    *path, value = path_and_value

    def apply(data):
        _walk(data, path[:-1])[path[-1]] = value
        return data

    return apply


def _replace(value):
    return lambda _data: value


def _rename_pi(new_name):
    def apply(data):
        data['pis'][new_name] = data['pis'].pop('p1')
        return data

    return apply


# (case id, how to break a copy of a real result, what the message must say)
CASES = [
    ('none', _replace(None), 'the input must be a dictionary, got NoneType None'),
    ('string', _replace('p1 on'), 'the input must be a dictionary'),
    ('list', _replace([1, 2]), 'the input must be a dictionary'),
    ('empty_dict', _replace({}), 'controllers must be a list, it is missing'),
    ('failed_task', _replace({'failed': True, 'msg': 'no board answered'}), 'but the task failed: no board answered'),
    ('skipped_task', _replace({'skipped': True, 'changed': False}), 'but the task was skipped'),
    ('no_pis', _drop('pis'), 'pis must be a dictionary, it is missing'),
    ('controllers_dict', _set('controllers', {'a': 1}), 'controllers must be a list'),
    ('controllers_string', _set('controllers', 'triple'), 'controllers must be a list'),
    ('pis_list', _set('pis', ['p1']), 'pis must be a dictionary'),
    ('board_not_dict', _set('controllers', 0, 'hat'), 'controllers[0] must be a dictionary'),
    (
        'no_controller_no_order',
        lambda d: _drop('controllers', 1, 'order')(_drop('controllers', 1, 'controller')(d)),
        'controllers[1].controller must be an integer or a string, it is missing',
    ),
    ('no_product', _drop('controllers', 1, 'product'), 'controllers[1].product must be a string, it is missing'),
    ('product_int', _set('controllers', 1, 'product', 5), 'controllers[1].product must be a string, got int 5'),
    ('no_firmware', _drop('controllers', 1, 'firmware'), 'controllers[1].firmware must be a string or null'),
    ('firmware_float', _set('controllers', 1, 'firmware', 1.5), 'controllers[1].firmware must be a string or null, got float 1.5'),
    ('no_bus', _drop('controllers', 1, 'bus'), 'controllers[1].bus must be an integer or a string'),
    ('bus_list', _set('controllers', 1, 'bus', [1]), 'controllers[1].bus must be an integer or a string'),
    ('bus_bool', _set('controllers', 1, 'bus', True), 'controllers[1].bus must be an integer or a string, got bool True'),
    ('no_maxpi', _drop('controllers', 1, 'maxpi'), 'controllers[1].maxpi must be an integer'),
    ('maxpi_string', _set('controllers', 1, 'maxpi', '3'), 'controllers[1].maxpi must be an integer of at least 0'),
    ('maxpi_negative', _set('controllers', 1, 'maxpi', -1), 'controllers[1].maxpi must be an integer of at least 0'),
    ('no_first_pi', _drop('controllers', 1, 'first_pi'), 'controllers[1].first_pi must be a Pi name like p1'),
    ('first_pi_garbage', _set('controllers', 1, 'first_pi', 'px'), "controllers[1].first_pi must be a Pi name like p1, got str 'px'"),
    ('first_pi_int', _set('controllers', 1, 'first_pi', 5), 'controllers[1].first_pi must be a Pi name like p1'),
    ('no_temperature', _drop('controllers', 1, 'temperature'), 'controllers[1].temperature must be a dictionary or null'),
    ('temperature_number', _set('controllers', 1, 'temperature', 40.5), 'controllers[1].temperature must be a dictionary'),
    ('temperature_no_celsius', _set('controllers', 1, 'temperature', {'raw': 5}), 'controllers[1].temperature.celsius must be a number'),
    ('celsius_string', _set('controllers', 1, 'temperature', {'celsius': 'hot'}), 'controllers[1].temperature.celsius must be a number'),
    ('no_fan', _drop('controllers', 1, 'fan'), 'controllers[1].fan must be a dictionary'),
    ('fan_string', _set('controllers', 1, 'fan', 'on'), 'controllers[1].fan must be a dictionary'),
    ('fan_supported_string', _set('controllers', 1, 'fan', {'supported': 'yes'}), 'controllers[1].fan.supported must be true, false or null'),
    (
        'fan_running_int',
        _set('controllers', 1, 'fan', {'supported': True, 'readable': True, 'running': 1}),
        'controllers[1].fan.running must be true, false or null',
    ),
    ('pi_name_garbage', _rename_pi('node7'), "pis key 'node7' must be a Pi name like p1"),
    ('pi_name_int', _rename_pi(7), 'pis key 7 must be a Pi name like p1'),
    ('pi_not_dict', _set('pis', 'p2', 'on'), 'pis.p2 must be a dictionary'),
    ('pi_no_power', _drop('pis', 'p2', 'power'), 'pis.p2.power must be true, false or null, it is missing'),
    ('pi_power_string', _set('pis', 'p2', 'power', 'on'), "pis.p2.power must be true, false or null, got str 'on'"),
    ('pi_no_slot', _drop('pis', 'p2', 'pi'), 'pis.p2.pi must be an integer'),
    ('pi_slot_zero', _set('pis', 'p2', 'pi', 0), 'pis.p2.pi must be an integer of at least 1'),
    ('pi_no_controller', _drop('pis', 'p2', 'controller'), 'pis.p2.controller must be an integer or a string'),
    ('pi_usbboot_string', _set('pis', 'p5', 'usbboot', 'off'), 'pis.p5.usbboot must be true, false or null'),
]


@pytest.mark.parametrize('case,breaks,message', CASES, ids=[case[0] for case in CASES])
def test_malformed_input_gives_a_clear_error(info, case, breaks, message):
    data = breaks(copy.deepcopy(info))
    with pytest.raises(AnsibleFilterError) as raised:
        status_table(data)
    assert message in str(raised.value)
    assert 'clusterctrl_info' in str(raised.value)


WRONG_VALUES = [None, True, 0, -3, 2.5, float('nan'), '', 'x', 'p1', [], [1], {}, {'celsius': 'x'}, ('a',), b'p1']


def _paths(value, prefix=()):
    """Every key path of a nested result (lists by index)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield prefix + (key,)
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield prefix + (index,)
            yield from _paths(item, prefix + (index,))


def _mutate(data, rng):
    """One random mutation: drop a key, replace a value with a wrong-typed one, truncate a list, or add junk."""
    paths = list(_paths(data))
    path = rng.choice(paths)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    kind = rng.choice(['drop', 'replace', 'replace', 'truncate', 'junk_key'])
    if kind == 'drop':
        del parent[key]
    elif kind == 'replace':
        parent[key] = copy.deepcopy(rng.choice(WRONG_VALUES))
    elif kind == 'truncate' and isinstance(parent[key], list):
        keep = rng.randrange(len(parent[key]) + 1)
        del parent[key][keep:]
    elif isinstance(parent, dict):
        parent[rng.choice(['p99x', 7, None, 'controllers'])] = rng.choice(WRONG_VALUES)


@pytest.mark.parametrize('seed', range(8))
def test_seeded_fuzz_never_gives_anything_but_lines_or_a_filter_error(info, seed):
    """400 seeded mutations of a real result (1 to 3 each): lines of text, or AnsibleFilterError; no other exception."""
    rng = random.Random(seed)
    refused = 0
    for _round in range(50):
        data = copy.deepcopy(info)
        for _step in range(rng.randint(1, 3)):
            if isinstance(data, dict) and data:
                _mutate(data, rng)
        try:
            lines = status_table(data)
        except AnsibleFilterError as exc:
            assert str(exc).startswith('status_table expects the registered result of picluster.clusterctrl.clusterctrl_info')
            refused += 1
        else:
            assert isinstance(lines, list) and all(isinstance(line, str) for line in lines)
    assert refused > 0
