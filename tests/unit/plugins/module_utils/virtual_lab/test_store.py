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
import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import BusError, ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.journal_file import journal_path
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import LabError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab

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
    return dict(((c.config.index, p), c.firmware.pi_power(p)) for c in session.controllers for p in range(1, c.firmware.spec.maxpi + 1))


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
    with pytest.raises(RuntimeError, match='module failed'), VirtualLab(lab_path).session() as session:
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
    assert state['format'] == 2
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
    with pytest.raises(LabError) as info, VirtualLab(lab_path).session():
        pytest.fail('the session must not open')
    assert str(info.value) == (f'virtual lab {lab_path}: the state file {state_file} is corrupt; delete it to start the lab afresh')
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


@pytest.mark.parametrize(
    'content',
    [
        '{"format": 1, "controllers": [5]}',
        '{"format": 1, "controllers": "garbage"}',
    ],
)
def test_structurally_corrupt_state_file_is_a_lab_error(lab_path, content):
    """Valid JSON that is not a state (hand edit, another tool's file) must also end in a LabError, not a traceback."""
    with open(session_state_file(lab_path), 'w') as handle:
        handle.write(content)
    with pytest.raises(LabError, match='state file'), VirtualLab(lab_path).session():
        pass


def test_state_file_that_cannot_be_read_is_a_lab_error(lab_path):
    os.mkdir(session_state_file(lab_path))
    with pytest.raises(LabError, match='cannot read its state file'), VirtualLab(lab_path).session():
        pass


def test_missing_state_directory_is_a_clear_lab_error(tmp_path):
    path = write_lab(tmp_path, LAB + 'state_file: no-such-dir/lab.state.json\n')
    with pytest.raises(LabError) as info, VirtualLab(path).session():
        pytest.fail('the session must not open')
    assert str(info.value) == ('virtual lab {}: the directory of its state file does not exist: {}'.format(path, tmp_path / 'no-such-dir'))
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


@pytest.mark.parametrize(
    'faults, words',
    [
        ('{stop_after_calls: -1}', 'stop_after_calls must be None or an integer >= 0, got -1'),
        ('{stop_after: 3}', 'unknown fault plan field(s): stop_after'),
        ('{transient_error_rate: 2}', 'transient_error_rate must be a number between 0 and 1, got 2'),
    ],
)
def test_invalid_faults_are_a_lab_error_naming_the_controller(tmp_path, faults, words):
    path = write_lab(tmp_path, LAB.replace('{type: stack, order: 2}', f'{{type: stack, order: 2, faults: {faults}}}'))
    with pytest.raises(LabError) as info, VirtualLab(path).session():
        pytest.fail('the session must not open')
    text = str(info.value)
    assert 'controllers[1]' in text
    assert 'faults' in text
    assert words in text
    assert not os.path.exists(path + '.state.json')


# ---------------------------------------------------------------------------- parallel runs

CHILD = textwrap.dedent("""
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
""")

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
    children = [
        subprocess.Popen([sys.executable, '-c', CHILD, path, go, str(index), str(slot)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        for index, slot in targets
    ]
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


# ---------------------------------------------------------------------------- issue 10: boards keyed by identity


def test_inserting_a_board_at_the_front_keeps_every_other_board(tmp_path):
    """The state follows each board's identity (type and order here), not its place in the list."""
    path = write_lab(tmp_path)
    all_off(path)
    with VirtualLab(path).session() as session:
        driver(session.controllers[0]).power_on(3)
        driver(session.controllers[1]).power_on(4)
        instances = [c.instance for c in session.controllers]
    write_lab(tmp_path, 'controllers:\n  - {type: phat, order: 4}\n' + LAB.split('\n', 1)[1])
    with VirtualLab(path).session() as session:
        phat, triple, stack = session.controllers
        assert [triple.firmware.pi_power(p) for p in (1, 2, 3)] == [False, False, True]
        assert [stack.firmware.pi_power(p) for p in range(1, 6)] == [False, False, False, True, False]
        assert [triple.instance, stack.instance] == instances
        assert phat.instance not in instances
        assert (triple.smbus.bus_number, stack.smbus.bus_number) == (11, 12)  # plugged in one place further along


def test_reordering_the_boards_keeps_their_state_and_usb_paths_follow_the_entry(tmp_path):
    path = write_lab(tmp_path, 'controllers:\n  - {type: triple, order: 1, usb_path: "1-1.2"}\n  - {type: stack, order: 2, usb_path: "1-1.3"}\n')
    all_off(path)
    with VirtualLab(path).session() as session:
        driver(session.controllers[1]).power_on(5)
    write_lab(tmp_path, 'controllers:\n  - {type: stack, order: 2, usb_path: "1-1.3"}\n  - {type: triple, order: 1, usb_path: "1-1.2"}\n')
    with VirtualLab(path).session() as session:
        stack, triple = session.controllers
        assert stack.usb_path == '1-1.3'
        assert [stack.firmware.pi_power(p) for p in range(1, 6)] == [False] * 4 + [True]
        assert not any(triple.firmware.pi_power(p) for p in (1, 2, 3))


def test_a_changed_entry_gets_a_new_instance_and_the_others_keep_theirs(tmp_path):
    path = write_lab(tmp_path)
    with VirtualLab(path).session() as session:
        before = [c.instance for c in session.controllers]
    with VirtualLab(path).session() as session:
        assert [c.instance for c in session.controllers] == before
    write_lab(tmp_path, LAB.replace('order: 2', 'order: 3'))
    with VirtualLab(path).session() as session:
        after = [c.instance for c in session.controllers]
    assert after[0] == before[0] and after[1] != before[1]
    os.unlink(session_state_file(path))  # "delete the state file to start afresh": every board is new
    with VirtualLab(path).session() as session:
        assert not set(c.instance for c in session.controllers) & set(after)


# ---------------------------------------------------------------------------- issue 10: every transaction is kept at once


def test_each_transaction_is_on_disk_before_the_smbus_call_returns(lab_path):
    """Another process reading the lab during the run (as after a kill) sees every transaction so far and its journal line."""
    all_off(lab_path)
    state_file = session_state_file(lab_path)
    with VirtualLab(lab_path).session() as session:
        d = driver(session.controllers[0])
        d.power_on(2)
        assert os.path.exists(state_file + '.log')
        lines = journal_lines(state_file)
        count = len(session.journal)
        assert [line['run'] for line in lines[-count:]] == [session.run_id] * count
        assert lines[-len(session.journal) - 1]['run'] != session.run_id
        snapshot = tmp_copy(lab_path)  # the lab's files as a kill right now would leave them
    with VirtualLab(snapshot).session(check_mode=True) as session:
        assert session.controllers[0].firmware.pi_power(2) is True
    assert len(journal_lines(VirtualLab(snapshot).state_file)) == len(lines)
    assert not os.path.exists(state_file + '.log')  # a run that ends folds its log into the state file


def tmp_copy(lab_path):
    """Copy the lab and its state files into a new directory (under another name: the state records its lab)."""
    source = os.path.dirname(lab_path)
    target = os.path.join(source, 'copy')
    os.mkdir(target)
    copy = os.path.join(target, 'lab.yml')
    for name in os.listdir(source):
        if name.startswith('lab.yml') and not name.endswith('.lock'):
            with open(os.path.join(source, name), 'rb') as src, open(os.path.join(target, name), 'wb') as dst:
                dst.write(src.read())
    state_file = copy + '.state.json'
    with open(state_file) as handle:
        state = json.load(handle)
    state['lab'] = copy
    text = json.dumps(state, sort_keys=True)
    with open(state_file, 'w') as handle:
        handle.write(text)
    log = state_file + '.log'
    if os.path.exists(log):  # the log names the state file it follows by its digest
        with open(log) as handle:
            lines = handle.read().split('\n')
        lines[0] = json.dumps({'state': hashlib.sha256(text.encode()).hexdigest()})
        with open(log, 'w') as handle:
            handle.write('\n'.join(lines))
    return copy


def test_a_log_left_by_a_killed_run_is_applied_once(lab_path):
    all_off(lab_path)
    state_file = session_state_file(lab_path)
    with VirtualLab(lab_path).session() as session:
        driver(session.controllers[1]).power_on(1)
        with open(state_file + '.log') as handle:
            log = handle.read()
        with open(state_file) as handle:
            state = handle.read()
        journal = Path(journal_path(state_file)).read_text()
    # what a kill just after that ON leaves: the state file from before the run, its log, the journal
    with open(state_file, 'w') as handle:
        handle.write(state)
    with open(state_file + '.log', 'w') as handle:
        handle.write(log + '{"boards": {"tor')  # and a record cut short
    with open(journal_path(state_file), 'w') as handle:
        handle.write(journal[:-7])  # the last journal line cut short
    for _run in range(2):
        with VirtualLab(lab_path).session(check_mode=True) as session:
            assert [session.controllers[1].firmware.pi_power(p) for p in range(1, 6)] == [True] + [False] * 4
        assert Path(journal_path(state_file)).read_text() == journal
        assert not os.path.exists(state_file + '.log')


def test_a_log_older_than_the_state_file_only_gives_its_journal_lines(lab_path):
    """A run killed after writing the state file, before removing its log: the state file is newer and wins."""
    all_off(lab_path)
    state_file = session_state_file(lab_path)
    with VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_on(1)
        with open(state_file + '.log') as handle:
            log = handle.read()
    with VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_off(1)
    with open(state_file + '.log', 'w') as handle:
        handle.write(log)
    lines = len(journal_lines(state_file))
    with VirtualLab(lab_path).session(check_mode=True) as session:
        assert session.controllers[0].firmware.pi_power(1) is False
    assert len(journal_lines(state_file)) == lines


def test_persisting_each_transaction_costs(lab_path, capsys):
    """Not an assertion on time: prints what keeping every transaction costs, per transaction (run with -s)."""
    lab = VirtualLab(lab_path)
    costs = {}
    for persist in (False, True):
        with lab.session() as session:
            d = driver(session.controllers[0])
            if not persist:
                session.journal.on_record = None
            start, calls = time.process_time(), len(session.journal)
            for count in range(200):
                d.power_on(1 + count % 3)
            costs[persist] = (time.process_time() - start) / (len(session.journal) - calls)
    with capsys.disabled():
        print(
            f'\nvirtual lab: {costs[True] * 1e6:.0f} us CPU per transaction with each one persisted (state log + journal line), '
            f'{costs[False] * 1e6:.0f} us without'
        )
    assert costs[True] > 0


# ---------------------------------------------------------------------------- issue 10: the state file is checked, field by field


def saved_state(lab_path):
    with VirtualLab(lab_path).session():
        pass
    with open(session_state_file(lab_path)) as handle:
        return json.load(handle)


def refused(lab_path, state, words):
    """Write ``state``; opening the lab must fail with a LabError containing ``words``, writing nothing."""
    state_file = session_state_file(lab_path)
    text = state if isinstance(state, str) else json.dumps(state)
    with open(state_file, 'w') as handle:
        handle.write(text)
    lock = os.path.basename(state_file) + '.lock'  # the lab's own lock may be new
    files = sorted(set(os.listdir(os.path.dirname(state_file))) - {lock})
    with pytest.raises(LabError) as info, VirtualLab(lab_path).session():
        pytest.fail('the session must not open')
    with open(state_file) as handle:
        assert handle.read() == text
    assert sorted(set(os.listdir(os.path.dirname(state_file))) - {lock}) == files
    assert words in str(info.value), str(info.value)
    return str(info.value)


@pytest.mark.parametrize(
    'change, words',
    [
        (lambda s: s['controllers'][1]['firmware'].update(regs=[0] * 14), 'controllers[1].firmware.regs: expected a list of 15 integers 0-255'),
        (lambda s: s['controllers'][1]['firmware'].update(regs=[256] * 15), 'controllers[1].firmware.regs: expected a list of 15 integers 0-255'),
        (lambda s: s['controllers'][0]['firmware'].update(power_pins=[0, 1, 0]), 'controllers[0].firmware.power_pins: expected a list of 3 true/false'),
        (lambda s: s['controllers'][0]['firmware'].update(ptr=True), 'controllers[0].firmware.ptr: expected an integer 0-255, got true'),
        (lambda s: s['controllers'][0]['firmware'].update(boot_count=10**30), 'controllers[0].firmware.boot_count: expected an integer'),
        (lambda s: s['controllers'][0]['firmware'].pop('eeprom'), 'controllers[0].firmware.eeprom: missing'),
        (lambda s: s['controllers'][0]['firmware'].update(colour='red'), 'controllers[0].firmware.colour: unknown field'),
        (lambda s: s['controllers'][0]['firmware'].update(adc_raw={'1': 'x'}), "controllers[0].firmware.adc_raw['1']: expected an integer 0-1023"),
        (lambda s: s['controllers'][0].update(instance='xyz'), 'controllers[0].instance: expected 16 hexadecimal digits'),
        (lambda s: s['controllers'][0].update(key=5), 'controllers[0].key: expected a string, got the number 5'),
        (lambda s: s['controllers'][1].update(key=s['controllers'][0]['key']), 'controllers[1].key: the key'),
        (lambda s: s.update(controllers={}), 'controllers: expected a list'),
        (lambda s: s.update(extra=1), 'extra: unknown field'),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_written(lab_path, change, words):
    state = saved_state(lab_path)
    change(state)
    text = refused(lab_path, state, words)
    assert f'the state file {session_state_file(lab_path)} is corrupt: ' in text
    assert text.endswith('; delete it to start the lab afresh')


def test_a_state_of_another_lab_is_refused_not_adopted(tmp_path):
    path = write_lab(tmp_path)
    other = write_lab(tmp_path, name='other.yml')
    state = saved_state(other)
    text = refused(path, state, 'belongs to the lab')
    assert text == (
        'virtual lab {}: the state file {} belongs to the lab {}; give this lab its own state_file, or delete the state file to start this lab afresh'.format(
            path, path + '.state.json', other
        )
    )


@pytest.mark.parametrize('content', ['{"format": 1, "controllers": []}', '{"name": "my notes"}', '[]', '"text"'])
def test_a_json_file_that_is_no_lab_state_is_never_overwritten(lab_path, content):
    refused(lab_path, content, 'is not a virtual lab state file, and the lab will not overwrite it')


def test_a_state_written_by_another_format_is_refused(lab_path):
    state = saved_state(lab_path)
    state['format'] = 3
    refused(lab_path, state, 'has format the number 3, not 2: another version of this collection wrote it')


@pytest.mark.parametrize(
    'content',
    [
        '{"kind": "picluster.clusterctrl virtual lab state", "format": 2, "x": NaN}',
        '[' * 100000 + ']' * 100000,
        '{"format": 2, "ptr": ' + '9' * 5000 + '}',
        '\xff\xfe',
    ],
)
def test_json_that_python_chokes_on_is_a_clear_error(lab_path, content):
    refused(lab_path, content, 'is corrupt; delete it to start the lab afresh')


def test_a_huge_or_special_state_file_is_refused_before_reading(lab_path):
    state_file = session_state_file(lab_path)
    with open(state_file, 'wb') as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: big, but costs nothing
    with pytest.raises(LabError, match='is larger than it can be'), VirtualLab(lab_path).session():
        pass
    os.unlink(state_file)
    os.mkfifo(state_file)  # opening a FIFO to read it would block for ever
    with pytest.raises(LabError, match='cannot read its state file .*: not a regular file but a FIFO'), VirtualLab(lab_path).session():
        pass


# ---------------------------------------------------------------------------- issue 10: files opened without following links


@pytest.mark.parametrize(
    'suffix, words',
    [
        ('.journal.jsonl', 'cannot write its journal'),
        ('.lock', 'cannot create its lock file: not a regular file but a symbolic link'),
        ('', 'cannot read its state file'),
        ('.log', 'cannot read the log of its state, %s.log: not a regular file but a symbolic link'),
    ],
)
def test_a_symlinked_lab_file_is_refused_and_its_target_untouched(lab_path, tmp_path, suffix, words):
    state_file = session_state_file(lab_path)
    with VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_on(1)
    target = tmp_path / 'target'
    target.write_text('precious\n')
    os.chmod(str(target), 0o644)
    if os.path.exists(state_file + suffix):
        os.rename(state_file + suffix, str(tmp_path / 'moved'))
    os.symlink(str(target), state_file + suffix)
    with pytest.raises(LabError) as info, VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_off(1)
    assert words.replace('%s', state_file) in str(info.value)
    assert target.read_text() == 'precious\n'
    assert stat.S_IMODE(os.stat(str(target)).st_mode) == 0o644


def test_a_killed_write_leaves_no_temporary_file_for_long(lab_path):
    state_file = session_state_file(lab_path)
    stale = state_file + '.tmp.0123456789abcdef'
    with open(stale, 'w') as handle:
        handle.write('half a state')
    keep = state_file + '.tmp.notours'
    open(keep, 'w').close()
    with VirtualLab(lab_path).session():
        pass
    assert not os.path.exists(stale)
    assert os.path.exists(keep)


# ---------------------------------------------------------------------------- issue 10: write failures


def test_a_transaction_that_cannot_be_logged_fails_the_smbus_call_with_a_lab_error(lab_path):
    """The log's path taken by a directory (as a full disk would refuse it): the SMBus call fails with a LabError,
    the module can report it, and what the board did is still written when the run ends."""
    all_off(lab_path)
    state_file = session_state_file(lab_path)
    with VirtualLab(lab_path).session() as session:
        os.mkdir(state_file + '.log')
        with pytest.raises(LabError) as info:
            driver(session.controllers[0]).power_on(1)
        assert str(info.value) == f'virtual lab {lab_path}: cannot write the log of its state, {state_file}.log: Is a directory'
        os.rmdir(state_file + '.log')
        driver(session.controllers[0]).power_on(1)  # the disk has room again
        calls = len(session.journal)
    assert [line['run'] for line in journal_lines(state_file)].count(session.run_id) == calls  # the failed call's line too
    with VirtualLab(lab_path).session(check_mode=True) as session:
        assert session.controllers[0].firmware.pi_power(1) is True


def test_the_error_under_way_is_kept_when_the_state_cannot_be_written(lab_path):
    all_off(lab_path)
    state_file = session_state_file(lab_path)
    with pytest.raises(LabError) as info, VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_on(2)
        os.rename(state_file, state_file + '.moved')
        os.mkdir(state_file)  # the state file can no longer be replaced
        raise BusError('lab board 0', 'write at 0x0D', OSError(errno.EIO, 'Input/output error'))
    text = str(info.value)
    assert 'cannot write its state file' in text and 'before that, the run had failed: ' in text and 'Input/output error' in text
    assert isinstance(info.value.__cause__, BusError)
    os.rmdir(state_file)
    os.rename(state_file + '.moved', state_file)
    with VirtualLab(lab_path).session(check_mode=True) as session:  # the log kept the run's change
        assert session.controllers[0].firmware.pi_power(2) is True


def test_an_interrupt_is_never_replaced_by_a_write_failure(lab_path):
    state_file = session_state_file(lab_path)
    with pytest.raises(KeyboardInterrupt), VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_on(2)
        os.rename(state_file, state_file + '.moved')
        os.mkdir(state_file)
        raise KeyboardInterrupt()


def test_a_write_failure_after_a_clean_run_is_a_lab_error(lab_path):
    state_file = session_state_file(lab_path)
    with pytest.raises(LabError, match='cannot write its state file .*: Is a directory'), VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_on(2)
        os.rename(state_file, state_file + '.moved')
        os.mkdir(state_file)


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into a read-only directory')
def test_a_read_only_lab_directory_fails_cleanly(tmp_path):
    path = write_lab(tmp_path)
    with VirtualLab(path).session():
        pass
    os.chmod(str(tmp_path), 0o500)
    try:
        with pytest.raises(LabError, match='cannot write'), VirtualLab(path).session() as session:
            driver(session.controllers[0]).power_on(1)
    finally:
        os.chmod(str(tmp_path), 0o700)


def last_record(change):
    """Damage the log's last record (the one no later record overrides)."""
    return lambda lines: lines[:-2] + [change(lines[-2])] + lines[-1:]


@pytest.mark.parametrize(
    'damage, words',
    [
        (lambda lines: lines[:1] + ['{"boards": '] + lines[1:], 'line 2: not JSON'),
        (lambda lines: [lines[0].replace('"state": "', '"state": "x')] + lines[1:], 'line 1.state: expected the SHA-256'),
        (last_record(lambda line: line.replace('"lines": [', '"lines": [5, ')), '.journal.lines[0]: expected one journal line'),
        (last_record(lambda line: line.replace('"boards": {', '"boards": {"nosuch@order:9": {}, ')), ".boards['nosuch@order:9']"),
        (last_record(lambda line: line.replace('"ptr": ', '"ptr": -')), 'controllers[0].firmware.ptr: expected an integer 0-255'),
    ],
)
def test_a_damaged_log_is_refused_and_nothing_is_written(lab_path, damage, words):
    state_file = session_state_file(lab_path)
    with VirtualLab(lab_path).session() as session:
        driver(session.controllers[0]).power_on(1)
        with open(state_file + '.log') as handle:
            lines = handle.read().split('\n')
        state = Path(state_file).read_text()
    log = '\n'.join(damage(lines))
    with open(state_file + '.log', 'w') as handle:
        handle.write(log)
    with open(state_file, 'w') as handle:
        handle.write(state)
    with pytest.raises(LabError) as info, VirtualLab(lab_path).session():
        pytest.fail('the session must not open')
    assert f'the log of its state, {state_file}.log, does not fit the state file: ' in str(info.value)
    assert words in str(info.value)
    assert Path(state_file + '.log').read_text() == log and Path(state_file).read_text() == state
