#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Runs every benchmark (benchmarks/*.py), prints the tables and writes benchmarks/REPORT.md.
# Sets up what a fresh clone lacks (tools/setup.sh: venv with ansible-core and paho-mqtt, the
# mosquitto package), starts its own mosquitto on a free loopback port and stops it at the end.
# About 1 to 2 minutes. Usage: tools/benchmarks.sh
set -uo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "$0")/setup.sh"

ensure_system_packages || exit 1
ensure_venvs controller || exit 1
stage_collection
export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS" PYTHONPATH="$COLLECTIONS"

OUT="$WORK/bench"
stop_stale_broker "$OUT/broker"
rm -rf "$OUT" && mkdir -p "$OUT"
BROKER="$OUT/broker"
python "$STAGE/tests/utils/mosquitto_broker.py" start --dir "$BROKER" --json "$OUT/broker.json" || exit 1
on_exit "python '$STAGE/tests/utils/mosquitto_broker.py' stop --dir '$BROKER'"
PORT=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["port"])' "$OUT/broker.json")

status=0
log "1. bus transactions"; python "$ROOT/benchmarks/bus_traffic.py" --out "$OUT" >/dev/null || status=1
log "2. playbook wall time"; python "$ROOT/benchmarks/playbook_walltime.py" --out "$OUT" >/dev/null || status=1
log "3. MQTT fan-out"; python "$ROOT/benchmarks/mqtt_fanout.py" --out "$OUT" --port "$PORT" >/dev/null || status=1
log "4. module start-up"; python "$ROOT/benchmarks/module_startup.py" --out "$OUT" >/dev/null || status=1
log "5. clusterctrl status"; python "$ROOT/benchmarks/cli_status.py" --out "$OUT" >/dev/null || status=1
log "report (benchmarks/REPORT.md)"
python "$ROOT/benchmarks/report.py" --out "$OUT" || status=1
exit $status
