#!/usr/bin/env bash
# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Builds the collection's docs site the way antsibull-docs documents it for a collection:
#   1. a venv WORK_DIR/venv with tools/requirements-docs.txt (antsibull-docs, Sphinx, sphinx-ansible-theme,
#      ansible-core), recreated only when that file or the Python version changes;
#   2. the collection made visible at WORK_DIR/collections/ansible_collections/picluster/clusterctrl;
#   3. `antsibull-docs lint-collection-docs --plugin-docs`: docs/docsite (links.yml, extra-docs.yml, the
#      guides) and every plugin's and role's documentation;
#   4. the Sphinx project that `antsibull-docs sphinx-init --use-current --squash-hierarchy` generates,
#      `antsibull-docs collection` writing the module, filter, role and guide pages into its rst/, and
#      `sphinx-build -W --keep-going`: every warning fails the build.
# The site is written to WORK_DIR/site/build/html (its path is the last line printed).
# Usage: build_docs.sh WORK_DIR COLLECTION_ROOT
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 WORK_DIR COLLECTION_ROOT" >&2
  exit 2
fi
mkdir -p "$1"
WORK_DIR=$(cd "$1" && pwd)
COLLECTION_ROOT=$(cd "$2" && pwd)
REQUIREMENTS="$COLLECTION_ROOT/tools/requirements-docs.txt"
COLLECTION=picluster.clusterctrl
VENV="$WORK_DIR/venv"
COLLECTIONS="$WORK_DIR/collections"
SITE="$WORK_DIR/site"

log() { printf '\n=== %s\n' "$*"; }

# A real Python 3.12+ interpreter (ansible-core 2.21 needs one); pyenv shims of versions not selected are broken.
find_python() {
  local candidate
  for candidate in python3.12 python3.13 python3.14 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[234].*/bin/python3.1[234] \
    /usr/bin/python3.1[234] /usr/local/bin/python3.1[234]; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv; assert sys.version_info >= (3, 12)' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "the docs build needs Python 3.12 or later; none was found" >&2
  return 1
}

ensure_venv() {
  local python stamp
  python=$(find_python)
  stamp=$(sha256sum < "$REQUIREMENTS" | cut -c1-16)-$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.stamp" 2>/dev/null)" = "$stamp" ]; then
    return 0
  fi
  log "creating the docs venv with $("$python" --version)"
  rm -rf "$VENV"
  "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
  "$VENV/bin/python" -m pip install -q -r "$REQUIREMENTS" 2>&1 | { grep -v '^WARNING: Location' || true; }
  echo "$stamp" > "$VENV/.stamp"
}

# The collection under ansible_collections/<namespace>/<name>, where ansible-doc (and so antsibull-docs
# --use-current) finds it.
stage_collection() {
  rm -rf "$COLLECTIONS"
  mkdir -p "$COLLECTIONS/ansible_collections/picluster"
  ln -s "$COLLECTION_ROOT" "$COLLECTIONS/ansible_collections/picluster/clusterctrl"
  export ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"
  export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
}

ensure_venv
stage_collection
export PATH="$VENV/bin:$PATH"
export ANSIBLE_NOCOLOR=1

log "antsibull-docs lint-collection-docs (docs/docsite and the plugins' and roles' documentation)"
antsibull-docs lint-collection-docs --plugin-docs "$COLLECTIONS/ansible_collections/picluster/clusterctrl"

log "Sphinx project (antsibull-docs sphinx-init)"
rm -rf "$SITE"
mkdir -p "$SITE"
chmod og-w "$SITE"  # antsibull-docs writes only into a directory nobody else can write to
antsibull-docs sphinx-init --use-current --squash-hierarchy --fail-on-error \
  --project "$COLLECTION" --copyright 'picluster.clusterctrl contributors' \
  --title 'picluster.clusterctrl' --html-short-title 'picluster.clusterctrl' \
  --dest-dir "$SITE" "$COLLECTION" >/dev/null
# The generated conf.py downloads intersphinx inventories (Python, Jinja2, the Ansible docs), which CI cannot
# reach, and an unreachable inventory is a warning. The generated pages link to two labels of the Ansible docs
# only; a local inventory of those two keeps the links (to the real Ansible pages) without any download.
"$VENV/bin/python" - "$SITE/ansible_devel.inv" <<'PY'
import sys
import zlib

labels = [
    ('common_return_values', 'reference_appendices/common_return_values.html#common-return-values', 'Return Values'),
    ('ansible_configuration_settings', 'reference_appendices/config.html#ansible-configuration-settings',
     'Ansible Configuration Settings'),
]
header = '# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n# The remainder of this file is compressed using zlib.\n'
body = ''.join(f'{name} std:label -1 {uri} {title}\n' for name, uri, title in labels)
with open(sys.argv[1], 'wb') as inventory:
    inventory.write(header.encode() + zlib.compress(body.encode()))
PY
cat >> "$SITE/conf.py" <<'CONF'

# Added by tests/utils/build_docs.sh: the Ansible docs' labels come from a local inventory; nothing is downloaded.
intersphinx_mapping = {
    'ansible_devel': ('https://docs.ansible.com/projects/ansible/devel/', '../ansible_devel.inv'),
}
CONF

log "antsibull-docs collection (module, filter, role and guide pages)"
mkdir -p "$SITE/rst"
chmod og-w "$SITE/rst"
antsibull-docs --config-file "$SITE/antsibull-docs.cfg" collection --use-current --squash-hierarchy --fail-on-error \
  --cleanup everything --dest-dir "$SITE/rst" "$COLLECTION"

log "sphinx-build -W (warnings are errors)"
sphinx-build -M html "$SITE/rst" "$SITE/build" -c "$SITE" -W --keep-going -q

echo "$SITE/build/html"
