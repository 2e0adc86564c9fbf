# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Check-mode invariant, from the broker's side: no check-mode client published a config or set request.

The MQTT modules connect as ``picluster-check-<random>`` in check mode (when no client_id is given)
and as ``picluster-<random>`` otherwise. mosquitto 2.0 logs every publish it receives at debug level
(``log_type debug``, on by default in tests/utils/mosquitto_broker.py)::

    1700000000: Received PUBLISH from picluster-check-0a1b2c3d4e5f (d0, q1, r0, m3, 'device/dev001/pin/get', ... (5 bytes))

Usage::

    python tests/utils/check_broker_log.py BROKER_DIR_OR_LOG [...]

Exits 1 if a check-mode client published ``.../pin/config`` or ``.../pin/set``, or if a log shows no
PUBLISH line at all (debug logging off: the check would prove nothing). Prints counts either way.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

CHECK_PREFIX = 'picluster-check-'
_PUBLISH_RE = re.compile(r"Received PUBLISH from (?P<client>\S+) \(d\d, q\d, r\d, m\d+, '(?P<topic>.*)', \.\.\. \((?P<size>\d+) bytes\)\)")
_CONNECT_RE = re.compile(r'New client connected from \S+ as (?P<client>\S+) ')
_MUTATING = ('config', 'set')


def scan(lines):
    """Return a dict of counts and the offending publishes of one log."""
    result = {'publishes': 0, 'check_clients': set(), 'check_publishes': 0, 'check_by_kind': {}, 'violations': []}
    for line in lines:
        match = _PUBLISH_RE.search(line)
        if match:
            result['publishes'] += 1
            client, topic = match.group('client'), match.group('topic')
            if client.startswith(CHECK_PREFIX):
                result['check_clients'].add(client)
                result['check_publishes'] += 1
                levels = topic.split('/')
                kind = levels[-1] if len(levels) >= 3 and levels[-2] == 'pin' else 'other'
                result['check_by_kind'][kind] = result['check_by_kind'].get(kind, 0) + 1
                if kind in _MUTATING:
                    result['violations'].append('{} published {} ({} bytes)'.format(client, topic, match.group('size')))
            continue
        match = _CONNECT_RE.search(line)
        if match and match.group('client').startswith(CHECK_PREFIX):
            result['check_clients'].add(match.group('client'))
    return result


def _log_files(path):
    if os.path.isdir(path):
        return [os.path.join(path, name) for name in sorted(os.listdir(path)) if name.endswith('.log') and name != 'stderr.log']
    return [path]


def main(argv=None):
    parser = argparse.ArgumentParser(description='Fail if a check-mode MQTT client (picluster-check-*) published a config/set request.')
    parser.add_argument('paths', nargs='+', help='mosquitto log files, or broker directories (their *.log files)')
    args = parser.parse_args(argv)
    failed = False
    files = [name for path in args.paths for name in _log_files(path)]
    if not files:
        print('check_broker_log: no log file found in {}'.format(', '.join(args.paths)))
        return 1
    for name in files:
        try:
            with open(name, errors='replace') as handle:
                result = scan(handle)
        except OSError as exc:
            print(f'{name}: cannot read: {exc}')
            failed = True
            continue
        kinds = ', '.join('%s %d' % item for item in sorted(result['check_by_kind'].items())) or 'none'
        print(
            '%s: %d publishes logged; %d check-mode clients, %d publishes by them (%s); %d config/set by check-mode clients'
            % (name, result['publishes'], len(result['check_clients']), result['check_publishes'], kinds, len(result['violations']))
        )
        if result['publishes'] == 0:
            print(f'{name}: no "Received PUBLISH" line: the broker did not log publishes (log_type debug), nothing is proven')
            failed = True
        for violation in result['violations']:
            print(f'VIOLATION: check-mode client {violation}')
            failed = True
    print('check-mode invariant (broker log): %s' % ('FAILED' if failed else 'ok'))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
