# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: the one report shape of every clusterctrl module. Not a public API.

* per item, in its group (``pis``, ``settings``, ``controllers``, ``boards``): the item's fields,
  its value now under the setting's own name (None while uncertain), ``previous`` (as read),
  ``changed``, and ``uncertain`` (the reason) where a step may or may not have been taken;
* ``changed``: whether anything may have changed on a board (in check mode: would change);
* ``steps``: every step with its commands and status (``planned`` in check mode);
* ``diff`` (diff mode): every item's value before and after;
* on failure also ``taken``, ``uncertain`` and ``not_taken``: the steps by name, so that what
  was (or may have been) done is known.
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.plan import NOT_TAKEN, TAKEN, UNCERTAIN, Item, Plan


def item_view(item: Item) -> dict:
    view = dict(item.fields)
    view[item.setting] = item.after
    view['previous'] = item.before
    view['changed'] = item.changed
    if item.uncertain:
        view['uncertain'] = item.uncertain
    return view


def _put(tree, path, value):
    for part in path[:-1]:
        tree = tree.setdefault(part, {})
    tree[path[-1]] = value


def diff(plan: Plan) -> dict:
    before, after = {}, {}
    for items in plan.groups.values():
        for item in items:
            _put(before, item.path, item.show(item.before))
            _put(after, item.path, item.show(item.after))
    return dict(before=before, after=after)


def step_view(step) -> dict:
    view = dict(
        target=str(step.item.name),
        setting=step.item.setting,
        before=step.item.show(step.item.before),
        after=step.item.show(step.after),
        commands=list(step.commands),
        action=step.action,
        status=step.status,
    )
    if step.reason:
        view['reason'] = step.reason
    return view


def result(plan: Plan, diff_mode: bool = False, error=None) -> dict:
    """The module result for ``plan`` as it stands (planned, applied, or stopped by ``error``)."""
    out = dict(plan.extra)
    for group, items in plan.groups.items():
        views = [item_view(item) for item in items]
        out[group] = views if group in plan.listed else {str(item.name): view for item, view in zip(items, views)}
    out['changed'] = any(item.changed for items in plan.groups.values() for item in items)
    out['steps'] = [step_view(step) for step in plan.steps]
    if diff_mode:
        out['diff'] = diff(plan)
    if error is not None:
        out['taken'] = [step.name for step in plan.steps if step.status == TAKEN]
        out['uncertain'] = [dict(step=step.name, reason=step.reason) for step in plan.steps if step.status == UNCERTAIN]
        out['not_taken'] = [step.name for step in plan.steps if step.status == NOT_TAKEN]
    return out
