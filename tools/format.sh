#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Applies ruff (pyproject.toml [tool.ruff]) to all Python code of the checkout: first its automatic fixes,
# then its format; then lists what is left for hand edits (ruff check) and fails if anything is.
# The pinned ruff of tools/requirements-lint.txt lives in .venv-lint. Usage: tools/format.sh
set -uo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "$0")/setup.sh"

python=$(find_python 3.12 || find_python 3.13 || find_python 3.14) || {
  echo "no Python 3.12 or later found for ruff's venv" >&2; exit 1; }
make_venv "$ROOT/.venv-lint" "$python" "$ROOT/tools/requirements-lint.txt" || exit 1
RUFF="$ROOT/.venv-lint/bin/ruff"
cd "$ROOT" || exit 1

log "ruff check --fix-only (with the automatic %-format rewrites, UP031)"
# UP031 is ignored by the lint for the %-formats it cannot rewrite; the ones it can are rewritten here.
"$RUFF" check --fix-only --extend-select UP031 . || exit 1
log "ruff format"
"$RUFF" format . || exit 1
log "ruff check (what is left needs a hand edit)"
"$RUFF" check --output-format concise . && "$RUFF" format --check .
