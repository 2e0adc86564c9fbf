# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in SSH server for the power_cycle tests: listens on 127.0.0.1 (a free port), greets
every connection with an SSH banner and counts them.

Usage: ssh_listener.py DIR. Writes DIR/port once listening, DIR/connections after each
connection; stops when DIR/stop appears or after 300 seconds.
"""

from __future__ import annotations

import os
import socket
import sys
import time


def main():
    state_dir = sys.argv[1]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', 0))
    server.listen(8)
    server.settimeout(0.2)
    with open(os.path.join(state_dir, 'port.tmp'), 'w') as out:
        out.write('%d\n' % server.getsockname()[1])
    os.rename(os.path.join(state_dir, 'port.tmp'), os.path.join(state_dir, 'port'))
    connections = 0
    deadline = time.time() + 300
    while time.time() < deadline and not os.path.exists(os.path.join(state_dir, 'stop')):
        try:
            client, _addr = server.accept()
        except socket.timeout:
            continue
        try:
            client.sendall(b'SSH-2.0-OpenSSH_9.2p1 picluster-test\r\n')
            time.sleep(0.1)
        finally:
            client.close()
        connections += 1
        with open(os.path.join(state_dir, 'connections'), 'w') as out:
            out.write('%d\n' % connections)
    server.close()


if __name__ == '__main__':
    main()
