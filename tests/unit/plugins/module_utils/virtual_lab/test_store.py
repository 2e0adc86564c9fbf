# -*- coding: utf-8 -*-
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""VirtualLab sessions: persistence between module runs, journal, file modes, errors and parallel runs.

Each session is driven the way a module drives it: a ClusterCTRLv2Driver over the session's
emulated SMBus (``randomize_factory_order=False``), then the board's pins are looked at
through its emulated firmware. A new ``VirtualLab`` object is opened for every "run", as a
new module process would.

The main lab is a factory Triple (order 1) and a factory Stack (order 2). A factory Stack
powers all five Pis at boot (EEPROM 0x30 = 0x1F, spec §5.1), so tests that count Pis first
switch everything off.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import BusError, ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import LabError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab, journal_path

LAB = 'controllers:\n  - {type: triple, order: 1}\n  - {type: stack, order: 2}\n'
EEPROM_ORDER = 0x01
EEPROM_POS = 0x30


def write_lab(tmp_path, text=LAB, name='lab.yml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def driver(controller):
    return ClusterCTRLv2Driver(controller.smbus, label='lab board %d' % controller.config.index, randomize_factory_order=False)


def power_map(session):
    """{(controller index, slot): powered} of every Pi in the lab."""
    return dict(((c.config.index, p), c.firmware.pi_power(p))
                for c in session.controllers for p in range(1, c.firmware.spec.maxpi + 1))


def all_off(lab_path):
    with VirtualLab(lab_path).session() as session:
        for c in session.controllers:
            driver(c).power_all_off()
        assert not any(power_map(session).values())


def journal_lines(state_file):
    with open(journal_path(state_file)) as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture
def lab_path(tmp_path):
    return write_lab(tmp_path)


# ---------------------------------------------------------------------------- persistence

def test_a_fresh_lab_boots_its_boards_from_the_factory_eeprom(lab_path):
    with VirtualLab(lab_path).session() as session:
        triple, stack = session.controllers
        assert [c.config.board_type.value for c in session.controllers] == ['triple', 'stack']
        assert (driver(triple).order, driver(stack).order) == (1, 2)
        assert [triple.firmware.pi_power(p) for p in range(1, 4)] == [False] * 3
        assert [stack.firmware.pi_power(p) for p in range(1, 6)] == [True] * 5  # factory Stack: auto power-on
        assert (triple.smbus.bus_number, stack.smbus.bus_number) == (10, 11)
        assert (triple.usb_path, stack.usb_path) == ('1-1.1', '1-2')


def test_power_state_persists_across_sessions(lab_path):
    all_off(lab_path)
    with VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_on(2)
        driver(session.controllers[1]).power_on(5)
    with VirtualLab(lab_path).session() as session:
        assert driver(session.controllers[0]).power_status(2) is True
        assert driver(session.controllers[1]).power_status(5) is True
        on = sorted(k for k, v in power_map(session).items() if v)
        assert on == [(0, 2), (1, 5)]


def test_eeprom_persists_and_a_reset_boots_from_it(lab_path):
    """SAVEPOS and SAVEORDER in one run; a RESET in the next; the third run sees the saved state applied at boot."""
    all_off(lab_path)
    with VirtualLab(lab_path).session() as session:
        d = driver(session.controllers[0])
        d.power_on(3)
        d.eeprom_save_powerstate()
        d.set_order(9)
        d.eeprom_save_order()
        d.power_off(3)  # RAM says off; EEPROM says on
    with VirtualLab(lab_path).session() as session:
        fw = session.controllers[0].firmware
        assert fw.eeprom[EEPROM_ORDER] == 9
        assert fw.eeprom[EEPROM_POS] == 0b100
        assert fw.pi_power(3) is False
        driver(session.controllers[0]).reset()
    with VirtualLab(lab_path).session() as session:
        d = driver(session.controllers[0])
        assert d.order == 9
        assert d.power_status(3) is True
        assert [session.controllers[0].firmware.pi_power(p) for p in (1, 2)] == [False, False]


def test_a_reset_board_is_back_in_the_next_session(lab_path):
    """RESET drops the board off USB for the rest of the run; the next run finds it re-enumerated, rebooted from EEPROM."""
    all_off(lab_path)
    with VirtualLab(lab_path).session() as session:
        triple, stack = session.controllers
        boots = (triple.firmware.boot_count, stack.firmware.boot_count)
        driver(triple).power_on(1)
        driver(stack).reset()
        assert stack.firmware.present is False
        with pytest.raises(BusError) as info:
            driver(stack)  # the board is gone from USB for the rest of this run
        assert info.value.errno == errno.ENODEV
    with VirtualLab(lab_path).session() as session:
        triple, stack = session.controllers
        assert stack.firmware.present is True
        assert stack.firmware.boot_count == boots[1] + 1
        d = driver(stack)  # discovery works again
        assert [d.power_status(p) for p in range(1, 6)] == [True] * 5  # factory EEPROM: every Pi on at boot
        assert triple.firmware.boot_count == boots[0]
        assert driver(triple).power_status(1) is True


def test_a_changed_lab_entry_rebuilds_only_that_board(tmp_path):
    path = write_lab(tmp_path)
    all_off(path)
    with VirtualLab(path).session() as session:
        driver(session.controllers[0]).power_on(1)
        driver(session.controllers[1]).power_on(4)
    write_lab(tmp_path, 'controllers:\n  - {type: triple, order: 1}\n  - {type: stack, order: 3}\n')
    with VirtualLab(path).session() as session:
        triple, stack = session.controllers
        assert driver(triple).power_status(1) is True  # unchanged entry: state kept
        assert [triple.firmware.pi_power(p) for p in (2, 3)] == [False, False]
        d = driver(stack)
        assert d.order == 3  # changed entry: a fresh factory Stack with the new order
        assert [stack.firmware.pi_power(p) for p in range(1, 6)] == [True] * 5
        assert stack.firmware.boot_count == 1


def test_a_firmware_change_rebuilds_the_board(tmp_path):
    path = write_lab(tmp_path, 'controllers: [{type: triple, order: 1, firmware: "1.5"}]\n')
    with VirtualLab(path).session() as session:
        driver(session.controllers[0]).power_on(2)
        assert driver(session.controllers[0]).fw_version == (1, 5)
    write_lab(tmp_path, 'controllers: [{type: triple, order: 1, firmware: "1.6"}]\n')
    with VirtualLab(path).session() as session:
        d = driver(session.controllers[0])
        assert d.fw_version == (1, 6)
        assert d.power_status(2) is False


def test_adding_a_board_keeps_the_others(tmp_path):
    path = write_lab(tmp_path)
    all_off(path)
    with VirtualLab(path).session() as session:
        driver(session.controllers[0]).power_on(3)
    write_lab(tmp_path, LAB + '  - {type: phat, order: 4}\n')
    with VirtualLab(path).session() as session:
        triple, stack, phat = session.controllers
        assert driver(triple).power_status(3) is True
        assert not any(stack.firmware.pi_power(p) for p in range(1, 6))  # kept: all off, not the factory all-on
        assert driver(phat).order == 4


def test_changing_only_the_faults_keeps_the_state(tmp_path):
    path = write_lab(tmp_path, 'controllers: [{type: triple, order: 1}]\n')
    with VirtualLab(path).session() as session:
        driver(session.controllers[0]).power_on(1)
    write_lab(tmp_path, 'controllers: [{type: triple, order: 1, faults: {seed: 3}}]\n')
    with VirtualLab(path).session() as session:
        assert driver(session.controllers[0]).power_status(1) is True


def test_state_is_saved_when_the_block_raises(lab_path):
    all_off(lab_path)
    with pytest.raises(RuntimeError, match='module failed'):
        with VirtualLab(lab_path).session() as session:
            driver(session.controllers[0]).power_on(2)
            failed_run = session.run_id
            raise RuntimeError('module failed half-way')
    with VirtualLab(lab_path).session() as session:
        assert driver(session.controllers[0]).power_status(2) is True
    runs = [line['run'] for line in journal_lines(session_state_file(lab_path))]
    assert failed_run in runs


def session_state_file(lab_path):
    return VirtualLab(lab_path).state_file


def test_state_file_is_valid_json_with_every_board(lab_path):
    with VirtualLab(lab_path).session():
        pass
    with open(session_state_file(lab_path)) as handle:
        state = json.load(handle)
    assert state['format'] == 1
    assert [c['firmware']['board'] for c in state['controllers']] == ['triple', 'stack']
    assert not [n for n in os.listdir(os.path.dirname(lab_path)) if '.tmp.' in n]  # no leftover temporary file


# ---------------------------------------------------------------------------- journal

def test_journal_lines_carry_run_id_and_check_mode_and_are_appended(lab_path):
    state_file = session_state_file(lab_path)
    with VirtualLab(lab_path).session(check_mode=False) as first:
        driver(first.controllers[0]).power_on(1)
        first_count = len(first.journal)
    lines = journal_lines(state_file)
    assert len(lines) == first_count > 0
    assert {(line['run'], line['check_mode']) for line in lines} == {(first.run_id, False)}
    assert any(line['mutating'] for line in lines)  # the ON command is recorded as mutating
    with VirtualLab(lab_path).session(check_mode=True) as second:
        driver(second.controllers[0]).power_status(1)
        driver(second.controllers[1]).power_status(1)
        second_count = len(second.journal)
    assert second.run_id != first.run_id
    lines = journal_lines(state_file)
    assert len(lines) == first_count + second_count
    assert [line['run'] for line in lines] == [first.run_id] * first_count + [second.run_id] * second_count
    assert all(line['check_mode'] is True for line in lines[first_count:])
    assert not any(line['mutating'] for line in lines[first_count:])
    assert {line['bus'] for line in lines[first_count:]} == {10, 11}


def test_a_session_without_bus_traffic_writes_no_journal_lines(lab_path):
    with VirtualLab(lab_path).session():
        pass
    state_file = session_state_file(lab_path)
    assert not os.path.exists(journal_path(state_file)) or journal_lines(state_file) == []


def test_consecutive_sessions_in_one_process_get_distinct_run_ids(tmp_path):
    """A run id tells the runs of a journal apart; two runs must never share one, even when they are quick."""
    lab = VirtualLab(write_lab(tmp_path, 'controllers: [{type: single, order: 1}]\n'))
    ids = []
    for _unused in range(50):
        with lab.session() as session:
            ids.append(session.run_id)
    assert len(set(ids)) == len(ids)


# ---------------------------------------------------------------------------- file modes

def test_state_journal_and_lock_files_are_owner_only(lab_path):
    old = os.umask(0)
    try:
        with VirtualLab(lab_path).session() as session:
            driver(session.controllers[0]).power_on(1)
        with VirtualLab(lab_path).session() as session:  # a second save replaces the state file
            driver(session.controllers[0]).power_off(1)
    finally:
        os.umask(old)
    state_file = session_state_file(lab_path)
    for path in (state_file, journal_path(state_file), state_file + '.lock'):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path


# ---------------------------------------------------------------------------- errors

def test_corrupt_state_file_is_a_clear_lab_error_and_is_left_alone(lab_path):
    state_file = session_state_file(lab_path)
    with open(state_file, 'w') as handle:
        handle.write('{"format": 1, "controllers": [')
    with pytest.raises(LabError) as info:
        with VirtualLab(lab_path).session():
            pytest.fail('the session must not open')
    assert str(info.value) == ('virtual lab %s: the state file %s is corrupt; delete it to start the lab afresh' % (lab_path, state_file))
    with open(state_file) as handle:
        assert handle.read() == '{"format": 1, "controllers": ['
    lock = os.open(state_file + '.lock', os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the failed session released the lock
    finally:
        os.close(lock)
    os.unlink(state_file)
    with VirtualLab(lab_path).session() as session:
        assert driver(session.controllers[0]).order == 1


@pytest.mark.parametrize('content', [
    '{"format": 1, "controllers": [5]}',
    '{"format": 1, "controllers": "garbage"}',
])
def test_structurally_corrupt_state_file_is_a_lab_error(lab_path, content):
    """Valid JSON that is not a state (hand edit, another tool's file) must also end in a LabError, not a traceback."""
    with open(session_state_file(lab_path), 'w') as handle:
        handle.write(content)
    with pytest.raises(LabError, match='state file'):
        with VirtualLab(lab_path).session():
            pass


def test_state_file_that_cannot_be_read_is_a_lab_error(lab_path):
    os.mkdir(session_state_file(lab_path))
    with pytest.raises(LabError, match='cannot read its state file'):
        with VirtualLab(lab_path).session():
            pass


def test_missing_state_directory_is_a_clear_lab_error(tmp_path):
    path = write_lab(tmp_path, LAB + 'state_file: no-such-dir/lab.state.json\n')
    with pytest.raises(LabError) as info:
        with VirtualLab(path).session():
            pytest.fail('the session must not open')
    assert str(info.value) == ('virtual lab %s: the directory of its state file does not exist: %s' % (path, tmp_path / 'no-such-dir'))
    assert not (tmp_path / 'no-such-dir').exists()


def test_a_hat_keeps_its_state_between_sessions(tmp_path):
    """The ClusterHAT's expander persists like the controllers: a Pi switched on stays on."""
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import ClusterHATDriver
    path = write_lab(tmp_path, 'hat: {version: "3.1"}\n')
    with VirtualLab(path).session() as session:
        assert session.hat.chip.outputs()['initialized'] is False
        ClusterHATDriver(session.hat.smbus, '3.1').power_on(2)
    with VirtualLab(path).session() as session:
        driver = ClusterHATDriver(session.hat.smbus, '3.1')
        assert [driver.power_status(p) for p in (1, 2, 3, 4)] == [False, True, False, False]
        assert session.hat.chip.outputs()['initialized'] is True
    buses = [e['bus'] for e in journal_lines(path + '.state.json')]
    assert buses and set(buses) == {1}


def test_a_broken_lab_file_fails_before_any_state_is_written(tmp_path):
    path = write_lab(tmp_path, 'controllers: [{type: triple, order: 300}]\n')
    with pytest.raises(LabError, match='order must be an integer from 1 to 255, got 300'):
        VirtualLab(path)
    assert os.listdir(str(tmp_path)) == ['lab.yml']


# ---------------------------------------------------------------------------- faults

def test_faults_from_the_lab_reach_the_adapter(tmp_path):
    """stop_after_calls: 3 lets discovery (1 call) and one command (write + read) through; every later call times out."""
    path = write_lab(tmp_path, LAB.replace('{type: stack, order: 2}', '{type: stack, order: 2, faults: {stop_after_calls: 3}}'))
    with VirtualLab(path).session() as session:
        triple, stack = session.controllers
        d = driver(stack)
        d.power_off(1)
        with pytest.raises(BusError) as info:
            d.power_off(2)
        assert info.value.errno == errno.ETIMEDOUT
        assert stack.firmware.pi_power(1) is False
        assert stack.firmware.pi_power(2) is True  # never reached the board
        t = driver(triple)  # the Triple has no faults: its own adapter is unaffected
        for _unused in range(3):
            t.power_on(1)
        errors = [e['error'] for e in session.journal if e['bus'] == 11]
    assert errors[:3] == [None, None, None]
    assert errors[3:] and set(errors[3:]) == {'ETIMEDOUT'}


@pytest.mark.parametrize('faults, words', [
    ('{stop_after_calls: -1}', 'stop_after_calls must be None or an integer >= 0, got -1'),
    ('{stop_after: 3}', 'unknown fault plan field(s): stop_after'),
    ('{transient_error_rate: 2}', 'transient_error_rate must be a number between 0 and 1, got 2'),
])
def test_invalid_faults_are_a_lab_error_naming_the_controller(tmp_path, faults, words):
    path = write_lab(tmp_path, LAB.replace('{type: stack, order: 2}', '{type: stack, order: 2, faults: %s}' % faults))
    with pytest.raises(LabError) as info:
        with VirtualLab(path).session():
            pytest.fail('the session must not open')
    text = str(info.value)
    assert 'controllers[1]' in text
    assert 'faults' in text
    assert words in text
    assert not os.path.exists(path + '.state.json')


# ---------------------------------------------------------------------------- parallel runs

CHILD = textwrap.dedent('''
    import os, sys, time
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver
    from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab
    lab, go, index, slot = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    deadline = time.time() + 60
    while not os.path.exists(go):
        if time.time() > deadline:
            sys.exit('no go signal')
        time.sleep(0.002)
    with VirtualLab(lab).session() as session:
        controller = session.controllers[index]
        driver = ClusterCTRLv2Driver(controller.smbus, randomize_factory_order=False)
        driver.get_order()
        time.sleep(0.05)  # hold the boards a while, as a real module run would
        driver.power_on(slot)
        sys.stdout.write(session.run_id)
''')

ROUNDS = [
    [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2)],
    [(1, 1), (1, 2), (1, 3), (1, 4), (1, 5)],
    [(0, 1), (0, 3), (1, 2), (1, 4), (1, 5)],
]


@pytest.mark.parametrize('targets', ROUNDS, ids=['round%d' % i for i in range(1, len(ROUNDS) + 1)])
def test_parallel_runs_lose_no_update(tmp_path, targets):
    """Five processes open the same lab at once, each switching on a different Pi: all five changes survive."""
    path = write_lab(tmp_path)
    all_off(path)
    go = str(tmp_path / 'go')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    children = [subprocess.Popen([sys.executable, '-c', CHILD, path, go, str(index), str(slot)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
                for index, slot in targets]
    time.sleep(0.3)  # let every child import and wait for the signal
    open(go, 'w').close()
    run_ids = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err.decode('utf-8', 'replace')
        run_ids.append(out.decode())
    assert len(set(run_ids)) == 5
    with VirtualLab(path).session(check_mode=True) as session:
        on = sorted(k for k, v in power_map(session).items() if v)
    assert on == sorted(targets)
    # the journal holds each run's lines together: a run held the lock while it appended
    runs = [line['run'] for line in journal_lines(session_state_file(path)) if line['run'] in run_ids]
    blocks = [r for i, r in enumerate(runs) if i == 0 or runs[i - 1] != r]
    assert sorted(blocks) == sorted(run_ids)


def test_errors_are_cluster_errors(lab_path):
    """Modules catch ClusterCTRLError; LabError must be one."""
    assert issubclass(LabError, ClusterCTRLError)
