# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bad input matrix of the clusterctrl modules and of virtual lab files.

Each case runs a module's main() in-process and must fail with a clear message (matched by a
pattern, never a traceback), send no mutating command (the lab's journal) and leave the lab's
state file and the EEPROM record byte for byte as they were. The roles' cases are in the
integration target reliability_bad_input.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import Reg
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.firmware import ClusterCTRLFirmware
from ansible_collections.picluster.clusterctrl.plugins.module_utils.emulator.xra1200 import XRA1200
from ansible_collections.picluster.clusterctrl.plugins.modules import (
    clusterctrl_board,
    clusterctrl_eeprom,
    clusterctrl_fan,
    clusterctrl_info,
    clusterctrl_power,
    clusterctrl_usbboot,
)
from ansible_collections.picluster.clusterctrl.tests.unit.plugins.modules.module_runner import journal, run_module, write_lab

LAB = 'hat: {version: "2.5"}\ncontrollers:\n  - {type: triple, order: 1}\n  - {type: stack, order: 2}\n  - {type: aplus6, order: 3}\n'
POWER, USBBOOT, FAN, BOARD, EEPROM, INFO = (clusterctrl_power, clusterctrl_usbboot, clusterctrl_fan, clusterctrl_board, clusterctrl_eeprom, clusterctrl_info)
BIG = 10**30

# (module, arguments, pattern the message must match)
MODULE_CASES = [
    # clusterctrl_power: names, types, ranges, conflicts
    (POWER, dict(), r'missing required arguments: pis'),
    (POWER, dict(pis=[]), r'no Pis named'),
    (POWER, dict(pis=['p0']), r'Pi p0 does not exist: this cluster has p1 to p17'),
    (POWER, dict(pis=['p1', 'p18']), r'Pi p18 does not exist'),
    (POWER, dict(pis=['p%d' % BIG]), r'does not exist: this cluster has p1 to p17'),
    (POWER, dict(pis=['node1']), r"unknown Pi name 'node1'"),
    (POWER, dict(pis=[True]), r"unknown Pi name 'True'"),
    (POWER, dict(pis=['p1'], state='maybe'), r'value of state must be one of: on, off, cycled'),
    (POWER, dict(pis=['p1'], state=1.5), r'value of state must be one of: on, off, cycled'),
    (POWER, dict(pis=['p5', 'p6'], power_on_delay=-1), r'power_on_delay must be 0 or more seconds, at most 3600'),
    (POWER, dict(pis=['p5'], state='cycled', off_time=-0.5), r'off_time must be 0 or more seconds, at most 3600'),
    (POWER, dict(pis=['p5', 'p6'], power_on_delay='soon'), r'unable to convert to float'),
    (POWER, dict(pis=['p5', 'p6'], power_on_delay='nan'), r'power_on_delay must be 0 or more seconds, at most 3600'),
    (POWER, dict(pis=['p5', 'p6'], power_on_delay='inf'), r'power_on_delay must be 0 or more seconds, at most 3600'),
    (POWER, dict(pis=['p5', 'p6'], power_on_delay=1e12), r'power_on_delay must be 0 or more seconds, at most 3600'),
    (POWER, dict(pis=['p5'], state='cycled', off_time=float(BIG)), r'off_time must be 0 or more seconds, at most 3600'),
    (POWER, dict(pis=['5'], controller='hat'), r"Pi '5' does not exist on the ClusterHAT"),
    (POWER, dict(pis=['p5'], controller='1'), r"Pi 'p5' does not exist on the controller with order 1"),
    (POWER, dict(pis=['1'], controller='9'), r'no ClusterCTRL board has order 9; orders present: 1, 2, 3'),
    (POWER, dict(pis=['1'], controller='-1'), r'controller must be a board order \(1 to 255\) or \"hat\"'),
    (POWER, dict(pis=['1'], controller=str(BIG)), r'no ClusterCTRL board has order'),
    (POWER, dict(pis=['p1'], buses=['1']), r'mutually exclusive: virtual_lab\|buses'),
    (POWER, dict(pis=['p1'], colour='red'), r'Unsupported parameters'),
    # clusterctrl_usbboot
    (USBBOOT, dict(pis=['p1']), r'USB boot control exists only on the ClusterCTRL Single and Triple; p1 is on the ClusterHAT'),
    (USBBOOT, dict(pis=['p5', 'p9']), r'p9 is on the controller with order 2'),
    (USBBOOT, dict(pis=['all'], controller='2'), r'no board named has USB boot control'),
    (USBBOOT, dict(pis=[]), r'no Pis named'),
    (USBBOOT, dict(pis=['p5'], state='yes please'), r'value of state must be one of: on, off'),
    (USBBOOT, dict(pis=['4'], controller='1'), r"Pi '4' does not exist on the controller with order 1"),
    # clusterctrl_fan
    (FAN, dict(), r'missing required arguments: state'),
    (FAN, dict(state='auto'), r'value of state must be one of: on, off'),
    (FAN, dict(state='on', controller='hat'), r'the ClusterHAT v2.5 has no fan'),
    (FAN, dict(state='on', controller='4'), r'no ClusterCTRL board has order 4'),
    (FAN, dict(state=['on']), r'value of state must be one of: on, off'),
    # clusterctrl_board
    (BOARD, dict(alert='on'), r'missing required arguments: controller'),
    (BOARD, dict(controller='1', order=0), r'order must be from 1 to 255, got 0'),
    (BOARD, dict(controller='1', order=256), r'order must be from 1 to 255, got 256'),
    (BOARD, dict(controller='1', order=BIG), r'order must be from 1 to 255'),
    (BOARD, dict(controller='1', order='first'), r'unable to convert to int'),
    (BOARD, dict(controller='1', order=2), r'order 2 is already used by the controller with order 2'),
    (BOARD, dict(controller='1', order=4, alert='on', hub='cycled', reset=True), r'use two tasks'),
    (BOARD, dict(controller='hat', order=3), r'the ClusterHAT v2.5 has no order'),
    (BOARD, dict(controller='1', act_led='on'), r'has no ACT LED'),
    (BOARD, dict(controller='3', alert='on', act_led='blink'), r'value of act_led must be one of: on, off'),
    (BOARD, dict(controller='1', alert='on', wp='on'), r'EEPROM write-protect switch'),
    (BOARD, dict(controller='2', hub='cycled'), r'USB hub to cycle'),
    (BOARD, dict(controller='1', hub='on'), r'hub on/off command'),
    (BOARD, dict(controller='hat', reset=True), r'microcontroller to reset'),
    (BOARD, dict(controller='1', reset='maybe'), r'unable to convert to bool'),
    (BOARD, dict(controller='2', power_led='on', alert='on'), r'has no ALERT LED'),
    (BOARD, dict(controller='hat', power_led='on'), r'PWR LED under software control'),
    # clusterctrl_eeprom
    (EEPROM, dict(), r'nothing to do'),
    (EEPROM, dict(save=[]), r'nothing to do'),
    (EEPROM, dict(save=['power'], factory_reset=True), r'mutually exclusive: save\|factory_reset'),
    (EEPROM, dict(save=['powr']), r'value of save must be one or more of: power, order, leds, usbboot, all'),
    (EEPROM, dict(save=['usbboot']), r'has no USB boot control to save'),
    (EEPROM, dict(save=['usbboot'], controller='2'), r'the controller with order 2 \(ClusterCTRL Stack\): the ClusterCTRL Stack has no USB boot'),
    (EEPROM, dict(save=['power'], controller='hat'), r'the ClusterHAT has no settings EEPROM'),
    (EEPROM, dict(save=['power'], controller='7'), r'no ClusterCTRL board has order 7'),
    (EEPROM, dict(factory_reset='sometimes'), r'unable to convert to bool'),
    # clusterctrl_info (read-only, but it validates too)
    (INFO, dict(buses=['1']), r'mutually exclusive: virtual_lab\|buses'),
    (INFO, dict(usb_paths='perhaps'), r'unable to convert to bool'),
]

# (lab file text or bytes, pattern): run clusterctrl_power on it; the lab must not come alive.
LAB_CASES = [
    ('controllers: [\n', r'invalid YAML'),
    ('- {type: triple}\n', r'must be a mapping with a "controllers" list'),
    ('controlers:\n  - {type: triple}\n', r'unknown top-level key\(s\) controlers'),
    ('{}\n', r'the lab holds no boards'),
    ('controllers: {type: triple}\n', r'controllers must be a list'),
    ('controllers:\n  - triple\n', r'controllers\[0\]: each controller is a mapping'),
    ('controllers:\n  - {type: quad}\n', r'controllers\[0\]: .*quad'),
    ('controllers:\n  - {order: 1}\n', r'controllers\[0\]: type is required'),
    ('controllers:\n  - {type: triple, order: 0}\n', r'order must be an integer from 1 to 255, got 0'),
    ('controllers:\n  - {type: triple, order: "1"}\n', r"order must be an integer from 1 to 255, got '1'"),
    ('controllers:\n  - {type: triple, order: true}\n', r'order must be an integer from 1 to 255, got True'),
    ('controllers:\n  - {type: triple, order: %d}\n' % BIG, r'order must be an integer from 1 to 255'),
    ('controllers:\n  - {type: triple, firmware: "2.0"}\n', r'firmware 2.0 is not emulated'),
    ('controllers:\n  - {type: triple, bus: 10, order: 1}\n  - {type: stack, bus: 10, order: 2}\n', r'controllers\[1\]: bus 10 is already used'),
    ('controllers:\n  - {type: triple, order: 1}\n  - {type: stack, order: 1}\n', r'must have distinct orders.*order 1 is used by'),
    ('controllers:\n  - {type: triple, colour: red}\n', r'unknown key\(s\) colour'),
    ('controllers:\n  - {type: triple, eeprom: used}\n', r'eeprom must be "factory" or "blank"'),
    ('controllers:\n  - {type: triple, adc: {5: 100}}\n', r'has no ADC channel 5'),
    ('controllers:\n  - {type: triple, adc: {1: -3}}\n', r'adc reading must be an integer from 0 to 1023'),
    ('controllers:\n  - {type: single, temperature_raw: 300}\n', r'has no temperature sensor'),
    ('controllers:\n  - {type: triple, hats: [0]}\n', r'hats applies only to a DA'),
    ('controllers:\n  - {type: da, hats: [8]}\n', r'hats must be a list of DA mux ports 0 to 7'),
    ('controllers:\n  - {type: triple, faults: {transient_error_rate: 2}}\n', r'transient_error_rate must be a number between 0 and 1'),
    ('controllers:\n  - {type: triple, faults: {stop_after: 3}}\n', r'unknown fault plan field\(s\): stop_after'),
    ('controllers:\n  - {type: triple, faults: {stop_after_calls: -1}}\n', r'stop_after_calls must be None or an integer >= 0'),
    ('controllers:\n  - {type: triple, faults: {seed: "x"}}\n', r'seed must be None or an integer'),
    ('controllers:\n  - {type: triple, faults: on}\n', r'faults must be a mapping'),
    ('hat: {version: "1.0"}\n', r'ClusterHAT v1.x .* is not supported'),
    ('hat: {version: "2.5", size: 5}\n', r'size must be an integer from 1 to 4, got 5'),
    ('hat: {version: "2.5", part: xra9999}\n', r'part must be one of xra1200p, xra1200'),
    ('hat: {version: "2.5", pos_link_cut: "yes"}\n', r'pos_link_cut must be true or false'),
    ('hat: {version: "2.5"}\nstate_file: missing-dir/state.json\n', r'the directory of its state file does not exist'),
    (b'controllers:\n  - {type: triple, usb_path: "\xff\xfe"}\n', r'the lab file is not UTF-8 text'),
    ('# padding\n' * 120000 + 'controllers:\n  - {type: triple}\n', r'a lab file is at most 1048576'),
]


# Two boards with one order: a valid lab (a misconfigured cluster): it may run, but the module refuses it.
ALIVE_CASE = [i for i, case in enumerate(LAB_CASES) if 'distinct orders' in case[1]][0]


def fingerprint(path):
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def boards(lab):
    """What the emulated boards hold and show (pins, LEDs, RAM settings, EEPROM), without what any read moves
    (the register pointer, the last command's registers, the activity log)."""
    try:
        with open(lab + '.state.json') as handle:
            saved = json.load(handle)
    except (OSError, ValueError):
        return fingerprint(lab + '.state.json')
    seen = []
    for entry in saved.get('controllers', []):
        fw = ClusterCTRLFirmware.from_dict(entry['firmware'])
        seen.append([fw.outputs(), list(fw.eeprom), fw.regs[Reg.ORDER], list(fw.enp), list(fw.enpled), list(fw.usbboot), fw.fanstatus, fw.boot_count])
    if 'hat' in saved:
        chip = saved['hat']['chip']
        seen.append(XRA1200.from_dict(chip).outputs())
    return json.dumps(seen, sort_keys=True, default=str)


def files_of(lab):
    return [boards(lab), fingerprint(lab + '.state.json.eeprom-record.json')]


def check_case(lab, module, args, pattern, where):
    """Run one bad case; return a list of problems (empty when the case is handled right)."""
    before = files_of(lab)
    mark = len(journal(lab))
    result, code = run_module(module.main, **args)
    problems = []
    msg = result.get('msg', '')
    if code != 1 or not result.get('failed'):
        problems.append(f'did not fail (exit {code})')
    if not re.search(pattern, msg):
        problems.append(f'message {msg!r} does not match {pattern!r}')
    if 'Traceback' in msg or 'exception' in result and 'MODULE FAILURE' in msg:
        problems.append('a traceback, not a clear message')
    if result.get('changed'):
        problems.append('reports changed')
    mutating = [e for e in journal(lab)[mark:] if e['mutating']]
    if mutating:
        problems.append('sent mutating commands: %s' % [c['name'] for e in mutating for c in e['commands']])
    if files_of(lab) != before:
        problems.append('changed the lab state or the EEPROM record')
    return [f'{where}: {p}' for p in problems]


def test_bad_input_matrix(tmp_path):
    lab = write_lab(tmp_path, LAB)
    # A lab that has run and holds a record, so that "unchanged" means something.
    run_module(clusterctrl_power.main, virtual_lab=lab, pis=['p1', 'p5', 'p9'], power_on_delay=0)
    run_module(clusterctrl_eeprom.main, virtual_lab=lab, save=['order'])
    problems = []
    tried = 0
    for index, (module, args, pattern) in enumerate(MODULE_CASES):
        args = dict(args, virtual_lab=lab)
        problems += check_case(lab, module, args, pattern, 'case %d %s %r' % (index, module.__name__.split('.')[-1], args))
        tried += 1
    for index, (text, pattern) in enumerate(LAB_CASES):
        directory = tmp_path / ('lab%d' % index)
        directory.mkdir()
        bad = str(directory / 'lab.yml')
        with open(bad, 'wb') as handle:
            handle.write(text if isinstance(text, bytes) else text.encode())
        found = check_case(bad, POWER, dict(virtual_lab=bad, pis=['p1'], power_on_delay=0), pattern, 'lab case %d' % index)
        if index == ALIVE_CASE:  # its boards come to life (read, never written); the lab must not be refused
            found = [p for p in found if 'changed the lab state' not in p]
        problems += found
        if index != ALIVE_CASE and (os.path.exists(bad + '.state.json') or os.path.exists(bad + '.state.json.journal.jsonl')):
            problems.append('lab case %d: a malformed lab file brought the lab to life' % index)
        tried += 1
    # A corrupt state file is refused, not overwritten.
    with open(lab + '.state.json', 'w') as handle:
        handle.write('{"format": 1, "controllers": [')
    problems += check_case(lab, POWER, dict(virtual_lab=lab, pis=['p1']), r'the state file .* is corrupt; delete it', 'corrupt state')
    tried += 1
    print(
        '\nreliability: %d bad inputs tried (%d module argument cases, %d malformed lab files, 1 corrupt state file), '
        '%d mishandled' % (tried, len(MODULE_CASES), len(LAB_CASES), len(problems))
    )
    assert not problems, '\n'.join(problems)
    assert tried >= 40
