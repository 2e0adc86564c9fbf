# Copyright (c) 2026, picluster.clusterctrl contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers that keep the earlier arrdem driver's API working (spec §9.1) without its bugs (§9.2).

* ``once``: the earlier module's public decorator, with bug B1 fixed: on a method the value
  is cached per instance, not once for every driver in the process.
* ``renamed_keywords``: a method that renamed a keyword argument (``id`` became ``pi``)
  still takes the old keyword.
"""

from __future__ import annotations

import functools

_UNSET = object()


def once(function):
    """Decorator: call ``function`` once and keep its result.

    Called with a first argument that has a ``__dict__`` (a method's ``self``), the result is
    kept on that object, so each driver instance has its own (the earlier version kept one
    value for all of them, spec §9.2 B1). Otherwise one result is kept for every call.
    """
    attribute = f'_once_{function.__name__}_{id(function):x}'
    shared = [_UNSET]

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        owner = args[0] if args and hasattr(args[0], '__dict__') else None
        if owner is None:
            if shared[0] is _UNSET:
                shared[0] = function(*args, **kwargs)
            return shared[0]
        if attribute not in owner.__dict__:
            owner.__dict__[attribute] = function(*args, **kwargs)
        return owner.__dict__[attribute]

    return wrapper


def renamed_keywords(**renames):
    """Decorator: accept each old keyword (``id=``) as the new one (``renames = {'id': 'pi'}``); both at once is a TypeError."""

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(f'{function.__name__}() got both {old!r} and {new!r}; {old!r} is the earlier name of {new!r}')
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate
