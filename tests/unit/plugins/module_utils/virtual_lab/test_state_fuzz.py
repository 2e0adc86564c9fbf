# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzzing the lab's state file: every damaged state gives a clear LabError and is left byte for byte as it was.

A real state file (a ClusterHAT, a Triple, a Stack, an A+6 and a DA, after some bus traffic) is
damaged in seeded ways: a value of another JSON type at every path (long lists at a few
indexes), then random damage: a field taken away, a field added, the text cut at a random
byte, numbers far out of range, nested garbage, more wrong types. Opening the
lab must fail with a LabError (no other exception, no traceback) and write nothing.
"""

from __future__ import annotations

import json
import os
import random
import traceback

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.driver import ClusterCTRLv2Driver
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.hat import ClusterHATDriver
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.lab_file import LabError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.virtual_lab.store import VirtualLab

LAB = """hat: {version: "2.5"}
controllers:
  - {type: triple, order: 1, usb_path: "1-1.2"}
  - {type: stack, order: 2}
  - {type: aplus6, order: 3, bus: 30}
  - {type: da, order: 4, hats: [0, 2]}
"""
SEED = 20260310
RANDOM_MUTATIONS = 300
# One value of each JSON kind, and garbage; a replacement is always of another kind than the value it replaces.
SAMPLES = [None, True, False, 0, 7, -1, 2.5, '', 'x', [], [1, [2]], {}, {'a': {'b': []}}]


def kind(value):
    for name, test in (
        ('null', lambda v: v is None),
        ('bool', lambda v: isinstance(v, bool)),
        ('int', lambda v: isinstance(v, int)),
        ('float', lambda v: isinstance(v, float)),
        ('str', lambda v: isinstance(v, str)),
        ('list', lambda v: isinstance(v, list)),
        ('dict', lambda v: isinstance(v, dict)),
    ):
        if test(value):
            return name
    raise AssertionError(value)


def paths(value, prefix=()):
    """Every path into the document (long lists only at a few indexes)."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, prefix + (key,))
    elif isinstance(value, list):
        indexes = range(len(value)) if len(value) <= 8 else sorted({0, 1, len(value) // 2, len(value) - 1})
        for index in indexes:
            yield from paths(value[index], prefix + (index,))


def get(document, path):
    for step in path:
        document = document[step]
    return document


def put(document, path, value):
    get(document, path[:-1])[path[-1]] = value


def nested(rng, depth):
    value = rng.choice([[], {}, 'deep'])
    for _level in range(depth):
        value = [value] if rng.random() < 0.5 else {'k': value}
    return value


def wrong_type(rng, text, document, path):
    """The state text with a value of another JSON kind at ``path``."""
    old = get(document, path)
    value = rng.choice([v for v in SAMPLES if kind(v) != kind(old)])
    copy = json.loads(text)
    put(copy, path, value)
    return json.dumps(copy), 'type', f'{path}: {kind(old)} -> {json.dumps(value)[:30]}'


def mutate(rng, text, document, every_path, dict_keys):
    """One damaged copy of the state text, the kind of damage, and where it is."""
    how = rng.choice(['type', 'missing', 'extra', 'truncate', 'huge', 'garbage'])
    if how == 'truncate':
        cut = rng.randrange(len(text))
        return text[:cut], how, 'cut at byte %d' % cut
    copy = json.loads(text)
    if how == 'missing':
        path = rng.choice(dict_keys)
        del get(copy, path[:-1])[path[-1]]
        return json.dumps(copy), how, f'without {path}'
    if how == 'extra':
        path = rng.choice([p for p in every_path if isinstance(get(document, p), dict)])
        get(copy, path)['unexpected_%d' % rng.randrange(100)] = rng.choice(SAMPLES)
        return json.dumps(copy), how, f'extra key in {path}'
    path = rng.choice([p for p in every_path if p])
    old = get(document, path)
    if how == 'huge':
        ints = [p for p in every_path if p and kind(get(document, p)) == 'int']
        path = rng.choice(ints)
        value = rng.choice(['10' * 20, '-1', str(2**64), '1e300', '1e400', '9' * 5000, '-' + '9' * 30])
        marker = '"@@HUGE@@"'
        put(copy, path, '@@HUGE@@')
        return json.dumps(copy).replace(marker, value, 1), how, f'{path} = {value[:12]}...'
    if how == 'type':
        return wrong_type(rng, text, document, path)
    value = nested(rng, rng.randrange(1, 60))
    if kind(value) == kind(old):
        value = [value]
    put(copy, path, value)
    return json.dumps(copy), how, f'{path}: {kind(old)} -> {json.dumps(value)[:30]}'


def real_state(tmp_path):
    lab_path = str(tmp_path / 'lab.yml')
    with open(lab_path, 'w') as handle:
        handle.write(LAB)
    with VirtualLab(lab_path).session() as session:
        ClusterHATDriver(session.hat.smbus, '2.5').power_on(2)
        for controller in session.controllers:
            driver = ClusterCTRLv2Driver(controller.smbus, randomize_factory_order=False)
            driver.power_on(1)
            driver.set_order(driver.order + 10)
            driver.eeprom_save_order()
    with VirtualLab(lab_path).session() as session:  # a board with a boot log, counters, a written EEPROM offset
        session.controllers[0].firmware.reset()
    return lab_path, VirtualLab(lab_path).state_file


def test_damaged_state_files_give_only_clear_lab_errors_and_stay_as_they_are(tmp_path):
    lab_path, state_file = real_state(tmp_path)
    with open(state_file) as handle:
        text = handle.read()
    document = json.loads(text)
    every_path = list(paths(document))
    dict_keys = [p for p in every_path if p and isinstance(get(document, p[:-1]), dict) and p != ('hat',)]
    rng = random.Random(SEED)
    problems, kinds, seen = [], {}, set()
    directory = sorted(os.listdir(str(tmp_path)))
    lab = VirtualLab(lab_path)
    every_type = [wrong_type(rng, text, document, path) for path in every_path if path]
    mutations = every_type + [mutate(rng, text, document, every_path, dict_keys) for _count in range(RANDOM_MUTATIONS)]
    for damaged, damage, how in mutations:
        seen.add(damaged)
        kinds[damage] = kinds.get(damage, 0) + 1
        with open(state_file, 'w') as handle:
            handle.write(damaged)
        try:
            with lab.session():
                problems.append(f'{how}: accepted')
        except LabError as exc:
            message = str(exc)
            if '\n' in message or 'Traceback' in message or not message.startswith(f'virtual lab {lab_path}: '):
                problems.append(f'{how}: unclear message {message!r}')
        except Exception:  # pylint: disable=broad-except
            problems.append(f'{how}: {traceback.format_exc()}')
        with open(state_file) as handle:
            if handle.read() != damaged:
                problems.append(f'{how}: the state file was changed')
        if sorted(os.listdir(str(tmp_path))) != directory:
            problems.append(f'{how}: files changed: {sorted(set(os.listdir(str(tmp_path))) ^ set(directory))}')
    print(
        '\nstate fuzz: %d damaged state files (%d distinct; a wrong type at each of the %d paths, then %d seeded: %s), '
        '%d mishandled'
        % (len(mutations), len(seen), len(every_type), RANDOM_MUTATIONS, ', '.join('%s %d' % item for item in sorted(kinds.items())), len(problems))
    )
    assert not problems, '\n'.join(problems[:20])
    assert len(seen) >= 300 + len(every_type) - 20  # (a few random damages repeat)
