# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""``clusterctrl status`` against the format of clusterctrl-protocol.md §8.5, on every board type and firmware.

Two checks per lab: each line matches the §8.5 pattern of its key, in §8.5's order; and the
output equals, line for line, what the official CLI's own procedure (§8.5 "How the controller
lines are built", replayed below with raw SMBus calls on the same lab) prints, with its one
bug fixed (§7.3: the v3.0 hub polarity). Also: half the official CLI's bus calls (§10.3).
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
from contextlib import redirect_stdout

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl import cli
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import SUPPORTED_FIRMWARE, BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.cli_status import ClusterStatus, HatStatus, render
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab

BOARDS = [bt.value for bt in BoardType]
A = 0x20
BENCHMARKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), *['..'] * 5, 'benchmarks')


def write_lab(tmp_path, text, name='lab.yml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def controller(board, order, firmware=None):
    extra = ', hats: [0, 2, 5]' if board == 'da' else ''
    firmware = f', firmware: "{firmware}"' if firmware else ''
    return f'  - {{type: {board}, order: {order}{firmware}{extra}}}\n'


def journal(lab):
    path = VirtualLab(lab).state_file + '.journal.jsonl'
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def status(lab, *options):
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(['--lab', lab, 'status', *options])
    assert code == 0
    return out.getvalue()


# ---------------------------------------------------------------------------- the official CLI's procedure (§8.5)


def _send(bus, cmd, *data):
    for index in reversed(range(len(data))):
        bus.write_byte_data(A, 0x0C - index, data[index])
    bus.write_byte_data(A, 0x0D, cmd)


def _vendor_controller(bus, order, maxpi, first):
    _send(bus, 0xF2, 0)
    major, minor = bus.read_i2c_block_data(A, 0x0B, 2)
    info = ''
    _send(bus, 0xF2, 1)
    for adc in range(bus.read_byte_data(A, 0x0C)):
        _send(bus, 0xF2, 2, adc + 1)
        high, low, kind = bus.read_i2c_block_data(A, 0x0A, 3)
        scale = {1: 6.4453125, 2: 33.34093896028037}.get(kind)
        if scale:
            info += f' ADC{adc + 1}:{int(((high << 8) + low) * scale)}mV'
    _send(bus, 0xF2, 3)
    high, low, marker = bus.read_i2c_block_data(A, 0x0A, 3)
    if marker == 2:
        info += ' T1:' + format((((high << 8) + low) - 247) / 1.22, '.2f') + 'C'
    if (major, minor) == (1, 6):
        _send(bus, 0xF2, 4)
        info += f' FAN:{bus.read_byte_data(A, 0x0C):08b}'
    lines = [f'ctrl{order}:FW:{float(f"{major}.{minor}")} {info.strip()}']
    for pi in range(1, maxpi + 1):
        _send(bus, 0x0F, pi)
        lines.append(f'p{first + pi - 1}:{bus.read_byte_data(A, 0x0C)}')
        _send(bus, 0x14, pi)
        if bus.read_byte_data(A, 0x0C) != 0xFF:
            lines.append(f'u{first + pi - 1}:{bus.read_byte_data(A, 0x0C)}')
    return lines


def vendor_status(lab):
    """What /usr/sbin/clusterctrl status prints for this lab (its hub polarity bug fixed), from raw SMBus calls."""
    with VirtualLab(lab).session(check_mode=True) as session:
        ctrl = sorted((c.smbus.read_byte_data(A, 0x02), c.smbus, c.config.bus, c.smbus.read_byte_data(A, 0x01)) for c in session.controllers)
        hat = session.hat
        size = hat.config.size if hat else 0
        lines = [
            f'clusterhat:{1 if hat else False}',
            f'clusterctrl:{len(ctrl) or False}',
            f'maxpi:{size + sum(c[3] for c in ctrl)}',
            'pirevision:Unknown',
            'throttled:NA',
        ]
        if ctrl:
            lines.append('ctrl_bus:' + ''.join(f'{c[0]}:{c[2]}:{c[3]} ' for c in ctrl))
        if hat:
            major, minor = (int(x) for x in hat.config.version.split('.'))
            value = hat.smbus.read_byte_data(A, 0x00)
            try:
                wplink, p_part = hat.smbus.read_byte_data(A, 0x04) >> 7, True
            except OSError:
                wplink, p_part = -1, False
            hub = (value >> 5) & 1
            lines += [
                f'hat_version:{major}.{minor}',
                f'hat_version_major:{major}',
                f'hat_version_minor:{minor}',
                f'hat_size:{size}',
                'hat_uuid:NA',
                'hat_vendor:NA',
                'hat_product_id:NA',
                'is_pi5:False',
                f'hat_alert:{(value >> 6) & 1}',
                f'hat_hub:{hub if (major, minor) == (2, 0) else int(not hub)}',
                f'hat_wp:{(value >> 7) & 1}',
            ]
            lines += [f'hat_led:{(value >> 4) & 1}'] if major == 2 else []
            lines += [f'hat_wplink:{wplink}', f'hat_xra1200p:{p_part}']
            lines += [f'p{p}:{(value >> (p - 1)) & 1}' for p in range(1, size + 1)]
        first = size + 1
        for order, bus, _number, maxpi in ctrl:
            lines += _vendor_controller(bus, order, maxpi, first)
            first += maxpi
    return lines


# ---------------------------------------------------------------------------- the §8.5 patterns

HEAD = [r'clusterhat:(1|False|\d+\.\d+)', r'clusterctrl:(\d+|False)', r'maxpi:\d+', r'pirevision:(0x[0-9a-f]+|Unknown)', r'throttled:.*']
HAT_KEYS = [
    r'hat_version:\d+\.\d+',
    r'hat_version_major:\d+',
    r'hat_version_minor:\d+',
    r'hat_size:[1-4]',
    r'hat_uuid:.*',
    r'hat_vendor:.*',
    r'hat_(product_id|pid):.*',
]
CTRL = re.compile(r'ctrl(\d+):FW:\d+\.\d+ (ADC\d:\d+mV)?( ADC\d:\d+mV)*( ?T1:-?\d+\.\d\dC)?( ?FAN:[01]{8})?$')


def check_format(text, hat=None, controllers=()):
    """Every line of ``text`` in §8.5 order and format; ``controllers``: (order, maxpi, has_usbboot) by ascending order."""
    assert text.endswith('\n')
    lines = text[:-1].split('\n')
    expected = list(HEAD)
    if controllers:
        expected.append(r'ctrl_bus:(\d+:\d+:\d+ )+')
    if hat:
        expected += HAT_KEYS + (['hat_force:.*'] if hat.get('forced') else [])
        expected += [r'is_pi5:(True|False)', r'hat_alert:[01]', r'hat_hub:[01]', r'hat_wp:[01]']
        expected += [r'hat_led:[01]'] if hat['version'].startswith('2') else []
        expected += [r'hat_wplink:(-1|0|1)', r'hat_xra1200p:(True|False)']
        expected += [rf'p{n}:[01]' for n in range(1, hat['size'] + 1)]
    number = hat['size'] + 1 if hat else 1
    for order, maxpi, usbboot in controllers:
        expected.append(rf'ctrl{order}:FW:.*')
        for _slot in range(maxpi):
            expected.append(rf'p{number}:(0|1|255)')
            expected += [rf'u{number}:[01]'] if usbboot else []
            number += 1
    assert len(lines) == len(expected), text
    for line, pattern in zip(lines, expected):
        assert re.fullmatch(pattern, line), (pattern, line)
        if line.startswith('ctrl') and not line.startswith('ctrl_bus'):
            assert CTRL.match(line), line
    assert lines[2] == f'maxpi:{number - 1}'


@pytest.mark.parametrize('firmware', SUPPORTED_FIRMWARE)
@pytest.mark.parametrize('board', BOARDS)
def test_status_of_every_board_and_firmware_is_the_official_format(tmp_path, board, firmware):
    lab = write_lab(tmp_path, 'controllers:\n' + controller(board, 7, firmware))
    text = status(lab)
    spec = BoardType(board).spec
    check_format(text, controllers=[(7, spec.maxpi, spec.has_usbboot)])
    assert text.split('\n')[:-1] == vendor_status(lab)
    line = next(x for x in text.split('\n') if x.startswith('ctrl7:'))
    assert ('FAN:' in line) == (firmware == '1.6')  # §8.5: FAN on firmware 1.6 only
    assert line.startswith(f'ctrl7:FW:{firmware} ')  # the space stays even when nothing follows (Single, pHAT)


@pytest.mark.parametrize('version, part', [('2.0', 'xra1200p'), ('2.5', 'xra1200'), ('3.0', 'xra1200p'), ('3.1', 'xra1200')])
def test_status_with_a_clusterhat_and_controllers(tmp_path, version, part):
    lab = write_lab(
        tmp_path, f'hat: {{version: "{version}", part: {part}}}\ncontrollers:\n' + controller('stack', 9) + controller('triple', 3) + controller('da', 12)
    )
    status(lab)  # the first call sets the HAT up (§7.4), as the official CLI does
    text = status(lab)
    check_format(text, hat=dict(version=version, size=4), controllers=[(3, 3, True), (9, 5, False), (12, 32, False)])
    assert text.split('\n')[:-1] == vendor_status(lab)
    assert 'p17:255' in text.split('\n') and 'p21:0' in text.split('\n')  # §3: DA mux port 1 has no ClusterHAT


def test_v3_0_hub_polarity_is_the_hardware_s(tmp_path):
    """§7.3 [DISAGREE]: the CLI treats v3.0 as active-high in hat_hub; the set-up (and the board) makes it active-low."""
    lab = write_lab(tmp_path, 'hat: {version: "3.0"}\n')
    assert 'hat_hub:1' in status(lab).split('\n')  # the set-up switched the hub on: the line says so


def test_forced_hat_lines_and_empty_info():
    """§8.5: with CLUSTERHAT_FORCE the id lines are NA and hat_product_id becomes hat_pid, then hat_force."""
    hat = HatStatus(2, 5, 4, '2.5', 'NA', 'NA', 'NA', True, 0, 1, 1, 1, 1, True)
    lines = render(ClusterStatus('2.5', 4, '0xc03111', '0x0', hat, [], []))
    assert lines[:5] == ['clusterhat:2.5', 'clusterctrl:False', 'maxpi:4', 'pirevision:0xc03111', 'throttled:0x0']
    assert lines[5:15] == [
        'hat_version:2.5',
        'hat_version_major:2',
        'hat_version_minor:5',
        'hat_size:4',
        'hat_uuid:NA',
        'hat_vendor:NA',
        'hat_pid:NA',
        'hat_force:2.5',
        'is_pi5:True',
        'hat_alert:0',
    ]


def test_json_has_the_same_facts(tmp_path):
    lab = write_lab(tmp_path, 'hat: {version: "2.5"}\ncontrollers:\n' + controller('triple', 3, '1.6') + controller('stack', 9))
    text = status(lab).split('\n')[:-1]
    data = json.loads(status(lab, '--json'))
    facts = dict(line.split(':', 1) for line in text)
    assert facts['maxpi'] == str(data['maxpi']) and facts['clusterctrl'] == str(data['clusterctrl'])
    assert facts['ctrl_bus'] == ''.join(f'{c["order"]}:{c["bus"]}:{c["maxpi"]} ' for c in data['ctrl_bus'])
    for name, pi in data['pis'].items():
        assert facts[name] == str(pi['power'])
        assert facts.get('u' + name[1:]) == (None if pi['usbboot'] is None else str(pi['usbboot']))
    assert facts['hat_wplink'] == str(data['hat']['wplink']) and facts['hat_hub'] == str(data['hat']['hub'])
    triple = data['controllers'][0]
    assert facts['ctrl3'] == f'FW:{triple["firmware"]} ADC1:{triple["adc"][0]["millivolts"]}mV T1:{triple["temperature_c"]:.2f}C FAN:00000000'


def cli_model_calls(lab):
    """SMBus calls of benchmarks/cli_model.py (the official CLI's sequences, discovery included) for one status."""
    sys.path.insert(0, BENCHMARKS)
    try:
        from cli_model import CliController, CliHat  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.remove(BENCHMARKS)
    with VirtualLab(lab).session(check_mode=True) as session:
        mark = len(session.journal)
        if session.hat is not None:
            CliHat(session.hat.smbus, session.hat.config.version, session.hat.config.part).status()
        for board in session.controllers:
            CliController(board.smbus).status()
        return len(session.journal) - mark


@pytest.mark.parametrize('firmware', ['1.5', '1.6', '1.8'])
@pytest.mark.parametrize('board', BOARDS + ['hat 2.5', 'hat 3.0'])
def test_status_makes_at_most_half_the_official_cli_s_bus_calls(tmp_path, board, firmware):
    """Issue 11 target, counted on the lab journal against benchmarks/cli_model.py (§10.3)."""
    if board.startswith('hat'):
        lab = write_lab(tmp_path, f'hat: {{version: "{board[4:]}", part: xra1200}}\n')
    else:
        lab = write_lab(tmp_path, 'controllers:\n' + controller(board, 1, firmware))
    status(lab)  # the ClusterHAT's first-run set-up out of the way (§7.4)
    mark = len(journal(lab))
    status(lab)
    ours = len(journal(lab)) - mark
    if not board.startswith('hat'):  # the replay above makes the official CLI's controller calls (§10.3: 39 on a Triple)
        mark = len(journal(lab))
        vendor_status(lab)
        assert 2 * ours <= len(journal(lab)) - mark, board
    if not os.path.isdir(BENCHMARKS):
        pytest.skip('benchmarks/ is not in this copy of the collection')
    assert 2 * ours <= cli_model_calls(lab), board


if __name__ == '__main__':  # pragma: no cover
    sys.exit(pytest.main([__file__]))
