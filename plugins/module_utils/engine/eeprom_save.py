# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: plan EEPROM saves, written only when the saved image would change. Not a public API.

Used by clusterctrl_eeprom and clusterctrl_cluster. The image of an item is what the board will
hold in RAM once the steps planned before the save are done (``Plan.expected``): a save planned
after power changes saves the planned power image, in check mode too. SAVE commands are never
retried once they may have reached the board (the driver's once-only rule); the record then says
``unknown`` for what such a save covered, and the next run writes it again.
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils._eeprom_record import DEFAULT_RECORD, Record, board_key
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.eeprom import (
    SAVE_METHODS,
    UNKNOWABLE,
    factory_image,
    items_for,
)
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.plan import TAKEN, UNCERTAIN, Item, Plan, Step

COMMAND_NAMES = {'order': 'SAVEORDER', 'leds': 'SAVELED', 'power': 'SAVEPOS', 'usbboot': 'SAVEUSBBOOT', 'all': 'SAVE', 'factory': 'SAVEDEFAULTS'}


def led_image(plan: Plan, board):
    """The LED enables a save would write, known only when this plan sets every LED the board has.

    Single and pHAT firmware ignores enabling the LED of a Pi that is off (spec §3), so there the
    per-Pi LED bits are never known.
    """
    spec = board.driver.spec
    names = ['power_led'] + (['leds'] if spec.has_pi_leds else []) + (['act_led'] if spec.has_act_led else [])
    values = {name: plan.expected(board, name) for name in names}
    if any(value is None for value in values.values()) or (spec.has_pi_leds and spec.gpio == 'D'):
        return UNKNOWABLE
    return values


def expected_image(plan: Plan, board, items) -> dict:
    """What saving ``items`` would write once the plan's earlier steps are done."""
    driver = board.driver
    image = {}
    for item in items:
        if item == 'order':
            image[item] = plan.expected(board, 'order', read=lambda: driver.order)
        elif item == 'power':
            image[item] = [plan.expected(board, 'power', slot, read=lambda s=slot: driver.power_status(s)) for slot in range(1, driver.maxpi + 1)]
        elif item == 'usbboot':
            image[item] = [plan.expected(board, 'usbboot', slot, read=lambda s=slot: driver.usbboot_status(s)) for slot in range(1, driver.maxpi + 1)]
        else:
            image[item] = led_image(plan, board)
    return image


def plan_save(
    plan: Plan, board, saved: dict, requested, *, force=False, factory=False, unknown_writes=True, fields=None, group='controllers', path=None
) -> Item:
    """An item for ``board``'s saved image and the save commands that bring it there.

    ``saved`` is the record's image of the board. An item whose image cannot be known (the LEDs)
    is written when named explicitly (``unknown_writes``), never on its own account inside ``all``
    otherwise. ``factory`` plans SAVEDEFAULTS instead.
    """
    driver = board.driver
    if factory:
        image = factory_image(driver)
        names = ['factory']
        write = names if force or any(saved.get(name) != value for name, value in image.items()) else []
        saves = write
    else:
        names = items_for(driver, requested)
        image = expected_image(plan, board, names)
        explicit_unknown = unknown_writes or 'all' not in requested

        def needed(name):
            if image[name] == UNKNOWABLE:
                return explicit_unknown
            return saved.get(name) != image[name]

        write = [name for name in names if force or needed(name)]
        saves = ['all'] if len(write) > 1 and write == items_for(driver, ['all']) else write  # SAVE writes them all in one command
    label = (fields or {}).get('key') or str(board.controller_id)
    item = plan.add_item(
        group,
        Item(
            name=label,
            setting='image',
            before=dict(saved),
            fields=dict(fields or {}, written=list(write), unchanged=[name for name in names if name not in write]),
            diff_path=path(label) if path else None,
        ),
    )
    cumulative = dict(saved)
    covers_per_step = item.notes.setdefault('covers', [])
    for save in saves:
        covers = list(image) if save in ('all', 'factory') else [save]
        cumulative = dict(cumulative, **{name: image[name] for name in covers})
        # An action when nothing was compared to plan it (force, or an image that cannot be known): every run sends it.
        action = force or any(image[name] == UNKNOWABLE and name in write for name in covers)
        plan.add_step(Step(item, cumulative, getattr(driver, SAVE_METHODS[save]), [COMMAND_NAMES[save]], board, action=action))
        covers_per_step.append((save, covers))
    return item


def record_outcome(item: Item) -> dict:
    """What the record should now hold for the item's board: taken saves as saved, uncertain ones ``unknown``.

    Also sets the item's ``written`` field to what was (or may have been) written.
    """
    update, written = {}, []
    for step, (save, covers) in zip(item.steps, item.notes.get('covers', [])):
        if step.status == TAKEN:
            update.update({name: step.after[name] for name in covers})
        elif step.status == UNCERTAIN:
            update.update({name: UNKNOWABLE for name in covers})
        else:
            continue
        done = ['factory'] if save == 'factory' else covers
        written.extend(name for name in done if name not in written)
    item.fields['written'] = written
    return update


def open_record(plan: Plan, cluster, path, check_mode: bool) -> Record:
    """The record, loaded and, outside check mode, locked until the run ends. Its path is reported as ``record``.

    ``Record.open`` checks that an existing file is a record before it creates a directory, a lock or a
    temporary file beside it."""
    if path is None:
        path = cluster.lab_state_file + '.eeprom-record.json' if cluster.lab_state_file else DEFAULT_RECORD
    plan.extra['record'] = path
    record = plan.resources.enter_context(Record(path).open(lock=not check_mode))
    return record


def save_boards(plan: Plan, record: Record, boards, requested, *, force=False, factory=False, unknown_writes=True, group='controllers', path=None) -> None:
    """Plan the saves of every board, and record afterwards what was saved (also after a failure)."""
    planned = []
    for board in boards:
        key = board_key(board)
        planned.append(
            (
                board,
                key,
                plan_save(
                    plan,
                    board,
                    record.saved(key),
                    requested,
                    force=force,
                    factory=factory,
                    unknown_writes=unknown_writes,
                    fields=dict(controller=board.controller_id, key=key),
                    group=group,
                    path=path,
                ),
            )
        )

    def write_record():
        for board, key, item in planned:
            update = record_outcome(item)
            if update:
                record.update(key, board, update)

    plan.finish.append(write_record)
