# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault-injection plan for an emulated i2c-tiny-usb adapter (a test fixture, not firmware behaviour).

The faults model what a driver meets on real hardware (spec §1.7, §1.8):

* ``transient_error_rate``: probability, per SMBus call, of an ``OSError`` with EIO, ENXIO
  or EREMOTEIO (the errnos a driver must retry, §1.8). ``after_effect_ratio`` of them
  happen *after* the transfer took effect, as when the GET_STATUS stage fails.
* ``stop_after_calls``: after N SMBus calls the device stops answering: every later call
  fails at once with ETIMEDOUT (no real sleep).
* ``reset_after_calls``: after N calls the board resets itself once (RAM rebuilt from
  EEPROM, §5.2), is absent (ENODEV) for ``reset_absent_calls`` calls, then is back.
* ``busy_messages``: slow-command mode (§1.8, Appendix A): CMD stays set for K further
  messages; writes are NAKed meanwhile.
* ``seed``: random seed for the transient errors (None = random).
"""

from __future__ import annotations

FIELDS = ('transient_error_rate', 'after_effect_ratio', 'seed', 'stop_after_calls', 'reset_after_calls', 'reset_absent_calls', 'busy_messages')


def _probability(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f'{name} must be a number between 0 and 1, got {value!r}')
    return float(value)


def _count(name, value, allow_none=True, minimum=0):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError('%s must be %san integer >= %d, got %r' % (name, 'None or ' if allow_none else '', minimum, value))
    return value


class FaultPlan:
    """JSON-serialisable fault configuration; every field is validated on construction."""

    def __init__(
        self, transient_error_rate=0.0, after_effect_ratio=0.0, seed=None, stop_after_calls=None, reset_after_calls=None, reset_absent_calls=1, busy_messages=0
    ):
        self.transient_error_rate = _probability('transient_error_rate', transient_error_rate)
        self.after_effect_ratio = _probability('after_effect_ratio', after_effect_ratio)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f'seed must be None or an integer, got {seed!r}')
        self.seed = seed
        self.stop_after_calls = _count('stop_after_calls', stop_after_calls)
        self.reset_after_calls = _count('reset_after_calls', reset_after_calls)
        self.reset_absent_calls = _count('reset_absent_calls', reset_absent_calls, allow_none=False)
        self.busy_messages = _count('busy_messages', busy_messages, allow_none=False)

    @classmethod
    def from_dict(cls, d):
        """Build a plan from a dict; unknown keys are an error (a typo must not silently disable a fault)."""
        if d is None:
            return cls()
        if not isinstance(d, dict):
            raise ValueError(f'a fault plan must be a dict, got {type(d).__name__}')
        unknown = sorted(set(d) - set(FIELDS))
        if unknown:
            raise ValueError('unknown fault plan field(s): {} (expected: {})'.format(', '.join(unknown), ', '.join(FIELDS)))
        return cls(**d)

    def to_dict(self):
        return dict((name, getattr(self, name)) for name in FIELDS)

    @property
    def active(self):
        """True if the plan injects anything at all."""
        return bool(self.transient_error_rate or self.stop_after_calls is not None or self.reset_after_calls is not None or self.busy_messages)

    def __eq__(self, other):
        return isinstance(other, FaultPlan) and self.to_dict() == other.to_dict()

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return 'FaultPlan({})'.format(', '.join(f'{k}={v!r}' for k, v in self.to_dict().items()))
