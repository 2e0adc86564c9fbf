# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``clusterctrl`` command on virtual labs: commands (clusterctrl-protocol.md §8.4), exit codes, ``--dry-run``.

Every run goes through ``cli.main`` as a user's would; what reached the boards is read back
from the lab journal (one line per SMBus call, with the commands the firmware ran).
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl import cli, cli_actions
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.host import Host
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab

TRIPLE_LAB = 'controllers:\n  - {type: triple, order: 5, firmware: "1.6"}\n'
MIXED_LAB = 'hat: {version: "2.5"}\ncontrollers:\n  - {type: triple, order: 5}\n  - {type: single, order: 6}\n  - {type: phat, order: 8}\n'


@pytest.fixture
def lab(tmp_path):
    def make(text=TRIPLE_LAB):
        path = tmp_path / 'lab.yml'
        path.write_text(text)
        return str(path)

    return make


def journal(lab_path):
    path = VirtualLab(lab_path).state_file + '.journal.jsonl'
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle]


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert 'Traceback' not in out + err
    return code, out, err


def lines(out):
    return out.split('\n')[:-1]


def commands_since(lab_path, mark):
    return [(e['bus'], c['name'], c['args'][:1]) for e in journal(lab_path)[mark:] for c in e['commands'] if not c['deferred']]


def test_on_p2_then_status(capsys, lab):
    """Issue 11 done-when: ``--lab LAB on p2`` then ``--lab LAB status`` prints p2:1, p1:0 and the ctrl_bus line."""
    path = lab()
    assert run(capsys, '--lab', path, 'on', 'p2')[:2] == (0, '')
    code, out, _err = run(capsys, '--lab', path, 'status')
    assert code == 0
    assert 'p2:1' in lines(out) and 'p1:0' in lines(out) and 'p3:0' in lines(out)
    assert 'ctrl_bus:5:10:3 ' in lines(out)


def test_dry_run_sends_nothing_that_changes_a_board(capsys, lab):
    """``--dry-run`` prints each write it would send; the journal holds no mutating entry of that run (check mode)."""
    path = lab(MIXED_LAB)
    run(capsys, '--lab', path, 'status')  # the HAT's first-run set-up, outside the dry run
    for argv in (
        ['on'],
        ['off', 'p1', 'p5'],
        ['led', 'off'],
        ['alert', 'on'],
        ['hub', 'reset'],
        ['savedefaults', '5'],
        ['setorder', '6', '7'],
        ['usbboot', 'on', 'p6'],
        ['wp', 'off'],
        ['reset', '8'],
        ['fan', 'on'],
    ):
        mark = len(journal(path))
        code, out, _err = run(capsys, '--lab', path, '--dry-run', *argv)
        assert code == 0, argv
        entries = journal(path)[mark:]
        assert entries and all(e['check_mode'] for e in entries), argv
        assert not any(e['mutating'] for e in entries), argv
        assert all(c['name'] in ('GET_PSTATUS', 'GET_USTATUS', 'GET_DATA', 'GETPATH') for e in entries for c in e['commands']), argv
        if argv != ['fan', 'on']:  # no fan on these boards: nothing to send
            assert out.startswith('dry-run: '), (argv, out)
    code, out, _err = run(capsys, '--lab', path, 'status')
    assert 'p1:0' in lines(out) and 'p5:0' in lines(out) and 'ctrl6:FW:1.5 ' in lines(out)  # nothing changed


def test_dry_run_describes_the_command(capsys, lab):
    path = lab()
    code, out, _err = run(capsys, '--lab', path, '--dry-run', 'on', 'p2')
    assert code == 0
    assert lines(out) == [
        'dry-run: ClusterCTRL triple (order 5, virtual bus 10, USB path 1-1.1): write_byte_data(0x20, 0x0D, [0x05]): ALERT_ON',
        'dry-run: ClusterCTRL triple (order 5, virtual bus 10, USB path 1-1.1): write_i2c_block_data(0x20, 0x0C, [0x02, 0x03]): ON 2',
        'dry-run: ClusterCTRL triple (order 5, virtual bus 10, USB path 1-1.1): write_byte_data(0x20, 0x0D, [0x06]): ALERT_OFF',
    ]
    data = json.loads(run(capsys, '--lab', path, '--dry-run', '--json', 'on', 'p2')[1])
    assert len(data['dry_run']) == 3 and data['pis'] == ['p2']


@pytest.mark.parametrize(
    'argv, code, message',
    [
        ([], 0, None),
        (['help'], 0, None),
        (['frobnicate'], 1, 'Missing arguments'),
        (['on', 'p9'], 1, 'Valid options are p1-p3'),
        (['on', 'x1'], 1, "'x1' is not a Pi"),
        (['status', 'extra'], 1, 'Missing arguments'),
        (['hub', 'sideways'], 1, 'Missing arguments'),
        (['save', '0'], 1, 'Invalid order'),
        (['save', 'abc'], 1, 'Invalid order'),
        (['save', '9'], 1, 'Unable to find Cluster CTRL device with that order'),
        (['setorder', '5'], 1, 'Missing arguments'),
        (['setorder', '5', '300'], 1, 'Invalid order new'),
        (['usbboot', 'on'], 1, 'name the Pis'),
        (['--delay', 'soon', 'on'], 1, '--delay'),
        (['--lab'], 1, '--lab needs a value'),
        (['--color', 'status'], 1, 'unknown option'),
        (['save', '5'], 0, None),
        (['maxpi'], 0, None),
    ],
)
def test_exit_codes_and_messages(capsys, lab, argv, code, message):
    path = lab()
    got, out, err = run(capsys, '--lab', path, *argv)
    assert got == code, (out, err)
    if message:
        assert err.startswith('ERROR: ') and message in err
        assert out == ''
    if argv in ([], ['help']):
        assert out.startswith('Usage: clusterctrl')
    if argv == ['save', '5']:
        assert out == 'saved\n'
    if argv == ['maxpi']:
        assert out == '3\n'


def test_no_lab_file_and_no_board(capsys, tmp_path):
    code, out, err = run(capsys, '--lab', str(tmp_path / 'missing.yml'), 'status')
    assert code == 1 and out == '' and err.startswith('ERROR: ')


def test_not_a_controller_image_exits_silently(capsys, monkeypatch):
    """§8.1: without TYPE=c or cnat in /etc/default/clusterctrl every command is a no-op with status 0."""
    monkeypatch.setattr(Host, 'read', classmethod(lambda cls: cls(config={'type': 'p1'}, virtual=False)))
    assert run(capsys, 'on', 'p1') == (0, '', '')


def test_duplicate_orders_refuse_commands_but_not_setorder(capsys, lab):
    """§8.3: two boards at 20 stop the official CLI, setorder included; here setorder fixes it one board per call."""
    path = lab('controllers:\n  - {type: triple, order: 20}\n  - {type: phat, order: 20}\n')
    code, _out, err = run(capsys, '--lab', path, 'status')
    assert code == 1 and "Duplicate ClusterCTRL 'order' found" in err and 'I2C Bus: 10 Order: 20' in err and 'setorder' in err
    code, out, err = run(capsys, '--lab', path, 'setorder', '20', '3')
    assert code == 0 and out == '' and 'orders clash' in err
    code, out, _err = run(capsys, '--lab', path, 'status')
    assert code == 0 and 'ctrl_bus:3:10:3 20:11:2 ' in lines(out)
    assert run(capsys, '--lab', path, 'setorder', '3', '20')[0] == 1  # would clash again: refused


def test_usbboot_reaches_only_the_pi_s_controller(capsys, lab):
    """§8.4 bug: the official loop has no break, so later controllers get a negative Pi number."""
    path = lab('controllers:\n  - {type: single, order: 1}\n  - {type: triple, order: 2}\n')
    mark = len(journal(path))
    assert run(capsys, '--lab', path, 'usbboot', 'off', 'p1')[0] == 0
    sent = [c for c in commands_since(path, mark) if c[1].startswith('USBBOOT')]
    assert sent == [(10, 'USBBOOT_DIS', [1])]
    code, out, _err = run(capsys, '--lab', path, 'status')
    assert 'u1:0' in lines(out) and 'u2:1' in lines(out)


def test_no_delay_after_the_last_power_on(capsys, lab, monkeypatch):
    """§8.4: the official CLI also sleeps CLUSTERCTRL_DELAY after the last Pi; here only between power-ons."""
    slept = []
    monkeypatch.setattr(cli_actions.time, 'sleep', slept.append)
    path = lab(MIXED_LAB)
    assert run(capsys, '--lab', path, '--delay', '0.5', 'on', 'p2', 'p5', 'p6', 'p9')[0] == 0
    assert slept == [0.5, 0.5, 0.5]
    slept.clear()
    assert run(capsys, '--lab', path, '--delay', '0.5', 'on', 'p2', 'p5')[0] == 0  # already on: nothing to wait for
    assert slept == []


def test_on_and_off_all(capsys, lab):
    path = lab(MIXED_LAB)
    assert run(capsys, '--lab', path, '--delay', '0', 'on')[0] == 0
    out = lines(run(capsys, '--lab', path, 'status')[1])
    assert all(f'p{n}:1' in out for n in range(1, 11))
    mark = len(journal(path))
    assert run(capsys, '--lab', path, 'on')[0] == 0
    assert not any(c[1] == 'ON' for c in commands_since(path, mark))  # everything was on already
    assert run(capsys, '--lab', path, 'off')[0] == 0
    out = lines(run(capsys, '--lab', path, 'status')[1])
    assert all(f'p{n}:0' in out for n in range(1, 11))


def test_led_on_does_not_power_a_phat(capsys, lab):
    """§3 [BUG]: LED_EN(0) on a pHAT or Single powers every Pi; ``led on`` must not."""
    path = lab(MIXED_LAB)
    mark = len(journal(path))
    assert run(capsys, '--lab', path, 'led', 'on')[0] == 0
    sent = commands_since(path, mark)
    assert (10, 'LED_EN', [0]) in sent and not any(c[0] in (11, 12) and c[1] == 'LED_EN' and c[2] == [0] for c in sent)
    out = lines(run(capsys, '--lab', path, 'status')[1])
    assert 'p9:0' in out and 'p10:0' in out and 'p8:0' in out


def test_hub_and_wp_on_a_clusterhat(capsys, lab):
    path = lab('hat: {version: "3.0"}\n')

    def hub_on():
        with VirtualLab(path).session(check_mode=True) as session:
            return session.hat.chip.outputs()['hub_on']

    assert run(capsys, '--lab', path, 'hub', 'off')[0] == 0
    assert 'hat_hub:0' in lines(run(capsys, '--lab', path, 'status')[1]) and hub_on() is False  # §7.3: v3.0 is active-low
    assert run(capsys, '--lab', path, 'hub', 'on')[0] == 0
    assert 'hat_hub:1' in lines(run(capsys, '--lab', path, 'status')[1]) and hub_on() is True
    assert run(capsys, '--lab', path, 'wp', 'off')[0] == 0
    assert 'hat_wp:0' in lines(run(capsys, '--lab', path, 'status')[1])
    code, _out, err = run(capsys, '--lab', lab(TRIPLE_LAB), 'hub', 'on')
    assert code == 0 and 'needs a ClusterHAT' in err  # the official CLI silently does nothing there


def test_getpath_fan_and_saves(capsys, lab):
    path = lab('controllers:\n  - {type: aplus6, order: 4, usb_path: "1-1.3.4.1"}\n  - {type: stack, order: 9}\n')
    code, out, _err = run(capsys, '--lab', path, 'getpath', 'p1', 'p5', 'p6')
    assert code == 0 and lines(out) == ['p1:1-1.3.1', 'p5:1-1.3.4.4', 'p6:']  # §8.6: a Stack reports no paths
    assert json.loads(run(capsys, '--lab', path, '--json', 'getpath', 'p2')[1]) == {'paths': {'p2': '1-1.3.2'}}
    mark = len(journal(path))
    assert run(capsys, '--lab', path, 'fan', 'on', '9')[0] == 0
    assert run(capsys, '--lab', path, 'fan', 'off')[0] == 0
    assert [c[1:] for c in commands_since(path, mark) if c[1] == 'FAN'] == [('FAN', [1]), ('FAN', [0]), ('FAN', [0])]
    for word in ('save', 'saveorder', 'savepos', 'saveusbboot', 'savedefaults'):
        assert run(capsys, '--lab', path, word, '4')[1] == 'saved\n'
    assert run(capsys, '--lab', path, 'reset', '9')[1] == 'reset\n'
    assert run(capsys, '--lab', path, 'act', 'off', '4')[0] == 0
    code, _out, err = run(capsys, '--lab', path, 'act', 'on', '9')
    assert code == 1 and 'ACT LED' in err


def test_json_output_of_commands(capsys, lab):
    path = lab()
    assert json.loads(run(capsys, '--lab', path, '--json', 'maxpi')[1]) == {'maxpi': 3}
    data = json.loads(run(capsys, '--lab', path, 'on', 'p1', 'p3', '--json', '--delay=0')[1])
    assert data == {'pis': ['p1', 'p3'], 'switched_on': ['p1', 'p3']}


def test_hardware_path_on_real_smbus2(capsys, monkeypatch):
    """Without --lab: discovery, flock and the combined I2C_RDWR transfers through a real smbus2.SMBus (kernel boundary emulated)."""
    pytest.importorskip('smbus2')
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl import boards_open  # pylint: disable=import-outside-toplevel
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.adapter import I2CTinyUsbAdapter  # pylint: disable=import-outside-toplevel
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware  # pylint: disable=import-outside-toplevel
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.i2c_dev import I2cDevEndpoint  # pylint: disable=import-outside-toplevel

    firmware = ClusterCTRLFirmware('triple', order=5, firmware='1.6')
    adapter = I2CTinyUsbAdapter.for_board(firmware, bus_number=3)
    endpoint = I2cDevEndpoint()
    monkeypatch.setattr(boards_open, 'open_smbus', lambda bus: endpoint.smbus2_bus(adapter))
    monkeypatch.setattr(boards_open, 'find_clusterctrl_buses', lambda: [(3, '1-1.2')])
    monkeypatch.setattr(boards_open, 'detect_clusterhat', lambda: None)
    monkeypatch.setattr(Host, 'read', classmethod(lambda cls: cls(config={'type': 'c', 'clusterctrl_delay': '0'}, virtual=False)))
    with endpoint.patch_smbus2():
        assert run(capsys, 'on', 'p3')[0] == 0
        code, out, _err = run(capsys, 'status')
    assert code == 0 and lines(out)[5] == 'ctrl_bus:5:3:3 ' and 'p3:1' in lines(out) and 'u3:1' in lines(out)
    status = adapter.journal.to_list()[-11:]  # identity read, then one transfer per command (FW ADC T1 FAN, 3 x p, 3 x u)
    assert [e['op'] for e in status] == ['read_i2c_block_data'] + ['i2c_rdwr'] * 10
    assert all(e['usb_transfers'] == 6 for e in status[1:])  # 3 I2C messages each (§1.2)


def test_host_configuration_and_facts(tmp_path):
    """§8.1: the defaults file as the CLI reads it; CLUSTERCTRL_DELAY as a number (the CLI sleeps on the string, [BUG])."""
    defaults = tmp_path / 'clusterctrl'
    defaults.write_text('# comment\nTYPE=c\nCLUSTERCTRL_DELAY="2.5" # seconds\nFANGPIO=18\nLINK=1\n')
    (tmp_path / 'device-tree' / 'system').mkdir(parents=True)
    (tmp_path / 'device-tree' / 'system' / 'linux,revision').write_bytes(b'\x00\xc0\x31\x11')
    (tmp_path / 'cpuinfo').write_text('processor\t: 0\nRevision\t: d04170\n')
    host = Host.read(str(defaults), str(tmp_path))
    assert host.is_controller and host.power_delay == 2.5 and host.hat is None and host.fan_gpio is None  # FANGPIO needs a HAT
    assert (host.pirevision, host.is_pi5) == ('0x00c03111', True)
    for text, delay in (('CLUSTERCTRL_DELAY=soon', 1.0), ('CLUSTERCTRL_DELAY=-3', 1.0), ('CLUSTERCTRL_DELAY=0', 0.0)):
        defaults.write_text(f'TYPE=cnat\n{text}\n')
        assert Host.read(str(defaults), str(tmp_path)).power_delay == delay
    defaults.write_text('TYPE=p3\n')
    assert not Host.read(str(defaults), str(tmp_path)).is_controller
    assert Host.virtual_lab().is_controller and Host.virtual_lab().throttled == 'NA'
