# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""User-facing text cites only what ships: no string a user can read (module documentation, error and
warning messages, role and playbook texts, the READMEs) points to the development specification or the
firmware's source. Code comments and docstrings keep their developer citations."""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator

import pytest
import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..'))
# Citations of material that does not ship with the collection.
FORBIDDEN = re.compile(r'§|main\.c|DISAGREE|clusterctrl-protocol\.md|mqtt-device-cluster-protocol\.md')


def _docstring_nodes(tree: ast.AST) -> set:
    """The string constants that are docstrings (first statement of a module, class or function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def python_offences(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string constant of ``source`` that is not a docstring and holds a forbidden citation."""
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    offences = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            for match in FORBIDDEN.finditer(node.value):
                line = node.lineno + node.value.count('\n', 0, match.start())
                offences.append((line, node.value.splitlines()[node.value.count('\n', 0, match.start())].strip()))
    return offences


def _strings(data) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from _strings(value)


def yaml_offences(text: str) -> list[str]:
    """Every string of a YAML document (comments excluded) that holds a forbidden citation."""
    return [value for document in yaml.safe_load_all(text) for value in _strings(document) if FORBIDDEN.search(value)]


def text_offences(text: str) -> list[tuple[int, str]]:
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if FORBIDDEN.search(line)]


def _files(top: str, suffixes: tuple[str, ...]) -> list[str]:
    found = []
    for directory, subdirectories, names in os.walk(os.path.join(ROOT, top)):
        subdirectories[:] = sorted(name for name in subdirectories if name != '__pycache__')
        found.extend(os.path.relpath(os.path.join(directory, name), ROOT) for name in sorted(names) if name.endswith(suffixes))
    return found


def _read(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding='utf-8') as handle:
        return handle.read()


PYTHON_FILES = _files('plugins', ('.py',))
YAML_FILES = _files('roles', ('.yml', '.yaml')) + _files('playbooks', ('.yml', '.yaml'))
README_FILES = ['README.md'] + sorted(
    os.path.relpath(os.path.join(ROOT, 'roles', role, 'README.md'), ROOT)
    for role in os.listdir(os.path.join(ROOT, 'roles'))
    if os.path.isfile(os.path.join(ROOT, 'roles', role, 'README.md'))
)
GUIDE_FILES = _files('docs', ('.rst', '.yml'))


def test_the_files_are_found():
    assert 'plugins/modules/clusterctrl_board.py' in PYTHON_FILES
    assert 'plugins/doc_fragments/clusterctrl.py' in PYTHON_FILES
    assert 'roles/controller/meta/argument_specs.yml' in YAML_FILES
    assert 'README.md' in README_FILES and 'roles/controller/README.md' in README_FILES
    assert 'docs/docsite/rst/guide_protocol.rst' in GUIDE_FILES


@pytest.mark.parametrize('path', PYTHON_FILES)
def test_plugin_strings_cite_only_what_ships(path):
    offences = python_offences(_read(path))
    assert not offences, f'{path}: user-facing strings cite the specification or firmware source: {offences}'


@pytest.mark.parametrize('path', YAML_FILES)
def test_role_and_playbook_texts_cite_only_what_ships(path):
    offences = yaml_offences(_read(path))
    assert not offences, f'{path}: {offences}'


@pytest.mark.parametrize('path', README_FILES + GUIDE_FILES)
def test_readmes_and_guides_cite_only_what_ships(path):
    offences = text_offences(_read(path))
    assert not offences, f'{path}: {offences}'


# The checks themselves can fail.


def test_a_message_citing_the_spec_is_found():
    source = 'def f():\n    """Docstring, spec §7.3: allowed."""\n    # comment §1: allowed\n    raise ValueError(f"no LED (spec §7.3) on {1}")\n'
    assert python_offences(source) == [(4, 'no LED (spec §7.3) on')]


def test_a_module_documentation_citing_the_firmware_is_found():
    source = "DOCUMENTATION = r'''\nmodule: x\ndescription:\n  - As main.c does.\n'''\n"
    assert python_offences(source) == [(4, '- As main.c does.')]


def test_docstrings_and_comments_are_allowed():
    source = '"""Module, clusterctrl-protocol.md §3."""\n\n\nclass A:\n    """DISAGREE 4."""\n\n    x = 1  # main.c\n'
    assert python_offences(source) == []


def test_yaml_and_text_citations_are_found():
    assert yaml_offences('# comment §3 allowed\nargument_specs:\n  main:\n    short_description: see mqtt-device-cluster-protocol.md\n')
    assert not yaml_offences('# comment §3 allowed\nkey: value\n')
    assert text_offences('line\nthe spec (§8.2)\n') == [(2, 'the spec (§8.2)')]
