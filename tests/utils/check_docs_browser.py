# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check in headless Chromium that a module page of the built docs site renders its options table.

The page (by default ``clusterctrl_power_module.html`` of the site that tests/utils/build_docs.sh builds) is
opened in headless Chromium with the site's own stylesheets. A probe script, added to a copy of the page, runs
after the page has loaded and laid out; it writes what it measured into the DOM, which Chromium dumps
(``--dump-dom``). The check passes only when:

* the page has the options table (``table.ansible-option-table`` in the ``Parameters`` section);
* the table has one row per top-level option of the module, no more and no fewer; the option names come
  from the module's documentation as ``ansible-doc --json`` resolves it (doc fragments included);
* every one of those rows is visible: laid out with a size, not hidden by CSS, and, scrolled into view, the
  row itself is what the browser shows at its centre (nothing covers it).

Any other page (one without the table) fails, and so does a page whose rows are hidden.

Usage: check_docs_browser.py HTML_DIR [--page FILE] [--module FQCN] [--collections DIR] [--ansible-doc PATH]
                             [--chromium PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MODULE = 'picluster.clusterctrl.clusterctrl_power'
RESULT_ID = 'docs-browser-check-result'

# Runs in the page once it has loaded: measures the options table and writes the result as JSON into a
# <pre> element, which --dump-dom then carries out.
PROBE_SCRIPT = (
    """
window.addEventListener('load', function () {
  var result = {table: false, stylesheets: document.styleSheets.length, rows: []};
  var section = document.getElementById('parameters');
  var table = section ? section.querySelector('table.ansible-option-table') : null;
  if (table) {
    result.table = true;
    table.querySelectorAll('tbody > tr').forEach(function (row) {
      var anchor = row.querySelector('div.ansibleOptionAnchor');
      if (!anchor || anchor.id.indexOf('parameter-') !== 0) { return; }
      row.scrollIntoView({block: 'center', behavior: 'instant'});
      var box = row.getBoundingClientRect();
      var style = window.getComputedStyle(row);
      var title = row.querySelector('.ansible-option-title');
      // What the browser shows at the centre of the option's name: it must belong to this row.
      var titleBox = title ? title.getBoundingClientRect() : box;
      var shown = document.elementFromPoint(titleBox.left + titleBox.width / 2, titleBox.top + titleBox.height / 2);
      result.rows.push({
        option: anchor.id.substring('parameter-'.length),
        width: box.width,
        height: box.height,
        display: style.display,
        visibility: style.visibility,
        opacity: parseFloat(style.opacity),
        title: title ? title.innerText.trim() : '',
        on_top: shown !== null && row.contains(shown),
        shown: shown ? shown.tagName.toLowerCase() + (shown.className ? '.' + shown.className : '') : null
      });
    });
  }
  var out = document.createElement('pre');
  out.id = '"""
    + RESULT_ID
    + """';
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
"""
)


@dataclass
class RowReport:
    """One options-table row as the browser laid it out."""

    option: str
    width: float
    height: float
    display: str
    visibility: str
    opacity: float
    title: str
    on_top: bool
    shown: str | None = None

    def problems(self) -> list[str]:
        """What makes this row invisible, if anything."""
        found = []
        if self.width <= 0 or self.height <= 0:
            found.append(f'laid out with no size ({self.width:.0f}x{self.height:.0f})')
        if self.display == 'none' or self.visibility != 'visible' or self.opacity == 0:
            found.append(f'hidden by CSS (display {self.display}, visibility {self.visibility}, opacity {self.opacity})')
        if self.title != self.option.rsplit('/', 1)[-1]:
            found.append(f'shows the title {self.title!r}')
        if not self.on_top:
            found.append(f'covered by another element ({self.shown})')
        return found


def build_layout_default(html_dir: Path, name: str) -> Path | None:
    """A path of the layout build_docs.sh writes (WORK/site/build/html beside WORK/venv, WORK/collections)."""
    candidate = html_dir.resolve().parents[2] / name if len(html_dir.resolve().parents) > 2 else None
    return candidate if candidate is not None and candidate.exists() else None


def top_level_options(module: str, ansible_doc: str, collections: Path | None) -> list[str]:
    """The module's top-level option names, from its documentation as ansible-doc resolves it."""
    env = dict(os.environ)
    if collections is not None:
        env['ANSIBLE_COLLECTIONS_PATH'] = str(collections)
    try:
        completed = subprocess.run([ansible_doc, '--json', '-t', 'module', module], env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise SystemExit(f'{ansible_doc} not found: pass --ansible-doc or put ansible-doc on PATH') from None
    if completed.returncode != 0:
        raise SystemExit(f'ansible-doc failed for {module}: {completed.stderr.strip()}')
    options = json.loads(completed.stdout)[module]['doc'].get('options') or {}
    if not options:
        raise SystemExit(f'ansible-doc lists no options for {module}')
    return sorted(options)


def render_page(page: Path, chromium: str) -> dict:
    """Open a copy of the page with the probe in headless Chromium; return what the probe measured."""
    source = page.read_text(encoding='utf-8')
    # The copy lives outside the site; <base> keeps the site's stylesheets and scripts loading from it.
    base = f'<base href="{page.parent.resolve().as_uri()}/">'
    probe = f'<script>{PROBE_SCRIPT}</script>'
    if '<head>' not in source or '</body>' not in source:
        raise SystemExit(f'{page} is not an HTML page with <head> and <body>')
    probed = source.replace('<head>', f'<head>{base}', 1).replace('</body>', f'{probe}</body>', 1)
    with tempfile.TemporaryDirectory(prefix='docs-browser-check-') as scratch:
        copy = Path(scratch) / page.name
        copy.write_text(probed, encoding='utf-8')
        command = [
            chromium,
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-dev-shm-usage',
            '--allow-file-access-from-files',
            f'--user-data-dir={scratch}/profile',
            '--window-size=1280,1024',
            '--virtual-time-budget=10000',
            '--dump-dom',
            copy.as_uri(),
        ]
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except FileNotFoundError:
            raise SystemExit(f'{chromium} not found: install chromium (apt-get install chromium) or pass --chromium') from None
    if completed.returncode != 0:
        raise SystemExit(f'chromium failed ({completed.returncode}): {completed.stderr.strip()[-2000:]}')
    dom = completed.stdout
    start = dom.find(f'<pre id="{RESULT_ID}">')
    if start < 0:
        raise SystemExit('the probe did not run: the page never finished loading in chromium')
    end = dom.index('</pre>', start)
    text = dom[start:end].removeprefix(f'<pre id="{RESULT_ID}">')
    return json.loads(text.replace('&lt;', '<').replace('&gt;', '>').replace('&quot;', '"').replace('&amp;', '&'))


def check(measured: dict, options: list[str], page: Path) -> list[str]:
    """Every failure of the page against the module's options (empty: the table renders)."""
    if not measured['table']:
        return [f'{page.name}: no options table (table.ansible-option-table in the Parameters section)']
    if measured['stylesheets'] == 0:
        return [f"{page.name}: no stylesheet loaded, so the rendering is not the site's"]
    rows = [RowReport(**row) for row in measured['rows']]
    top_rows = [row for row in rows if '/' not in row.option]
    failures = []
    names = [row.option for row in top_rows]
    missing = sorted(set(options) - set(names))
    extra = sorted(set(names) - set(options))
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if missing:
        failures.append(f'{page.name}: no row for the options {", ".join(missing)}')
    if extra:
        failures.append(f'{page.name}: rows for options the module does not have: {", ".join(extra)}')
    if duplicated:
        failures.append(f'{page.name}: more than one row for {", ".join(duplicated)}')
    for row in top_rows:
        failures.extend(f'{page.name}: row {row.option}: {problem}' for problem in row.problems())
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('html_dir', type=Path, help='the built site (WORK/site/build/html of build_docs.sh)')
    parser.add_argument('--page', default='clusterctrl_power_module.html', help='page to check, relative to HTML_DIR')
    parser.add_argument('--module', default=DEFAULT_MODULE, help='module whose options the table must list')
    parser.add_argument(
        '--collections', type=Path, help="ANSIBLE_COLLECTIONS_PATH for ansible-doc (default: the build's WORK/collections, else the environment's)"
    )
    parser.add_argument('--ansible-doc', help="ansible-doc to run (default: the build's venv, else the one on PATH)")
    parser.add_argument('--chromium', default=shutil.which('chromium') or 'chromium', help='Chromium binary')
    args = parser.parse_args(argv)

    page = args.html_dir / args.page
    if not page.is_file():
        print(f'FAIL: {page} does not exist', file=sys.stderr)
        return 1
    collections = args.collections or build_layout_default(args.html_dir, 'collections')
    venv_doc = build_layout_default(args.html_dir, 'venv/bin/ansible-doc')
    ansible_doc = args.ansible_doc or (str(venv_doc) if venv_doc else shutil.which('ansible-doc') or 'ansible-doc')

    options = top_level_options(args.module, ansible_doc, collections)
    measured = render_page(page, args.chromium)
    failures = check(measured, options, page)
    if failures:
        for failure in failures:
            print(f'FAIL: {failure}', file=sys.stderr)
        return 1
    print(f'{page.name}: the options table renders {len(options)} visible rows, one per option of {args.module} ({", ".join(options)})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
