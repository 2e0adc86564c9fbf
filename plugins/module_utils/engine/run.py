# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PRIVATE: read → plan → apply → report, the one way every clusterctrl module runs. Not a public API.

A module's ``main()`` parses its options and hands ``run`` a function that builds its plan from
the cluster (reading what it needs, and raising before any write if the declaration cannot be
carried out). ``run`` opens the cluster (buses locked, or the virtual lab), builds the plan, applies
it outside check mode, and exits with the one report shape of ``report.result``.

``changed`` on failure follows one rule: true exactly when a step was taken or may have been.
A failure while planning, and any failure in check mode, sent nothing: ``changed`` is false.
"""

from __future__ import annotations

from typing import Callable

from ansible_collections.picluster.clusterctrl.plugins.module_utils._clusterctrl_module import open_cluster
from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.errors import ClusterCTRLError
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.apply import apply, doubt_hats_not_set_up
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.plan import NOT_TAKEN, PLANNED, Plan
from ansible_collections.picluster.clusterctrl.plugins.module_utils.engine.report import result


def execute(module, build: Callable[[object, Plan], None], groups=('pis',), listed=()) -> tuple:
    """Build and (outside check mode) apply the plan; return (plan, error or None).

    ``groups`` are the result keys the module always returns (empty when nothing was read),
    ``listed`` those of them returned as lists rather than mappings.
    """
    plan = Plan(groups={group: [] for group in groups}, listed=set(listed))
    error = None
    planned = False
    try:
        # Nested: `with a as x, b:` is pylint's confusing-with-statement.
        with open_cluster(module) as cluster:  # noqa: SIM117
            with plan.resources:
                build(cluster, plan)
                planned = True
                if not module.check_mode:
                    error = apply(plan)
    except (ClusterCTRLError, OSError) as exc:
        error = error or exc
    if not planned:
        for step in plan.steps:  # the plan was never complete: nothing of it was sent
            step.status = NOT_TAKEN
    elif module.check_mode and error is not None:
        for step in plan.steps:
            if step.status == PLANNED:
                step.status = NOT_TAKEN
    if not module.check_mode:
        doubt_hats_not_set_up(plan)
    return plan, error


def run(module, build: Callable[[object, Plan], None], groups=('pis',), listed=(), shape=None) -> None:
    """Execute the module's plan and exit with its result (``fail_json`` on error).

    ``shape(plan, result)`` may add the module's own views of the result (a resource module's
    ``before`` / ``after``).
    """
    plan, error = execute(module, build, groups, listed)
    out = result(plan, diff_mode=module._diff, error=error)
    if shape is not None:
        shape(plan, out)
    if error is not None:
        module.fail_json(msg=str(error), **out)
    module.exit_json(**out)
