# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""load_lab_file(): what a valid lab gives, its defaults, and the message for each mistake.

Messages are what a playbook user sees (``clusterctrl_power`` puts them in ``msg``), so each
error test checks the file's path, the board's position and the words of the message; the
integration target ``clusterctrl_power/tasks/tests/bad_input.yml`` relies on several of them.
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import BoardType
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import (
    MAX_LAB_FILE_BYTES,
    LabError,
    load_lab_file,
)

NEWEST = {'single': '1.5', 'triple': '1.6', 'phat': '1.5', 'aplus6': '1.8', 'stack': '1.8', 'da': '1.5'}  # spec §6.2


def write(tmp_path, text, name='lab.yml'):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


def lab_error(path):
    with pytest.raises(LabError) as info:
        load_lab_file(path)
    assert isinstance(info.value, ClusterCTRLError)  # the modules turn ClusterCTRLError into a clean failure
    return str(info.value)


# ---------------------------------------------------------------------------- valid labs


def test_valid_yaml_lab(tmp_path):
    path = write(
        tmp_path,
        """
controllers:
  - {type: triple, order: 1, firmware: "1.6", usb_path: "1-1.3", adc: {1: 600}, temperature_raw: 300}
  - type: stack
    order: 2
    bus: 42
    eeprom: blank
    faults: {stop_after_calls: 5}
  - {type: da, order: 3, hats: [3, 1, 3]}
""",
    )
    lab = load_lab_file(path)
    assert lab.path == path
    assert lab.hat is None
    triple, stack, da = lab.controllers
    assert (triple.index, triple.board_type, triple.order, triple.firmware, triple.bus) == (0, BoardType.TRIPLE, 1, '1.6', 10)
    assert (triple.usb_path, triple.eeprom, triple.hats, triple.adc, triple.temperature_raw) == ('1-1.3', 'factory', None, {1: 600}, 300)
    expected = (1, BoardType.STACK, 2, 42, 'blank', {'stop_after_calls': 5})
    assert (stack.index, stack.board_type, stack.order, stack.bus, stack.eeprom, stack.faults) == expected
    assert (da.board_type, da.bus, da.hats) == (BoardType.DA, 12, [1, 3])


def test_valid_json_lab(tmp_path):
    document = {'controllers': [{'type': 'aplus6', 'order': 9, 'adc': {'2': 700}}, {'type': 'phat', 'order': 10, 'firmware': '1.4'}]}
    lab = load_lab_file(write(tmp_path, json.dumps(document), name='lab.json'))
    aplus6, phat = lab.controllers
    assert (aplus6.board_type, aplus6.order, aplus6.adc, aplus6.bus) == (BoardType.APLUS6, 9, {2: 700}, 10)
    assert (phat.board_type, phat.firmware, phat.bus) == (BoardType.PHAT, '1.4', 11)


def test_json_text_in_a_yaml_file_is_accepted(tmp_path):
    lab = load_lab_file(write(tmp_path, '{"controllers": [{"type": "single", "order": 4}]}'))
    assert [(c.board_type, c.order) for c in lab.controllers] == [(BoardType.SINGLE, 4)]


def test_board_type_spellings(tmp_path):
    lab = load_lab_file(write(tmp_path, 'controllers: [{type: A+6, order: 1}, {type: Triple, order: 2}, {type: desktop-adaptor, order: 3}]'))
    assert [c.board_type for c in lab.controllers] == [BoardType.APLUS6, BoardType.TRIPLE, BoardType.DA]


@pytest.mark.parametrize('kind', sorted(NEWEST))
def test_defaults(tmp_path, kind):
    """order 20, newest published firmware (§6.2), bus 10 + index, factory EEPROM, DA hats [0]."""
    lab = load_lab_file(write(tmp_path, f'controllers: [{{type: {kind}, order: 1, bus: 30}}, {{type: {kind}}}]'))
    config = lab.controllers[1]
    assert config.order == 20
    assert config.firmware == NEWEST[kind]
    assert config.bus == 11
    assert config.eeprom == 'factory'
    assert config.usb_path is None
    assert config.adc == {}
    assert config.temperature_raw is None
    assert config.faults == {}
    assert config.hats == ([0] if kind == 'da' else None)


@pytest.mark.parametrize(
    'text, expected',
    [
        ('"1.5"', '1.5'),
        ("'1.7'", '1.7'),
    ],
)
def test_quoted_firmware_is_accepted(tmp_path, text, expected):
    lab = load_lab_file(write(tmp_path, f'controllers: [{{type: triple, firmware: {text}}}]'))
    assert lab.controllers[0].firmware == expected


@pytest.mark.parametrize(
    'text, message',
    [
        ('1.10', 'firmware: 1.10 is read as the number 1.1; quote it: firmware: "1.10"'),
        ('1.6', 'firmware: 1.6 is a number, not text; quote it: firmware: "1.6"'),
        ('1.80', 'firmware: 1.80 is read as the number 1.8; quote it: firmware: "1.80"'),
    ],
)
def test_unquoted_firmware_is_refused_with_quote_it(tmp_path, text, message):
    """Issue 10: YAML reads an unquoted 1.10 as the float 1.1; the message shows what was written and how to quote it."""
    path = write(tmp_path, f'controllers:\n  - {{type: single, order: 1}}\n  - {{type: triple, firmware: {text}}}\n')
    assert lab_error(path) == f'virtual lab {path}: controllers[1]: {message}'


def test_firmware_as_a_json_number_is_refused(tmp_path):
    path = write(tmp_path, '{"controllers": [{"type": "stack", "firmware": 1.10}]}', name='lab.json')
    assert lab_error(path).endswith('controllers[0]: firmware: 1.10 is read as the number 1.1; quote it: firmware: "1.10"')


def test_boundary_values_are_accepted(tmp_path):
    lab = load_lab_file(
        write(
            tmp_path,
            """
controllers:
  - {type: triple, order: 1, bus: 0, adc: {1: 0}, temperature_raw: 0}
  - {type: stack, order: 255, bus: 1023, adc: {1: 1023, 2: 1023}, temperature_raw: 1023}
  - {type: da, order: 2, hats: [0, 1, 2, 3, 4, 5, 6, 7]}
""",
        )
    )
    assert [(c.order, c.bus) for c in lab.controllers] == [(1, 0), (255, 1023), (2, 12)]
    assert lab.controllers[1].adc == {1: 1023, 2: 1023}
    assert lab.controllers[2].hats == list(range(8))


def test_duplicate_orders_are_left_to_the_cluster(tmp_path):
    """bad_input.yml: a Triple and a pHAT both at order 20 load; the cluster refuses them with its own message."""
    lab = load_lab_file(write(tmp_path, 'controllers: [{type: triple}, {type: phat}]'))
    assert [c.order for c in lab.controllers] == [20, 20]


def test_fingerprint_changes_with_the_hardware_but_not_with_faults(tmp_path):
    base = load_lab_file(write(tmp_path, 'controllers: [{type: triple, order: 1}]', 'a.yml')).controllers[0]
    faulty = load_lab_file(write(tmp_path, 'controllers: [{type: triple, order: 1, faults: {stop_after_calls: 1}}]', 'b.yml')).controllers[0]
    other = load_lab_file(write(tmp_path, 'controllers: [{type: triple, order: 2}]', 'c.yml')).controllers[0]
    blank = load_lab_file(write(tmp_path, 'controllers: [{type: triple, order: 1, eeprom: blank}]', 'd.yml')).controllers[0]
    assert base.fingerprint() == faulty.fingerprint()
    assert len({base.fingerprint(), other.fingerprint(), blank.fingerprint()}) == 3


# ---------------------------------------------------------------------------- state_file


def test_state_file_defaults_next_to_the_lab(tmp_path):
    path = write(tmp_path, 'controllers: [{type: triple}]')
    assert load_lab_file(path).state_file == path + '.state.json'


def test_relative_state_file_is_relative_to_the_lab_directory(tmp_path, monkeypatch):
    (tmp_path / 'labs').mkdir()
    path = write(tmp_path, 'controllers: [{type: triple}]\nstate_file: state/lab.json\n', name='labs/lab.yml')
    monkeypatch.chdir(str(tmp_path))  # not relative to the current directory
    assert load_lab_file(path).state_file == str(tmp_path / 'labs' / 'state' / 'lab.json')


def test_relative_lab_path_is_made_absolute(tmp_path, monkeypatch):
    write(tmp_path, 'controllers: [{type: triple}]\nstate_file: s.json\n')
    monkeypatch.chdir(str(tmp_path))
    lab = load_lab_file('lab.yml')
    assert lab.path == str(tmp_path / 'lab.yml')
    assert lab.state_file == str(tmp_path / 's.json')
    assert os.path.isabs(lab.state_file)


def test_absolute_state_file_is_kept(tmp_path):
    target = str(tmp_path / 'elsewhere' / 'x.json')
    path = write(tmp_path, f'controllers: [{{type: triple}}]\nstate_file: {target}\n')
    assert load_lab_file(path).state_file == target


def test_state_file_must_be_a_path(tmp_path):
    path = write(tmp_path, 'controllers: [{type: triple}]\nstate_file: [a, b]\n')
    assert lab_error(path) == f'virtual lab {path}: state_file must be a path'


def test_the_lab_file_cannot_be_its_own_state_file(tmp_path):
    """Else the lab would call its own file a corrupt state and tell the user to delete it."""
    path = write(tmp_path, 'controllers: [{type: triple}]\nstate_file: lab.yml\n')
    assert lab_error(path) == f'virtual lab {path}: state_file names the lab file itself; the state needs a file of its own'


def test_a_hat_only_lab_loads(tmp_path):
    """A lab may hold just a ClusterHAT (defaults filled in)."""
    lab = load_lab_file(write(tmp_path, 'hat: {version: "2.5"}\n'))
    assert lab.controllers == []
    hat = lab.hat
    assert (hat.version, hat.part, hat.pos_link_cut, hat.wp_link_soldered, hat.size) == ('2.5', 'xra1200p', False, False, 4)


@pytest.mark.parametrize(
    'entry, message',
    [
        ('{version: 2.5}', 'version: 2.5 is a number, not text; quote it: version: "2.5"'),
        ('{version: 2.50}', 'version: 2.50 is read as the number 2.5; quote it: version: "2.50"'),
        ('{version: "1.2"}', 'ClusterHAT v1.x (driven by plain GPIO) is not supported'),
        ('{version: "4.0"}', 'version 4.0 is not a ClusterHAT version'),
        ('{version: two}', 'version must look like "2.5"'),
        ('{version: "2.5", part: pca9555}', 'part must be one of xra1200p, xra1200'),
        ('{version: "2.5", size: 5}', 'size must be an integer from 1 to 4, got 5'),
        ('{version: "2.5", pos_link_cut: maybe}', 'pos_link_cut must be true or false'),
        ('{version: "2.5", colour: red}', 'unknown key(s) colour'),
        ('[2.5]', 'the hat is a mapping'),
    ],
)
def test_hat_errors(tmp_path, entry, message):
    with pytest.raises(LabError) as err:
        load_lab_file(write(tmp_path, f'hat: {entry}\n'))
    assert message in str(err.value) and 'hat' in str(err.value)


# ---------------------------------------------------------------------------- controller errors


@pytest.mark.parametrize(
    'entry, message',
    [
        ('{type: triple, colour: red}', 'unknown key(s) colour; allowed: type, order, firmware, bus, usb_path, eeprom, hats, adc, temperature_raw, faults'),
        ('{type: triple, colour: red, size: 3}', 'unknown key(s) colour, size; allowed:'),
        ('{order: 3}', 'type is required (one of single, triple, phat, aplus6, stack, da)'),
        ('{type: quadruple}', "unknown board type 'quadruple' (expected one of: single, triple, phat, aplus6, stack, da)"),
        ('{type: 3}', 'unknown board type 3'),
        ('{type: triple, order: 300}', 'order must be an integer from 1 to 255, got 300'),
        ('{type: triple, order: 0}', 'order must be an integer from 1 to 255, got 0'),
        ('{type: triple, order: -1}', 'order must be an integer from 1 to 255, got -1'),
        ('{type: triple, order: "5"}', "order must be an integer from 1 to 255, got '5'"),
        ('{type: triple, order: 5.0}', 'order must be an integer from 1 to 255, got 5.0'),
        ('{type: triple, order: true}', 'order must be an integer from 1 to 255, got True'),
        ('{type: triple, order: null}', 'order must be an integer from 1 to 255, got None'),
        ("{type: triple, firmware: '2.0'}", 'firmware 2.0 is not emulated; choose one of 1.4, 1.5, 1.6, 1.7, 1.8'),
        ('{type: triple, firmware: "1.3"}', 'firmware 1.3 is not emulated'),
        ('{type: triple, firmware: latest}', 'firmware version must look like "1.6", got \'latest\''),
        ('{type: triple, firmware: 1}', 'firmware version must look like "1.6", got \'1\''),
        ('{type: triple, bus: 1024}', 'bus must be an integer from 0 to 1023, got 1024'),
        ('{type: triple, bus: -1}', 'bus must be an integer from 0 to 1023, got -1'),
        ("{type: triple, bus: '3'}", "bus must be an integer from 0 to 1023, got '3'"),
        ('{type: triple, usb_path: 13}', 'usb_path must be a string like "1-1.3"'),
        ('{type: triple, usb_path: [1, 1]}', 'usb_path must be a string like "1-1.3"'),
        ('{type: triple, usb_path: ""}', 'usb_path must be a string like "1-1.3"'),
        ('{type: triple, usb_path: "1-1.3/../x"}', 'usb_path must be a string like "1-1.3"'),
        ('{type: triple, usb_path: "1-\u0661"}', 'usb_path must be a string like "1-1.3"'),
        ('{type: triple, usb_path: "1-0"}', 'usb_path must be a string like "1-1.3"'),
        ('{type: triple, eeprom: empty}', 'eeprom must be "factory" or "blank" (all 0xFF), got \'empty\''),
        ('{type: triple, eeprom: null}', 'eeprom must be "factory" or "blank" (all 0xFF), got None'),
        ('{type: triple, hats: [0]}', 'hats applies only to a DA'),
        ('{type: stack, hats: []}', 'hats applies only to a DA'),
        ('{type: da, hats: [8]}', 'hats must be a list of DA mux ports 0 to 7'),
        ('{type: da, hats: [-1]}', 'hats must be a list of DA mux ports 0 to 7'),
        ('{type: da, hats: 3}', 'hats must be a list of DA mux ports 0 to 7'),
        ('{type: da, hats: all}', 'hats must be a list of DA mux ports 0 to 7'),
        ('{type: da, hats: [true]}', 'hats must be a list of DA mux ports 0 to 7'),
        ("{type: da, hats: ['1']}", 'hats must be a list of DA mux ports 0 to 7'),
        ('{type: triple, adc: {2: 100}}', 'the ClusterCTRL Triple has no ADC channel 2 (it has: 1)'),
        ('{type: triple, adc: {0: 100}}', 'the ClusterCTRL Triple has no ADC channel 0 (it has: 1)'),
        ('{type: phat, adc: {1: 100}}', 'the ClusterCTRL pHAT has no ADC channel 1 (it has: none)'),
        ('{type: stack, adc: {3: 100}}', 'the ClusterCTRL Stack has no ADC channel 3 (it has: 1, 2)'),
        ('{type: triple, adc: {1: 1024}}', 'adc reading must be an integer from 0 to 1023, got 1024'),
        ('{type: triple, adc: {1: -1}}', 'adc reading must be an integer from 0 to 1023, got -1'),
        ('{type: triple, adc: {1: 5.5}}', 'adc reading must be an integer from 0 to 1023, got 5.5'),
        ('{type: triple, adc: [600]}', 'adc must map channel numbers to raw readings (0-1023)'),
        ('{type: single, temperature_raw: 300}', 'the ClusterCTRL Single has no temperature sensor'),
        ('{type: phat, temperature_raw: 300}', 'the ClusterCTRL pHAT has no temperature sensor'),
        ('{type: triple, temperature_raw: 1024}', 'temperature_raw must be an integer from 0 to 1023, got 1024'),
        ('{type: triple, temperature_raw: hot}', "temperature_raw must be an integer from 0 to 1023, got 'hot'"),
        ('{type: triple, faults: [stop_after_calls]}', 'faults must be a mapping'),
        ('{type: triple, faults: off}', 'faults must be a mapping'),
        ('triple', "each controller is a mapping like {type: triple, order: 1}, got 'triple'"),
        ('[triple, 1]', 'each controller is a mapping like {type: triple, order: 1}'),
    ],
)
def test_controller_errors_name_the_file_and_the_board(tmp_path, entry, message):
    """The faulty board is the second one, so the position in the message must be controllers[1]."""
    path = write(tmp_path, f'controllers:\n  - {{type: single, order: 1}}\n  - {entry}\n')
    text = lab_error(path)
    assert text.startswith(f'virtual lab {path}: controllers[1]: ')
    assert message in text


def test_bus_clash_with_explicit_buses(tmp_path):
    path = write(tmp_path, 'controllers: [{type: triple, order: 1, bus: 3}, {type: phat, order: 2, bus: 3}]')
    assert lab_error(path) == f'virtual lab {path}: controllers[1]: bus 3 is already used by another controller'


def test_bus_clash_between_an_explicit_and_a_default_bus(tmp_path):
    """controllers[0] takes bus 11, which is the default of controllers[1] (10 + index)."""
    path = write(tmp_path, 'controllers: [{type: triple, order: 1, bus: 11}, {type: phat, order: 2}]')
    assert 'controllers[1]: bus 11 is already used by another controller' in lab_error(path)


@pytest.mark.parametrize(
    'text, message',
    [
        (
            'controllers: [{type: triple, usb_path: "1-1.3"}, {type: phat, usb_path: "1-1.3"}]',
            'controllers[1]: usb_path 1-1.3 is already the usb_path of controllers[0]; give each board its own usb_path',
        ),
        (
            'controllers: [{type: triple}, {type: phat, usb_path: "1-1.1"}]',
            'controllers[1]: usb_path 1-1.1 is the default USB path of controllers[0]; give each board its own usb_path',
        ),
        (
            'controllers: [{type: stack, usb_path: "1-2"}, {type: stack}]',
            'controllers[1]: its default USB path 1-2 is already the usb_path of controllers[0]; give each board its own usb_path',
        ),
    ],
)
def test_two_boards_never_share_a_usb_path(tmp_path, text, message):
    """Issue 10: a module names a board by its USB path, so two lab boards with one path are refused."""
    path = write(tmp_path, text)
    assert lab_error(path) == f'virtual lab {path}: {message}'


def test_a_controller_on_bus_1_beside_a_hat_is_refused(tmp_path):
    """The ClusterHAT sits on the Pi's own I2C bus 1: no USB controller can have that bus too."""
    path = write(tmp_path, 'hat: {version: "2.5"}\ncontrollers: [{type: triple, order: 1, bus: 1}]\n')
    assert lab_error(path) == (
        f"virtual lab {path}: controllers[0]: bus 1 is the Raspberry Pi's own I2C bus, where this lab's "
        'ClusterHAT sits; give this controller another bus (or leave bus out)'
    )
    alone = write(tmp_path, 'controllers: [{type: triple, order: 1, bus: 1}]\n', name='alone.yml')
    assert load_lab_file(alone).controllers[0].bus == 1  # without a HAT, bus 1 is free


def test_board_keys_are_identities_not_positions(tmp_path):
    """The state is matched by key: USB path first, then a declared bus, then the order (issue 10)."""
    path = write(
        tmp_path,
        """
controllers:
  - {type: triple, order: 1, usb_path: "1-1.3", bus: 40}
  - {type: stack, order: 2, bus: 41}
  - {type: phat, order: 3}
  - {type: single}
  - {type: single}
""",
    )
    keys = [c.key for c in load_lab_file(path).controllers]
    assert keys == ['triple@usb:1-1.3', 'stack@bus:41', 'phat@order:3', 'single@order:20', 'single@order:20#2']
    front = write(tmp_path, 'controllers: [{type: aplus6, order: 9}, {type: phat, order: 3}, {type: stack, order: 2, bus: 41}]', name='front.yml')
    assert [c.key for c in load_lab_file(front).controllers] == ['aplus6@order:9', 'phat@order:3', 'stack@bus:41']


def test_the_first_error_stops_loading(tmp_path):
    path = write(tmp_path, 'controllers: [{type: triple, order: 0}, {type: nope}]')
    text = lab_error(path)
    assert 'controllers[0]: order must be' in text
    assert 'nope' not in text


# ---------------------------------------------------------------------------- document errors


@pytest.mark.parametrize(
    'text, message',
    [
        ('', 'the lab file must be a mapping with a "controllers" list'),
        ('# only a comment\n', 'the lab file must be a mapping with a "controllers" list'),
        ('- {type: triple}\n', 'the lab file must be a mapping with a "controllers" list'),
        ('just text\n', 'the lab file must be a mapping with a "controllers" list'),
        ('controllers: {type: triple}\n', 'controllers must be a list'),
        ('controllers: triple\n', 'controllers must be a list'),
        ('controllers: []\n', 'the lab holds no boards: add a controllers list'),
        ('controllers:\n', 'the lab holds no boards: add a controllers list'),
        ('state_file: x.json\n', 'the lab holds no boards: add a controllers list'),
        ('controllers: [{type: triple}]\nboards: []\n', 'unknown top-level key(s) boards; allowed: controllers, hat, state_file'),
        ('controllers: [ {type: triple', 'invalid YAML: '),
        ('controllers:\n\t- {type: triple}\n', 'invalid YAML: '),
    ],
)
def test_document_errors(tmp_path, text, message):
    path = write(tmp_path, text)
    got = lab_error(path)
    assert got.startswith(f'virtual lab {path}: ')
    assert message in got
    assert 'controllers[' not in got


def test_invalid_yaml_message_is_one_line(tmp_path):
    path = write(tmp_path, 'controllers: [ {type: triple')
    assert '\n' not in lab_error(path)


def test_invalid_json(tmp_path):
    path = write(tmp_path, '{"controllers": [', name='lab.json')
    assert lab_error(path).startswith(f'virtual lab {path}: invalid JSON: ')


def test_yaml_is_not_accepted_in_a_json_file(tmp_path):
    path = write(tmp_path, 'controllers: [{type: triple}]', name='lab.json')
    assert 'invalid JSON' in lab_error(path)


def test_missing_file(tmp_path):
    path = str(tmp_path / 'missing.yml')
    assert lab_error(path) == f'virtual lab {path}: cannot read the lab file: No such file or directory'


def test_dev_zero_is_refused_before_reading(tmp_path):
    """Issue 10: /dev/zero has size 0 and never ends; the old reader ran out of memory. A link to it is refused too."""
    assert lab_error('/dev/zero') == 'virtual lab /dev/zero: cannot read the lab file: not a regular file but a character device'
    link = tmp_path / 'lab.yml'
    link.symlink_to('/dev/zero')
    assert lab_error(str(link)).endswith('cannot read the lab file: not a regular file but a character device')


def test_a_fifo_is_refused_without_blocking(tmp_path):
    """A FIFO with no writer blocked the old reader for ever; it is refused before it is opened."""
    fifo = str(tmp_path / 'lab.yml')
    os.mkfifo(fifo)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(lab_error(fifo)), daemon=True)
    worker.start()
    worker.join(30)  # a guard against hanging the test run, not a timing assertion
    if worker.is_alive():  # release the blocked reader before failing
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail('reading a FIFO lab file blocked')
    assert outcome == [f'virtual lab {fifo}: cannot read the lab file: not a regular file but a FIFO']


def test_a_directory_is_not_a_lab_file(tmp_path):
    (tmp_path / 'lab.yml').mkdir()
    path = str(tmp_path / 'lab.yml')
    assert lab_error(path) == f'virtual lab {path}: cannot read the lab file: Is a directory'


@pytest.mark.skipif(os.geteuid() == 0, reason='root reads files whatever their mode')
def test_unreadable_file(tmp_path):
    path = write(tmp_path, 'controllers: [{type: triple}]')
    os.chmod(path, 0)
    try:
        assert lab_error(path) == f'virtual lab {path}: cannot read the lab file: Permission denied'
    finally:
        os.chmod(path, 0o600)


@pytest.mark.parametrize('name', ['lab.yml', 'lab.json'])
def test_not_utf8(tmp_path, name):
    path = write(tmp_path, b'controllers: [{type: \xff\xfe}]\n', name=name)
    assert lab_error(path) == f'virtual lab {path}: the lab file is not UTF-8 text'


def test_oversized_file(tmp_path):
    body = 'controllers: [{type: triple}]\n'
    text = body + '#' * (MAX_LAB_FILE_BYTES - len(body) + 1)
    path = write(tmp_path, text)
    assert lab_error(path) == 'virtual lab %s: the file is %d bytes; a lab file is at most %d' % (path, MAX_LAB_FILE_BYTES + 1, MAX_LAB_FILE_BYTES)


def test_file_of_exactly_the_maximum_size_is_read(tmp_path):
    body = 'controllers: [{type: triple}]\n'
    path = write(tmp_path, body + '#' * (MAX_LAB_FILE_BYTES - len(body)))
    assert os.path.getsize(path) == MAX_LAB_FILE_BYTES
    assert [c.board_type for c in load_lab_file(path).controllers] == [BoardType.TRIPLE]


def test_unknown_keys_of_mixed_types_still_give_a_lab_error(tmp_path):
    """YAML keys need not be strings: '1: x' next to 'colour: red' must still be reported, not crash sorted()."""
    path = write(tmp_path, 'controllers: [{type: triple, 1: x, colour: red}]')
    text = lab_error(path)
    assert 'unknown key(s)' in text
    assert 'colour' in text
    top = write(tmp_path, 'controllers: [{type: triple}]\n1: x\nboards: []\n', name='top.yml')
    assert 'unknown top-level key(s)' in lab_error(top)
