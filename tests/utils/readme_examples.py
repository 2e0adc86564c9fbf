# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run every ```yaml example of README.md and roles/*/README.md, so that an example that breaks fails the build.

Each code block is classified:

``tasks``  a list of tasks: run in a play on ``all`` (localhost);
``play``   a list of plays with ``hosts``: run as written;
``vars``   a mapping of variables (a ``group_vars/<group>.yml`` example): applies to the next tasks or
           play example of the same file, as that group's variables (``all`` when no group is named);
``lab``    a virtual lab file (``hat`` / ``controllers``): ``clusterctrl_info`` reads it;
``inventory`` an inventory file (groups with ``hosts`` / ``children``): not run on its own; it must put
           ``localhost`` in the group ``clusterctrl_controllers`` the roles and playbooks use, with
           ``ansible_connection: local`` and ``ansible_python_interpreter`` set;
``skip``   a counter-example, marked in the block with a comment containing ``not run in CI``.

Every runnable example runs three times, each time with ``ansible-playbook``: ``--check --diff``, then for
real, then for real again. Each run must exit 0; the second real run must report ``changed=0`` unless the
example holds an action that always changes (pulse_ms, cycled, reset, ClusterCTRL LED/alert settings that
cannot be read back, saving the LEDs, ...; found by keywords and named in the output).

The examples run on localhost (``ansible_connection=local``, this Python as the interpreter), which is in
every group the plays name, and against:

* a fresh virtual lab per example, through ``PICLUSTER_VIRTUAL_LAB``: a ClusterHAT v2.5 and ClusterCTRL
  boards of orders 1-4 (p1-p18); an example with ``assign_orders`` also gets new Triples at the factory
  order 20: two when that is all it does (day one), else one (its other tasks refuse boards that share an
  order, in check mode too, before the orders are assigned);
* a mosquitto broker started here (``tests/utils/mosquitto_broker.py start``) and the virtual MQTT
  devices (``virtual_devices``) serving every device id the examples name, through
  ``PICLUSTER_MQTT_HOST`` / ``PICLUSTER_MQTT_PORT``;
* a fake root for the ``controller`` role (its paths are variables; packages are not installed, modprobe
  and udevadm are stand-ins, I2C is already enabled in the boot configuration so that no reboot is due)
  and ``ansible_become: false`` (the examples' ``become: true`` would need sudo).

Variables an example takes from a vault (``vault_*``) get a placeholder value.

``--quick-start`` runs instead the README's "Quick start" section as a newcomer would, from the tarball alone:
it builds the tarball from the checkout into an empty directory outside it, writes there every ```yaml block
whose first line names a file (``# inventory.yml``), and runs every ```sh block in order in one bash
(``set -euo pipefail``), with an empty ``HOME`` (so the collection is installed into an empty collections
path) and none of the collection's or Ansible's environment variables; lines starting with ``sudo`` (system
packages: mosquitto, which tools/setup.sh installs) are skipped and listed. It fails unless every command
succeeds and the last run of the playbook reports ``changed=0``.

Usage: readme_examples.py [--root DIR] [--collections DIR] [--work DIR] [--jobs N] [--only FILE:LINE] [--list] [--keep]
       readme_examples.py --quick-start [--root DIR] [--work DIR] [--keep]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))

FENCE = re.compile(r'^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$')
SKIP_MARKER = re.compile(r'#\s*(?P<note>.*\bnot run in CI\b.*)$', re.M)
GROUP_VARS_COMMENT = re.compile(r'#\s*(?:\S*/)?group_vars/(?P<group>[\w-]+)\.ya?ml\b')
VAULT_VARIABLE = re.compile(r'\{\{\s*(vault_\w+)')
MQTT_MODULES = ('mqtt_pins', 'mqtt_pins_info')
LAB_KEYS = {'hat', 'controllers'}
INVENTORY_GROUP = 'clusterctrl_controllers'
INVENTORY_KEYS = {'hosts', 'children', 'vars'}

# Keywords of actions that report a change on every run, so the second real run may change something.
ALWAYS_CHANGES = [
    (re.compile(r'\bpulse_ms\s*:'), 'pulse_ms (a pulse is an action)'),
    (re.compile(r'\bstate\s*:\s*["\']?cycled\b'), 'state: cycled'),
    (re.compile(r'\bhub\s*:\s*["\']?cycled\b'), 'hub: cycled'),
    (re.compile(r'\breset\s*:\s*(?:true|yes)\b', re.I), 'reset: true'),
    (re.compile(r'\b(?:alert|power_led|leds|act_led)\s*:\s*["\']?(?:on|off|true|false)\b'), 'a ClusterCTRL LED/alert setting (cannot be read back)'),
    (re.compile(r'\bsave\s*:.*\bleds\b'), 'save: [leds] (LED enables cannot be read back)'),
    (re.compile(r'\bforce\s*:\s*(?:true|yes)\b', re.I), 'force: true'),
    (re.compile(r'\bansible\.builtin\.(?:command|shell|raw)\b'), 'a command (always changed)'),
]

# The lab every example runs against (a fresh copy each): p1-p4 on the HAT, p5-p7 on the Triple (USB boot),
# p8-p12 on the Stack, p13-p17 on the A+6, p18 on the Single (USB boot).
BASE_LAB = {
    'hat': {'version': '2.5'},
    'controllers': [
        {'type': 'triple', 'order': 1},
        {'type': 'stack', 'order': 2},
        {'type': 'aplus6', 'order': 3},
        {'type': 'single', 'order': 4},
    ],
}
# New boards, still at the factory order 20 (no order given), for examples that give boards their orders.
FACTORY_BOARDS = [{'type': 'triple', 'usb_path': '1-1.3'}, {'type': 'triple', 'usb_path': '1-1.2'}]
DEFAULT_DEVICES = ['dev000', 'dev001', 'dev002']
RUN_TIMEOUT = 300
RECAP = re.compile(
    r'^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+'
    r'failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)'
)
TASK_HEADER = re.compile(r'^(?:TASK|RUNNING HANDLER) \[(?P<name>.*)\] \**$')


@dataclass
class Example:
    """One ```yaml code block of a README."""

    path: str  # relative to the root
    line: int  # line of the opening fence
    text: str
    kind: str = ''  # tasks, play, vars, lab, skip, invalid
    data: object = None
    note: str = ''
    group: str = 'all'  # vars: the group they belong to
    vars_example: Example | None = None  # tasks/play: the vars example that applies
    always_changes: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f'{self.path}:{self.line}'

    @property
    def runnable(self) -> bool:
        return self.kind in ('tasks', 'play', 'lab')


@dataclass
class RunResult:
    name: str
    ok: bool
    rc: int | None
    changed: int | None
    seconds: float
    log: str
    problem: str = ''
    changed_tasks: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.ok:
            return f'{self.name} ok (changed={self.changed})'
        return f'{self.name} FAILED ({self.problem})'


@dataclass
class ExampleResult:
    example: Example
    runs: list[RunResult]
    passed: bool
    seconds: float
    note: str = ''


def readme_files(root: str) -> list[str]:
    """README.md and every role's README.md, relative to ``root``."""
    files = ['README.md'] if os.path.isfile(os.path.join(root, 'README.md')) else []
    roles = os.path.join(root, 'roles')
    if os.path.isdir(roles):
        for role in sorted(os.listdir(roles)):
            if os.path.isfile(os.path.join(roles, role, 'README.md')):
                files.append(f'roles/{role}/README.md')
    return files


def extract_examples(root: str, path: str) -> list[Example]:
    """Every ```yaml / ```yml code block of one Markdown file."""
    with open(os.path.join(root, path), encoding='utf-8') as handle:
        lines = handle.read().splitlines()
    examples, index = [], 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if not match or not match.group('lang'):
            index += 1
            continue
        start, indent, lang = index, match.group('indent'), match.group('lang').lower()
        index += 1
        body = []
        while index < len(lines) and not re.match(r'^\s*```\s*$', lines[index]):
            body.append(lines[index].removeprefix(indent) if lines[index].startswith(indent) else lines[index].lstrip())
            index += 1
        index += 1
        if lang in ('yaml', 'yml'):
            examples.append(Example(path=path, line=start + 1, text='\n'.join(body) + '\n'))
    return examples


def classify(examples: list[Example]) -> None:
    """Set each example's kind; attach vars examples to the next tasks/play example of the same file."""
    pending: Example | None = None
    for example in examples:
        marker = SKIP_MARKER.search(example.text)
        if marker:
            example.kind, example.note = 'skip', marker.group('note').strip()
            continue
        try:
            example.data = yaml.safe_load(example.text)
        except yaml.YAMLError as exc:
            example.kind, example.note = 'invalid', 'not valid YAML: ' + ' '.join(str(exc).split())
            continue
        data = example.data
        if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
            if all('hosts' in item or 'import_playbook' in item or 'ansible.builtin.import_playbook' in item for item in data):
                example.kind = 'play'
            elif any('hosts' in item for item in data):
                example.kind, example.note = 'invalid', 'a list mixing plays (with hosts) and tasks'
            else:
                example.kind = 'tasks'
        elif isinstance(data, dict) and data and 'controllers' in data and set(data) <= LAB_KEYS:
            example.kind = 'lab'
        elif is_inventory(data):
            problem = inventory_problem(data)
            example.kind, example.note = ('invalid', problem) if problem else ('inventory', 'an inventory file')
        elif isinstance(data, dict) and data:
            example.kind = 'vars'
            comment = GROUP_VARS_COMMENT.search(example.text)
            example.group = comment.group('group') if comment else 'all'
        else:
            example.kind, example.note = 'invalid', 'neither tasks, plays, variables nor a lab file'
        if example.kind == 'vars':
            if pending is not None:
                pending.note = f'followed by another variables example ({example.where}) before any play or task'
                pending.kind = 'invalid'
            pending = example
        elif example.kind in ('tasks', 'play') and pending is not None:
            example.vars_example = pending
            pending.note = f'applies to {example.where} (group {pending.group})'
            pending = None
        if example.runnable:
            example.always_changes = [reason for pattern, reason in ALWAYS_CHANGES if pattern.search(example.text)]
    if pending is not None:
        pending.kind, pending.note = 'invalid', 'a variables example that no play or task example follows'


def is_inventory(data) -> bool:
    """A YAML inventory: a mapping of groups, each a mapping with hosts, children or vars."""
    return isinstance(data, dict) and bool(data) and all(isinstance(group, dict) and group and set(group) <= INVENTORY_KEYS for group in data.values())


def inventory_problem(data: dict) -> str:
    """What an inventory example lacks for the quick start on this machine, or ''."""
    group = data.get(INVENTORY_GROUP)
    if not isinstance(group, dict) or not isinstance(group.get('hosts'), dict) or 'localhost' not in group['hosts']:
        return f'an inventory without localhost in the group {INVENTORY_GROUP}'
    host = group['hosts']['localhost'] or {}
    if host.get('ansible_connection') != 'local' or not host.get('ansible_python_interpreter'):
        return 'an inventory whose localhost lacks ansible_connection: local or ansible_python_interpreter'
    return ''


def _walk(data):
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _walk(value)
    elif isinstance(data, list):
        for value in data:
            yield from _walk(value)


def mqtt_device_ids(examples: list[Example]) -> list[str]:
    """Device ids the MQTT tasks of the examples name (literal ids only)."""
    ids = set()
    for example in examples:
        if not example.runnable:
            continue
        for mapping in _walk(example.data):
            for key, args in mapping.items():
                if not isinstance(key, str) or key.rsplit('.', 1)[-1] not in MQTT_MODULES or not isinstance(args, dict):
                    continue
                devices = args.get('devices')
                for device in devices if isinstance(devices, list) else []:
                    device_id = device.get('id') if isinstance(device, dict) else device
                    if isinstance(device_id, str) and re.fullmatch(r'\w+', device_id):
                        ids.add(device_id)
    return sorted(ids)


def uses_mqtt(example: Example) -> bool:
    return any(re.search(rf'\b{module}\s*:', example.text) for module in MQTT_MODULES)


def play_groups(example: Example) -> list[str]:
    """Group names the example's plays target (patterns reduced to their plain names)."""
    groups = set()
    if example.kind == 'play':
        for play in example.data:
            hosts = play.get('hosts', [])
            for item in hosts if isinstance(hosts, list) else [hosts]:
                for name in re.split(r'[,:]', str(item)):
                    name = name.strip().lstrip('!&')
                    if re.fullmatch(r'[A-Za-z_][\w-]*', name) and name not in ('all', 'localhost', 'ungrouped'):
                        groups.add(name)
    if example.vars_example is not None and example.vars_example.group != 'all':
        groups.add(example.vars_example.group)
    return sorted(groups)


def clusterctrl_tasks(example: Example) -> list[dict]:
    """The arguments of every clusterctrl module task of the example."""
    found = []
    for mapping in _walk(example.data):
        for key, args in mapping.items():
            if isinstance(key, str) and re.fullmatch(r'(?:picluster\.clusterctrl\.)?clusterctrl_\w+', key):
                found.append(args if isinstance(args, dict) else {})
    return found


def factory_boards(example: Example) -> list[dict]:
    """Boards at the factory order for an example that assigns orders: two new Triples when that is all the
    example does (day one), else one (two would share an order, which its other tasks refuse, in check mode too)."""
    tasks = clusterctrl_tasks(example)
    assigning = [args for args in tasks if args.get('assign_orders')]
    if not assigning:
        return []
    count = len(FACTORY_BOARDS) if len(assigning) == len(tasks) else 1
    return [dict(board) for board in FACTORY_BOARDS[:count]]


def example_lab(example: Example) -> dict:
    lab = json.loads(json.dumps(BASE_LAB))
    lab['controllers'].extend(factory_boards(example))
    return lab


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)


def fake_root(directory: str) -> dict[str, object]:
    """A Raspberry Pi's files for the controller role (I2C already on), and its variables pointing there."""
    for sub in ('boot/firmware', 'etc/modules-load.d', 'etc/udev/rules.d', 'etc/default', 'bin'):
        os.makedirs(os.path.join(directory, sub), exist_ok=True)
    _write(
        os.path.join(directory, 'boot/firmware/config.txt'),
        '# For more options and information see\n# http://rptl.io/configtxt\ndtparam=i2c_arm=on\ndtparam=audio=on\n'
        'camera_auto_detect=1\n\n[cm4]\notg_mode=1\n\n[all]\n',
    )
    log = os.path.join(directory, 'commands.log')
    for tool in ('modprobe', 'udevadm'):
        stand_in = os.path.join(directory, 'bin', tool)
        _write(stand_in, f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        os.chmod(stand_in, 0o755)
    return {
        'clusterctrl_controller_install_packages': False,
        'clusterctrl_controller_boot_config_candidates': [os.path.join(directory, 'boot/firmware/config.txt'), os.path.join(directory, 'boot/config.txt')],
        'clusterctrl_controller_modules_load_dir': os.path.join(directory, 'etc/modules-load.d'),
        'clusterctrl_controller_udev_rules_dir': os.path.join(directory, 'etc/udev/rules.d'),
        'clusterctrl_controller_defaults_file': os.path.join(directory, 'etc/default/clusterctrl'),
        'clusterctrl_controller_modprobe': os.path.join(directory, 'bin/modprobe'),
        'clusterctrl_controller_udevadm': os.path.join(directory, 'bin/udevadm'),
    }


def prepare(example: Example, directory: str) -> tuple[str, str, dict[str, str]]:
    """Write the example's playbook, inventory (with its variables example), lab and fake root.

    Returns the playbook path, the inventory path and the extra environment."""
    os.makedirs(directory, exist_ok=True)
    lab_path = os.path.join(directory, 'lab.yml')
    if example.kind == 'lab':
        _write(lab_path, example.text)
    else:
        _write(lab_path, yaml.safe_dump(example_lab(example), sort_keys=False))
    playbook = os.path.join(directory, 'playbook.yml')
    if example.kind == 'play':
        _write(playbook, example.text)
    else:
        if example.kind == 'lab':
            tasks = textwrap.dedent("""\
                - name: Read every board of the lab
                  picluster.clusterctrl.clusterctrl_info:
                  register: lab_info

                - name: Show the lab
                  ansible.builtin.debug:
                    msg: "{{ lab_info | picluster.clusterctrl.status_table }}"
                """)
        else:
            tasks = example.text
        _write(playbook, f'- name: "{example.where}"\n  hosts: all\n  gather_facts: false\n  tasks:\n' + textwrap.indent(tasks, '    '))
    host_vars = {
        'ansible_connection': 'local',
        'ansible_python_interpreter': sys.executable,
        # The examples' become: true needs sudo; here everything runs as the user running the tests.
        'ansible_become': False,
    }
    all_vars = fake_root(os.path.join(directory, 'root'))
    for name in sorted(set(VAULT_VARIABLE.findall(example.text))):
        all_vars[name] = f'placeholder-for-{name}'
    inventory = {
        'all': {'hosts': {'localhost': host_vars}, 'vars': all_vars, 'children': {group: {'hosts': {'localhost': None}} for group in play_groups(example)}}
    }
    inventory_path = os.path.join(directory, 'inventory', 'hosts.yml')
    _write(inventory_path, yaml.safe_dump(inventory, sort_keys=False))
    if example.vars_example is not None:
        _write(os.path.join(directory, 'inventory', 'group_vars', f'{example.vars_example.group}.yml'), example.vars_example.text)
    return playbook, inventory_path, {'PICLUSTER_VIRTUAL_LAB': lab_path}


def ansible_playbook() -> str:
    beside = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    return beside if os.access(beside, os.X_OK) else (shutil.which('ansible-playbook') or 'ansible-playbook')


def parse_output(output: str) -> tuple[dict[str, int] | None, list[str]]:
    """The PLAY RECAP counts summed over hosts, and the tasks that reported a change."""
    totals: dict[str, int] | None = None
    changed, task = [], ''
    for line in output.splitlines():
        header = TASK_HEADER.match(line)
        if header:
            task = header.group('name')
            continue
        if line.startswith('changed: ['):
            changed.append(task)
        recap = RECAP.match(line)
        if recap:
            totals = totals or {}
            for key, value in recap.groupdict().items():
                if key != 'host':
                    totals[key] = totals.get(key, 0) + int(value)
    return totals, changed


# ansible-playbook processes running now, terminated when the script is interrupted.
_RUNNING: dict[int, subprocess.Popen] = {}
_STOPPING = threading.Event()
_RUNNING_LOCK = threading.Lock()


def terminate_running() -> None:
    """Stop every ansible-playbook still running (SIGTERM, then SIGKILL) and start no new one."""
    with _RUNNING_LOCK:
        _STOPPING.set()
    for process in list(_RUNNING.values()):
        if process.poll() is None:
            process.terminate()
    for process in list(_RUNNING.values()):
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def run_playbook(name: str, args: list[str], env: dict[str, str], log_path: str, expect_unchanged: bool) -> RunResult:
    started = time.monotonic()
    with _RUNNING_LOCK:
        if _STOPPING.is_set():
            return RunResult(name, False, None, None, 0.0, log_path, problem='interrupted')
        process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, universal_newlines=True)
        _RUNNING[process.pid] = process
    try:
        output, _unused = process.communicate(timeout=RUN_TIMEOUT)
        rc: int | None = process.returncode
    except subprocess.TimeoutExpired:
        process.kill()
        output, _unused = process.communicate()
        rc = None
    finally:
        _RUNNING.pop(process.pid, None)
    _write(log_path, output)
    seconds = time.monotonic() - started
    totals, changed_tasks = parse_output(output)
    result = RunResult(name, False, rc, totals['changed'] if totals else None, seconds, log_path, changed_tasks=changed_tasks)
    if rc is None:
        result.problem = f'timed out after {RUN_TIMEOUT} s'
    elif rc != 0:
        result.problem = f'exit code {rc}'
    elif totals is None:
        result.problem = 'no PLAY RECAP'
    elif totals['ok'] == 0:
        result.problem = 'no task ran'
    elif expect_unchanged and totals['changed']:
        result.problem = f'changed={totals["changed"]} on the second run: {", ".join(changed_tasks) or "?"}'
    else:
        result.ok = True
    return result


# The MQTT examples share the virtual devices: one at a time, so that none changes another's pins between its runs.
_MQTT_LOCK = threading.Lock()


def run_example(example: Example, directory: str, base_env: dict[str, str]) -> ExampleResult:
    if uses_mqtt(example):
        with _MQTT_LOCK:
            return _run_example(example, directory, base_env)
    return _run_example(example, directory, base_env)


def _run_example(example: Example, directory: str, base_env: dict[str, str]) -> ExampleResult:
    started = time.monotonic()
    playbook, inventory, extra_env = prepare(example, directory)
    env = dict(base_env, **extra_env)
    env['ANSIBLE_LOCAL_TEMP'] = os.path.join(directory, 'ansible-tmp')
    # Facts gathered once per example (by the check run), not three times: a second or so per run.
    env.update(
        {
            'ANSIBLE_GATHERING': 'smart',
            'ANSIBLE_CACHE_PLUGIN': 'ansible.builtin.jsonfile',
            'ANSIBLE_CACHE_PLUGIN_CONNECTION': os.path.join(directory, 'facts'),
            'ANSIBLE_CACHE_PLUGIN_TIMEOUT': '3600',
        }
    )
    command = [ansible_playbook(), '-i', inventory, playbook]
    runs = []
    plan = [('check', ['--check', '--diff'], False), ('run', [], False), ('rerun', [], not example.always_changes)]
    for name, options, expect_unchanged in plan:
        result = run_playbook(name, command + options, env, os.path.join(directory, f'{name}.log'), expect_unchanged)
        runs.append(result)
        if not result.ok:
            break
    passed = len(runs) == len(plan) and all(run.ok for run in runs)
    note = ''
    if example.always_changes:
        note = 'may change on every run: ' + '; '.join(example.always_changes)
    if example.vars_example is not None:
        note = (note + '; ' if note else '') + f'with the variables of {example.vars_example.where}'
    return ExampleResult(example, runs, passed, time.monotonic() - started, note)


def estimated_cost(example: Example) -> int:
    """A rough measure of how long an example runs: its tasks, a role counting as many."""
    cost = 0
    for mapping in _walk(example.data):
        cost += 10 * len(mapping.get('roles') or []) if isinstance(mapping.get('roles'), list) else 0
        cost += 1 if 'name' in mapping or any(isinstance(key, str) and '.' in key for key in mapping) else 0
    return cost


def _tail(path: str, lines: int = 40) -> str:
    try:
        with open(path, encoding='utf-8', errors='replace') as handle:
            return ''.join(handle.readlines()[-lines:])
    except OSError:
        return ''


class Services:
    """The mosquitto broker (tests/utils/mosquitto_broker.py start/stop) and the virtual MQTT devices."""

    def __init__(self, directory: str, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.broker_dir = os.path.join(directory, 'broker')
        self.devices: subprocess.Popen | None = None
        self.broker: dict | None = None

    def start(self, device_ids: list[str], duration: float) -> dict[str, str]:
        info_path = os.path.join(self.directory, 'broker.json')
        subprocess.run(
            [sys.executable, os.path.join(HERE, 'mosquitto_broker.py'), 'start', '--dir', self.broker_dir, '--json', info_path],
            check=True,
            stdout=subprocess.DEVNULL,
            env=self.env,
            timeout=60,
        )
        with open(info_path) as handle:
            self.broker = json.load(handle)
        host, port = self.broker.get('host', '127.0.0.1'), str(self.broker['port'])
        ready = os.path.join(self.directory, 'devices.ready')
        with open(os.path.join(self.directory, 'devices.log'), 'w') as log:
            # --duration: devices orphaned by a killed harness do not run for ever.
            self.devices = subprocess.Popen(
                [
                    sys.executable,
                    '-m',
                    'ansible_collections.picluster.clusterctrl.plugins.module_utils.mqtt.virtual_devices',
                    '--host',
                    host,
                    '--port',
                    port,
                    '--ids',
                ]
                + device_ids
                + ['--ready-file', ready, '--duration', str(duration)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.devices.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f'the virtual devices did not start: {_tail(os.path.join(self.directory, "devices.log"))}')
            time.sleep(0.05)
        return {'PICLUSTER_MQTT_HOST': host, 'PICLUSTER_MQTT_PORT': port}

    def stop(self) -> None:
        if self.devices is not None:
            if self.devices.poll() is None:
                self.devices.terminate()
                try:
                    self.devices.wait(10)
                except subprocess.TimeoutExpired:
                    self.devices.kill()
                    self.devices.wait(10)
            self.devices = None
        if self.broker is not None:
            subprocess.run(
                [sys.executable, os.path.join(HERE, 'mosquitto_broker.py'), 'stop', '--dir', self.broker_dir],
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env,
                timeout=60,
            )
            self.broker = None


QUICK_START_FILE = re.compile(r'^#\s*(?P<name>[\w.-]+\.ya?ml)\b')
# Variables that would let the quick start use something other than what it installs itself.
QUICK_START_UNSET = ('ANSIBLE_', 'PICLUSTER_', 'PYTHONPATH', 'VIRTUAL_ENV', 'PIP_REQUIRE_VIRTUALENV')


def quick_start_steps(root: str) -> tuple[dict[str, str], str, list[str]]:
    """The files (name -> text), the shell script and the skipped ``sudo`` lines of README.md's quick start."""
    with open(os.path.join(root, 'README.md'), encoding='utf-8') as handle:
        text = handle.read()
    if '\n## Quick start' not in text:
        raise ValueError('README.md has no "## Quick start" section')
    section = text.split('\n## Quick start', 1)[1].split('\n## ', 1)[0]
    files, script, skipped = {}, [], []
    for lang, body in re.findall(r'^```(\w+)\n(.*?)^```', section, re.M | re.S):
        named = QUICK_START_FILE.match(body)
        if lang in ('yaml', 'yml') and named:
            files[named.group('name')] = body
        elif lang in ('sh', 'bash', 'console'):
            for line in body.splitlines():
                (skipped if line.lstrip().startswith('sudo ') else script).append(line)
    return files, '\n'.join(script) + '\n', skipped


def run_quick_start(root: str, work: str) -> int:
    """Build the tarball, then run the quick start verbatim in ``work``; 0 when it converged and re-ran unchanged."""
    files, script, skipped = quick_start_steps(root)
    where, home = os.path.join(work, 'quick-start'), os.path.join(work, 'home')
    os.makedirs(where)
    os.makedirs(home)
    galaxy = os.path.join(os.path.dirname(ansible_playbook()), 'ansible-galaxy')
    subprocess.run(
        [galaxy if os.access(galaxy, os.X_OK) else 'ansible-galaxy', 'collection', 'build', '--output-path', where, root],
        check=True,
        cwd=work,
        stdout=subprocess.DEVNULL,
        timeout=RUN_TIMEOUT,
    )
    for name, text in files.items():
        _write(os.path.join(where, name), text)
    print(f'quick start in {where}: files {", ".join(sorted(files))}; skipped (system packages): {skipped or "none"}')
    env = {name: value for name, value in os.environ.items() if not name.startswith(QUICK_START_UNSET)}
    env['HOME'] = home
    # A PATH without this checkout's virtual environments: the quick start makes its own.
    env['PATH'] = os.pathsep.join(
        part for part in env.get('PATH', '').split(os.pathsep) if not os.path.abspath(part).startswith(os.path.abspath(root) + os.sep)
    )
    log_path = os.path.join(work, 'quick-start.log')
    with open(log_path, 'w', encoding='utf-8') as log:
        process = subprocess.run(
            ['bash', '-euxo', 'pipefail', '-c', script],
            cwd=where,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=3 * RUN_TIMEOUT,
            check=False,
        )
    with open(log_path, encoding='utf-8') as handle:
        output = handle.read()
    recaps = [match.group('changed') for match in map(RECAP.match, output.splitlines()) if match]
    print(_tail(log_path, 60))
    if process.returncode != 0:
        print(f'the quick start FAILED (exit code {process.returncode}); log {log_path}')
        return 1
    if not recaps or recaps[-1] != '0':
        print(f'the quick start FAILED: its last playbook run reported changed={recaps[-1] if recaps else "?"}; log {log_path}')
        return 1
    print(f'the quick start passed: {len(recaps)} playbook runs, the last one changed=0')
    return 0


def collections_path(option: str | None) -> str:
    """The directory holding ansible_collections/: the option, else ANSIBLE_COLLECTIONS_PATH, else this checkout's."""
    if option:
        return os.path.abspath(option)
    for var in ('ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_COLLECTIONS_PATHS'):
        if os.environ.get(var):
            return os.environ[var]
    return os.path.normpath(os.path.join(DEFAULT_ROOT, '..', '..', '..'))


def format_line(result: ExampleResult) -> str:
    example = result.example
    runs = '  '.join(run.summary() for run in result.runs)
    verdict = 'passed' if result.passed else 'FAILED'
    line = f'{example.where:<32} {example.kind:<9} {runs}  {verdict} ({result.seconds:.1f} s)'
    return line + (f'  [{result.note}]' if result.note else '')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--root', default=DEFAULT_ROOT, help='the collection checkout whose READMEs are run (default: %(default)s)')
    parser.add_argument(
        '--collections',
        help='directory holding ansible_collections/ with picluster.clusterctrl (default: ANSIBLE_COLLECTIONS_PATH, else the one above the checkout)',
    )
    parser.add_argument(
        '--work', help='directory for labs, playbooks, logs and the broker (default: a temporary one, removed unless an example fails or --keep)'
    )
    # One more than the cores: the runs also wait (power-on delays, pulses, broker round trips).
    parser.add_argument('--jobs', type=int, default=min(4, (os.cpu_count() or 1) + 1), help='examples run at once (default: %(default)s)')
    parser.add_argument('--only', action='append', default=[], metavar='FILE:LINE', help='run only this example (repeatable)')
    parser.add_argument('--list', action='store_true', help='only list the examples and their kinds')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    parser.add_argument('--quick-start', action='store_true', help="run README.md's quick start from a freshly built tarball instead")
    args = parser.parse_args(argv)

    root = os.path.abspath(args.root)
    if args.quick_start:
        work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix='readme-quick-start-')
        if args.work:
            shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work, exist_ok=True)
        status = run_quick_start(root, work)
        if status == 0 and not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)
        return status
    examples: list[Example] = []
    for path in readme_files(root):
        file_examples = extract_examples(root, path)
        classify(file_examples)
        examples.extend(file_examples)
    if not examples:
        print(f'no ```yaml example found in the READMEs of {root}')
        return 1

    if args.list:
        for example in examples:
            extra = f'  [{"; ".join(example.always_changes)}]' if example.always_changes else ''
            print(f'{example.where:<32} {example.kind:<9} {example.note}{extra}')
        return 0

    selected = [example for example in examples if not args.only or example.where in args.only]
    collections = collections_path(args.collections)
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix='readme-examples-')
    if args.work:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ)
    env.update(
        {
            'ANSIBLE_COLLECTIONS_PATH': collections,
            'PYTHONPATH': os.pathsep.join(filter(None, [collections, os.environ.get('PYTHONPATH')])),
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_RETRY_FILES_ENABLED': '0',
            'ANSIBLE_HOST_KEY_CHECKING': '0',
            'ANSIBLE_STDOUT_CALLBACK': 'default',
            'ANSIBLE_CALLBACK_RESULT_FORMAT': 'yaml',
        }
    )
    for name in (
        'PICLUSTER_VIRTUAL_LAB',
        'PICLUSTER_MQTT_HOST',
        'PICLUSTER_MQTT_PORT',
        'PICLUSTER_MQTT_USERNAME',
        'PICLUSTER_MQTT_PASSWORD',
        'PICLUSTER_MQTT_TOPIC_PREFIX',
        'ANSIBLE_CONFIG',
        'ANSIBLE_INVENTORY',
    ):
        env.pop(name, None)

    lab_pis = 4 + sum({'triple': 3, 'stack': 5, 'aplus6': 5, 'single': 1}[board['type']] for board in BASE_LAB['controllers'])
    print(f'README examples of {root}, collection from {collections}')
    print(
        f'lab per example: ClusterHAT v{BASE_LAB["hat"]["version"]} + '
        + ', '.join(f'{board["type"]} order {board["order"]}' for board in BASE_LAB['controllers'])
        + f' (p1-p{lab_pis}); examples with assign_orders also get Triples at the factory order 20 '
        + '(two when that is all they do, else one)'
    )

    # A SIGTERM (a CI timeout) stops the running playbooks, the broker and the devices too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    services = Services(work, env)
    results: list[ExampleResult] = []
    failed_setup = False
    started = time.monotonic()
    runnable = [example for example in selected if example.runnable]
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs))
    try:
        if any(uses_mqtt(example) for example in runnable):
            device_ids = mqtt_device_ids(runnable) or DEFAULT_DEVICES
            try:
                env.update(services.start(device_ids, duration=3600))
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                print(f'starting mosquitto and the virtual MQTT devices failed: {exc}')
                failed_setup = True
            else:
                print(f'mosquitto on {env["PICLUSTER_MQTT_HOST"]}:{env["PICLUSTER_MQTT_PORT"]}, virtual devices: {" ".join(device_ids)}')
        futures = {}
        directories = {}
        for number, example in enumerate(runnable, 1):
            slug = re.sub(r'[^\w.-]+', '_', example.path.replace('/README.md', '').replace('README.md', 'README'))
            directories[example.where] = os.path.join(work, f'{number:02d}-{slug}-{example.line}')
        # The longest examples (roles run many tasks) first, so that none is left running alone at the end.
        for example in sorted(runnable if not failed_setup else [], key=estimated_cost, reverse=True):
            futures[example.where] = pool.submit(run_example, example, directories[example.where], env)
        for example in selected if not failed_setup else []:
            if example.runnable:
                result = futures[example.where].result()
                results.append(result)
                print(format_line(result), flush=True)
                if not result.passed:
                    failing = result.runs[-1]
                    print(textwrap.indent(f'--- last lines of {failing.log}\n{_tail(failing.log)}', '    '), flush=True)
            elif example.kind == 'invalid':
                results.append(ExampleResult(example, [], False, 0.0, example.note))
                print(f'{example.where:<32} {"?":<9} FAILED ({example.note})', flush=True)
            else:
                print(f'{example.where:<32} {example.kind:<9} not run: {example.note}', flush=True)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        terminate_running()
        pool.shutdown(wait=True)
        services.stop()

    passed = sum(1 for result in results if result.passed)
    failed = len(results) - passed + (1 if failed_setup else 0)
    not_run = [example for example in selected if example.kind in ('vars', 'skip', 'inventory')]
    print(
        f'{len(selected)} yaml examples: {len(runnable)} run, {len(not_run)} not run on their own '
        f'(variables for the next example, inventories, counter-examples), in {time.monotonic() - started:.0f} s (work directory {work})'
    )
    if failed == 0 and not args.keep and not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
