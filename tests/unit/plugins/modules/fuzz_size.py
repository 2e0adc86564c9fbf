# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""How many seeded cases the property and fault tests of the modules try.

Full size, unless a file ``tests/unit/fuzz-scale`` holds a factor (``0.25``). tools/matrix.sh writes
one into its own staged copy of the collection for every ansible-core version but the newest (2.14
to 2.20), whose unit tests check the modules' use of that core (every test still runs there); the
engine these tests try hard is the same on every core, and it is tried at full size on the newest
(tools/test.sh units-ansible-test) and with plain pytest. A file, because ansible-test passes the
tests none of our environment variables. The seeds do not change: a scaled run tries the first
cases of the full one, and its thresholds shrink with it.
"""

from __future__ import annotations

from pathlib import Path

_FACTOR_FILE = Path(__file__).resolve().parents[2] / 'fuzz-scale'


def _factor() -> float:
    try:
        text = _FACTOR_FILE.read_text().strip()
    except FileNotFoundError:
        return 1.0
    factor = float(text)
    if not 0 < factor <= 1:
        raise ValueError(f'{_FACTOR_FILE}: the factor must be more than 0 and at most 1, got {text!r}')
    return factor


FACTOR = _factor()


def scaled(count: int) -> int:
    """``count`` cases (or a threshold on them) at this run's size: at least 1."""
    return max(1, round(count * FACTOR))
