# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The virtual lab file: which emulated boards a lab holds (YAML or JSON).

Example::

    hat: {version: "2.5"}
    controllers:
      - {type: triple, order: 1, firmware: "1.6"}
      - {type: stack, order: 2}

Every field is checked here, before any board is built, and every mistake is reported
with the lab file's path and the board's position, so a typo never turns into a
half-built lab. The file itself must be a regular file of at most 1 MiB (checked before it
is read); versions must be quoted (YAML reads ``firmware: 1.10`` as the number 1.1); no two
boards share a bus or a USB path (declared or default), and a ClusterHAT keeps bus 1 to itself.

Each controller gets a ``key``, its identity in the lab's state: type and USB path, else type
and declared bus, else type and order (``triple@usb:1-1.3``); never its position in the list.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from ansible_collections.picluster.clusterctrl.plugins.module_utils._private_file import (
    MAX_FILE_BYTES,
    FileTooLarge,
    read_regular,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.boards import (
    BOARD_SPECS,
    SUPPORTED_FIRMWARE,
    BoardType,
    parse_firmware,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import HAT_BUS

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML is absent on some managed nodes
    HAS_YAML = False

# A lab file is small; refuse anything that is clearly not one (before reading it).
MAX_LAB_FILE_BYTES = MAX_FILE_BYTES
# Buses of virtual controllers are numbered from here unless the lab says otherwise.
FIRST_VIRTUAL_BUS = 10

HAT_KEYS = ('version', 'part', 'pos_link_cut', 'wp_link_soldered', 'size')
HAT_PARTS = ('xra1200p', 'xra1200')
CONTROLLER_KEYS = ('type', 'order', 'firmware', 'bus', 'usb_path', 'eeprom', 'hats', 'adc', 'temperature_raw', 'faults')
TOP_LEVEL_KEYS = ('controllers', 'hat', 'state_file')
# A USB device path as sysfs names it: root bus, then up to 7 tiers of hub ports ("1-1.3"), ASCII digits only.
USB_PATH = re.compile(r'[1-9][0-9]{0,2}-[1-9][0-9]{0,2}(\.[1-9][0-9]{0,2}){0,6}\Z')


class LabError(ClusterCTRLError):
    """The lab file is missing, unreadable or describes an impossible lab."""


class _Number(float):
    """A float read from the lab file that remembers how it was written (``1.10``, which is the number 1.1)."""

    text = ''


def _number(value, text):
    number = _Number(value)
    number.text = text
    return number


if HAS_YAML:

    class _LabLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
        """PyYAML's safe loader, keeping the written text of each float for the "quote it" messages."""

    _LabLoader.add_constructor('tag:yaml.org,2002:float', lambda loader, node: _number(loader.construct_yaml_float(node), node.value))


@dataclass
class ControllerConfig:
    """One validated controller entry of a lab file.

    ``key`` is the board's identity in the lab's state: its type and its USB path, else its
    declared bus, else its order (``triple@usb:1-1.3``), never its position in the list, so
    adding, removing or reordering entries keeps the other boards' state.
    """

    index: int
    board_type: BoardType
    order: int
    firmware: str
    bus: int
    usb_path: str | None
    eeprom: str
    hats: list | None
    adc: dict
    temperature_raw: int | None
    faults: dict
    key: str = ''

    def fingerprint(self) -> str:
        """What identifies the board's hardware: a change re-creates its state from scratch (faults excluded)."""
        return json.dumps(
            [self.board_type.value, self.order, self.firmware, self.eeprom, self.hats, sorted(self.adc.items()), self.temperature_raw], sort_keys=True
        )

    @property
    def effective_usb_path(self) -> str:
        """The declared ``usb_path``, else a plausible one (see ``default_usb_path``)."""
        return self.usb_path or default_usb_path(self.index, self.board_type)


@dataclass
class HatConfig:
    """The validated ``hat`` entry: a ClusterHAT v2.x/v3.x on the controller's own I2C bus 1."""

    version: str
    part: str
    pos_link_cut: bool
    wp_link_soldered: bool
    size: int

    def fingerprint(self) -> str:
        return json.dumps([self.version, self.part, self.pos_link_cut, self.wp_link_soldered, self.size])


@dataclass
class LabFile:
    """A parsed, validated lab file."""

    path: str
    controllers: list
    hat: HatConfig | None
    state_file: str


def default_usb_path(index: int, board_type: BoardType) -> str:
    """A plausible USB path: the board's hub on root port index+1, the controller behind its GETPATH(0) hops."""
    spec = board_type.spec
    hops = spec.paths[0] if spec.paths else ()
    return '.'.join(['1-%d' % (index + 1)] + [str(h) for h in hops])


def lab_error(path: str, text: str) -> LabError:
    """The error ``text`` about the lab of the lab file ``path``."""
    return LabError(f'virtual lab {path}: {text}')


def _fail(path, where, text):
    raise lab_error(path, f'{where}: {text}' if where else text)


def _int(path, where, name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(path, where, '%s must be an integer from %d to %d, got %r' % (name, low, high, value))
    return value


def _read_document(path):
    try:
        raw = read_regular(path, MAX_LAB_FILE_BYTES)
    except FileTooLarge as exc:
        _fail(path, '', 'the file is %d bytes; a lab file is at most %d' % (exc.size, MAX_LAB_FILE_BYTES))
    except OSError as exc:
        _fail(path, '', 'cannot read the lab file: %s' % (exc.strerror or exc))
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        _fail(path, '', 'the lab file is not UTF-8 text')
    if path.endswith('.json'):
        try:
            return json.loads(text, parse_float=lambda written: _number(float(written), written))
        except ValueError as exc:
            _fail(path, '', f'invalid JSON: {exc}')
        except RecursionError:
            _fail(path, '', 'invalid JSON: nested too deeply')
    if not HAS_YAML:
        try:
            return json.loads(text, parse_float=lambda written: _number(float(written), written))
        except (ValueError, RecursionError):
            _fail(path, '', 'PyYAML is not installed on this host, so the lab file must be JSON (or install python3-yaml)')
    try:
        return yaml.load(text, Loader=_LabLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        _fail(path, '', 'invalid YAML: {}'.format(str(exc).replace('\n', ' ')))
    except RecursionError:
        _fail(path, '', 'invalid YAML: nested too deeply')


def _version_text(path, where, name, value):
    """A version as the lab file wrote it; an unquoted one is refused, since YAML and JSON read 1.10 as the number 1.1."""
    if isinstance(value, float):
        written = getattr(value, 'text', '') or repr(value)
        read = f' is read as the number {float(value)!r}' if written != repr(float(value)) else ' is a number, not text'
        _fail(path, where, f'{name}: {written}{read}; quote it: {name}: "{written}"')
    return str(value)


def _controller(path, index, entry, used_buses):
    """One controller entry; ``used_buses`` maps each bus taken so far to who has it."""
    where = 'controllers[%d]' % index
    if not isinstance(entry, dict):
        _fail(path, where, f'each controller is a mapping like {{type: triple, order: 1}}, got {entry!r}')
    unknown = sorted(set(entry) - set(CONTROLLER_KEYS), key=str)
    if unknown:
        _fail(path, where, 'unknown key(s) {}; allowed: {}'.format(', '.join(map(str, unknown)), ', '.join(CONTROLLER_KEYS)))
    if 'type' not in entry:
        _fail(path, where, 'type is required (one of {})'.format(', '.join(bt.value for bt in BoardType)))
    try:
        board_type = BoardType.from_name(entry['type'])
    except ValueError as exc:
        _fail(path, where, str(exc))
    spec = BOARD_SPECS[board_type]
    order = _int(path, where, 'order', entry.get('order', 20), 1, 255)
    firmware = _version_text(path, where, 'firmware', entry.get('firmware', spec.newest_firmware))
    try:
        parse_firmware(firmware)
    except ValueError as exc:
        _fail(path, where, str(exc))
    if firmware not in SUPPORTED_FIRMWARE:
        _fail(path, where, 'firmware {} is not emulated; choose one of {}'.format(firmware, ', '.join(SUPPORTED_FIRMWARE)))
    bus = _int(path, where, 'bus', entry.get('bus', FIRST_VIRTUAL_BUS + index), 0, 1023)
    if used_buses.get(bus) == 'hat':
        _fail(
            path, where, "bus %d is the Raspberry Pi's own I2C bus, where this lab's ClusterHAT sits; give this controller another bus (or leave bus out)" % bus
        )
    if bus in used_buses:
        _fail(path, where, 'bus %d is already used by another controller' % bus)
    used_buses[bus] = where
    usb_path = entry.get('usb_path')
    if usb_path is not None and not (isinstance(usb_path, str) and USB_PATH.match(usb_path)):
        _fail(path, where, f'usb_path must be a string like "1-1.3" (root bus, then hub ports), got {usb_path!r}')
    eeprom = entry.get('eeprom', 'factory')
    if eeprom not in ('factory', 'blank'):
        _fail(path, where, f'eeprom must be "factory" or "blank" (all 0xFF), got {eeprom!r}')
    hats = entry.get('hats')
    if board_type is BoardType.DA:
        hats = [0] if hats is None else hats
        if not isinstance(hats, list) or not all(isinstance(h, int) and not isinstance(h, bool) and 0 <= h <= 7 for h in hats):
            _fail(path, where, 'hats must be a list of DA mux ports 0 to 7')
        hats = sorted(set(hats))
    elif hats is not None:
        _fail(path, where, 'hats applies only to a DA')
    adc = entry.get('adc', {})
    if not isinstance(adc, dict):
        _fail(path, where, 'adc must map channel numbers to raw readings (0-1023)')
    channels = [c.channel for c in spec.adc_channels]
    checked_adc = {}
    for channel, raw in adc.items():
        if str(channel) not in [str(c) for c in channels]:
            _fail(path, where, 'the {} has no ADC channel {} (it has: {})'.format(spec.product, channel, ', '.join(map(str, channels)) or 'none'))
        checked_adc[int(channel)] = _int(path, where, 'adc reading', raw, 0, 1023)
    temperature_raw = entry.get('temperature_raw')
    if temperature_raw is not None:
        if not spec.has_temperature:
            _fail(path, where, f'the {spec.product} has no temperature sensor')
        _int(path, where, 'temperature_raw', temperature_raw, 0, 1023)
    faults = entry.get('faults', {})
    if not isinstance(faults, dict):
        _fail(path, where, 'faults must be a mapping')
    if usb_path is not None:
        key = f'{board_type.value}@usb:{usb_path}'
    elif 'bus' in entry:
        key = '%s@bus:%d' % (board_type.value, bus)
    else:
        key = '%s@order:%d' % (board_type.value, order)
    return ControllerConfig(index, board_type, order, firmware, bus, usb_path, eeprom, hats, checked_adc, temperature_raw, faults, key)


def _hat(path, entry):
    where = 'hat'
    if not isinstance(entry, dict):
        _fail(path, where, f'the hat is a mapping like {{version: "2.5"}}, got {entry!r}')
    unknown = sorted(set(entry) - set(HAT_KEYS), key=str)
    if unknown:
        _fail(path, where, 'unknown key(s) {}; allowed: {}'.format(', '.join(map(str, unknown)), ', '.join(HAT_KEYS)))
    version = _version_text(path, where, 'version', entry.get('version', '2.5'))
    try:
        major, _minor = parse_firmware(version)
    except ValueError:
        _fail(path, where, 'version must look like "2.5", got {!r}'.format(entry.get('version')))
    if major == 1:
        _fail(path, where, 'ClusterHAT v1.x (driven by plain GPIO) is not supported; v2.x and v3.x are')
    if major not in (2, 3):
        _fail(path, where, f'version {version} is not a ClusterHAT version (2.x or 3.x)')
    part = entry.get('part', 'xra1200p')
    if part not in HAT_PARTS:
        _fail(path, where, 'part must be one of {}, got {!r}'.format(', '.join(HAT_PARTS), part))
    flags = {}
    for name in ('pos_link_cut', 'wp_link_soldered'):
        flags[name] = entry.get(name, False)
        if not isinstance(flags[name], bool):
            _fail(path, where, f'{name} must be true or false, got {flags[name]!r}')
    size = _int(path, where, 'size', entry.get('size', 4), 1, 4)
    return HatConfig(version, part, flags['pos_link_cut'], flags['wp_link_soldered'], size)


def _check_usb_paths(path, controllers):
    """Two boards never share a USB path, declared or default (a module names a board by it)."""
    owners = {}
    for config in controllers:
        usb_path = config.effective_usb_path
        if usb_path in owners:
            other = owners[usb_path]
            how = 'the default USB path of' if other.usb_path is None else 'already the usb_path of'
            mine = 'usb_path' if config.usb_path is not None else 'its default USB path'
            _fail(path, 'controllers[%d]' % config.index, '%s %s is %s controllers[%d]; give each board its own usb_path' % (mine, usb_path, how, other.index))
        owners[usb_path] = config


def _distinct_keys(controllers):
    """Boards alike in type, bus, USB path and order are told apart by their rank among themselves."""
    seen = {}
    for config in controllers:
        seen[config.key] = seen.get(config.key, 0) + 1
        if seen[config.key] > 1:
            config.key = '%s#%d' % (config.key, seen[config.key])


def load_lab_file(path):
    """Parse and validate a lab file; raise LabError with a precise message on any problem."""
    path = os.path.abspath(os.path.expanduser(path))
    document = _read_document(path)
    if not isinstance(document, dict):
        _fail(path, '', 'the lab file must be a mapping with a "controllers" list')
    unknown = sorted(set(document) - set(TOP_LEVEL_KEYS), key=str)
    if unknown:
        _fail(path, '', 'unknown top-level key(s) {}; allowed: {}'.format(', '.join(map(str, unknown)), ', '.join(TOP_LEVEL_KEYS)))
    entries = document.get('controllers') or []
    if not isinstance(entries, list):
        _fail(path, '', 'controllers must be a list')
    hat = _hat(path, document['hat']) if document.get('hat') is not None else None
    if not entries and hat is None:
        _fail(path, '', 'the lab holds no boards: add a controllers list or a hat')
    used_buses = {HAT_BUS: 'hat'} if hat is not None else {}
    controllers = [_controller(path, index, entry, used_buses) for index, entry in enumerate(entries)]
    _check_usb_paths(path, controllers)
    _distinct_keys(controllers)
    state_file = document.get('state_file')
    if state_file is None:
        state_file = path + '.state.json'
    elif not isinstance(state_file, str):
        _fail(path, '', 'state_file must be a path')
    else:
        state_file = os.path.join(os.path.dirname(path), os.path.expanduser(state_file))
    if os.path.realpath(state_file) == os.path.realpath(path):
        _fail(path, '', 'state_file names the lab file itself; the state needs a file of its own')
    return LabFile(path, controllers, hat, state_file)
