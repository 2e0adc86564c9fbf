# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A record of every SMBus call that reached an emulated i2c-tiny-usb adapter.

One entry per SMBus call (one kernel I2C transfer), as a JSON-serialisable dict:

``seq``
    1-based sequence number within the journal.
``bus``
    i2c bus number of the adapter.
``addr``
    7-bit I2C address.
``op``
    SMBus call name (``write_byte_data``, ``read_i2c_block_data``, ``i2c_rdwr`` ...).
``reg``
    register / command byte of the call, or None (quick, receive byte, i2c_rdwr).
``data``
    bytes written after ``reg`` (list of ints), None for a call that only reads.
``length``
    number of bytes read, None for a call that only writes.
``result``
    bytes read (list of ints), None when nothing was returned.
``messages``
    I2C messages of the transfer (§1.5).
``usb_transfers``
    USB control transfers actually made: 2 per message that reached the device (§1.2).
``commands``
    one record per command the firmware saw in this call:
    ``{code, name, args, status, deferred, duration_ms, mutating}``; ``args`` lists the data
    registers written for it, DATA0 first; ``status`` is STATUS after it, None while
    deferred (slow-command mode, §1.8).
``mutating``
    True if an executed command is mutating (``protocol.is_mutating_command``) or a
    write stored a byte into ORDER (0x02).
``error``
    errno name (``ENXIO`` ...) or None.
"""

from __future__ import annotations

from ansible_collections.picluster.clusterctrl.plugins.module_utils.clusterctrl.protocol import is_mutating_command

ENTRY_KEYS = ('seq', 'bus', 'addr', 'op', 'reg', 'data', 'length', 'result', 'messages', 'usb_transfers', 'commands', 'mutating', 'error')


def _ints(values):
    return None if values is None else [int(v) for v in bytearray(values)]


class BusJournal:
    """Ordered list of bus-call entries with counting helpers.

    ``on_record(entry)``, when set, is called after each new entry (the virtual lab persists
    the boards and the entry there, before the caller's SMBus call returns); an exception it
    raises reaches the caller of that SMBus call.
    """

    def __init__(self, entries=None, on_record=None):
        self.entries = []
        self.on_record = on_record
        if entries:
            self.extend_from_list(entries)

    def __len__(self):
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __getitem__(self, index):
        return self.entries[index]

    def record(self, bus, addr, op, reg=None, data=None, length=None, result=None, messages=0, usb_transfers=0, commands=None, order_written=False, error=None):
        """Append one entry and return it; ``mutating`` is derived here and nowhere else."""
        cmds = []
        for c in commands or ():
            c = dict(c)
            c['args'] = list(c.get('args') or [])
            c['mutating'] = c.get('status') is not None and is_mutating_command(c['code'])
            cmds.append(c)
        entry = {
            'seq': (self.entries[-1]['seq'] + 1) if self.entries else 1,
            'bus': bus,
            'addr': addr,
            'op': op,
            'reg': reg,
            'data': _ints(data),
            'length': length,
            'result': _ints(result),
            'messages': messages,
            'usb_transfers': usb_transfers,
            'commands': cmds,
            'mutating': bool(order_written) or any(c['mutating'] for c in cmds),
            'error': error,
        }
        self.entries.append(entry)
        if self.on_record is not None:
            self.on_record(entry)
        return entry

    def count(self, mutating=None, op=None, error=None):
        """Number of entries; filter on ``mutating`` (bool), ``op`` (name) or ``error`` (True, False or a name)."""
        return len(self.select(mutating=mutating, op=op, error=error))

    def select(self, mutating=None, op=None, error=None):
        out = []
        for e in self.entries:
            if mutating is not None and e['mutating'] != mutating:
                continue
            if op is not None and e['op'] != op:
                continue
            if error is True and e['error'] is None:
                continue
            if error is False and e['error'] is not None:
                continue
            if error not in (None, True, False) and e['error'] != error:
                continue
            out.append(e)
        return out

    def commands(self, include_deferred=False, mutating=None):
        """Command records of every entry in order; deferred (not yet executed) ones only on request."""
        out = []
        for e in self.entries:
            for c in e['commands']:
                if c['deferred'] and not include_deferred:
                    continue
                if mutating is not None and c['mutating'] != mutating:
                    continue
                out.append(c)
        return out

    @property
    def smbus_calls(self):
        return len(self.entries)

    @property
    def messages(self):
        return sum(e['messages'] for e in self.entries)

    @property
    def usb_transfers(self):
        return sum(e['usb_transfers'] for e in self.entries)

    def summary(self):
        """Totals: SMBus calls, I2C messages, USB control transfers, errors, mutating calls, commands."""
        return {
            'smbus_calls': self.smbus_calls,
            'messages': self.messages,
            'usb_transfers': self.usb_transfers,
            'errors': self.count(error=True),
            'mutating_calls': self.count(mutating=True),
            'commands': len(self.commands()),
        }

    def clear(self):
        self.entries = []

    def to_list(self):
        """Deep copy of the entries (JSON-serialisable)."""
        return [self._copy(e) for e in self.entries]

    def extend_from_list(self, entries):
        """Append entries saved by ``to_list``; sequence numbers continue from the last entry."""
        for e in entries:
            missing = [k for k in ENTRY_KEYS if k not in e]
            if missing:
                raise ValueError('journal entry lacks {}'.format(', '.join(missing)))
            e = self._copy(e)
            e['seq'] = (self.entries[-1]['seq'] + 1) if self.entries else 1
            self.entries.append(e)

    @staticmethod
    def _copy(e):
        c = dict(e)
        for key in ('data', 'result'):
            if c[key] is not None:
                c[key] = list(c[key])
        c['commands'] = [dict(cmd, args=list(cmd['args'])) for cmd in c['commands']]
        return c
