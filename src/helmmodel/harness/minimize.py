"""Make a failing trace 1-minimal: no single step can be removed, and no argument can be replaced
by a simpler value, while the same invariant is still violated.

Hypothesis shrinks well, but its result is minimal only for its own choice sequence; replaying
variants of the trace itself gives a guarantee a reader can check. A variant that cannot be
replayed (a dangling reference, a guard that fails) is invalid, never counted as still failing.

Simpler values are tried in this order, and only when the value would change:

0. for an argument the rule samples from a list (a principal, a tool, a budget), each value
   listed before it, first to last: two traces of one bug that differ only in such values come
   out the same;
1. ``false`` for a boolean;
2. ``0``, then ``1``, then half the value (towards zero) for an integer;
3. ``""`` for a string;
4. ``{}`` for an object, then the object with one member removed (each in turn);
5. ``[]`` for a list, then the list with one element removed (each in turn).

References to bundle values and bytes are left as they are. Passes repeat until one changes
nothing, so the result is 1-minimal with respect to both kinds of change.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

Steps = list[dict[str, Any]]
PASSES_MAX = 20


Choices = Mapping[str, Mapping[str, Sequence[Any]]]  # rule -> argument -> its sampled values


def simpler_values(value: Any, listed: Sequence[Any] = ()) -> Iterator[Any]:
    """Candidates simpler than *value*, in the documented order; *listed* are the values the
    argument is sampled from, if it is."""
    # Matched by type too: True == 1, yet a boolean is never a listed integer.
    place = next((i for i, e in enumerate(listed) if type(e) is type(value) and e == value), None)
    if place is not None:
        yield from listed[:place]
        return
    if isinstance(value, bool):
        if value:
            yield False
    elif isinstance(value, int):
        tried = set()
        for candidate in (0, 1, int(value / 2)):
            if candidate not in tried and abs(candidate) < abs(value):
                tried.add(candidate)
                yield candidate
    elif isinstance(value, str):
        if value:
            yield ""
    elif isinstance(value, dict):
        if set(value) in ({"$ref"}, {"$bytes"}):
            return
        if value:
            yield {}
            for key in value:
                yield {k: v for k, v in value.items() if k != key}
    elif isinstance(value, list) and value:
        yield []
        for index in range(len(value)):
            yield value[:index] + value[index + 1 :]


def _without(steps: Steps, index: int) -> Steps:
    return steps[:index] + steps[index + 1 :]


def _with_argument(steps: Steps, index: int, name: str, value: Any) -> Steps:
    changed = copy.deepcopy(steps)
    changed[index]["args"][name] = value
    return changed


def minimize(
    steps: Sequence[Mapping[str, Any]],
    fails: Callable[[Steps], bool],
    progress: Callable[[str], None] | None = None,
    choices: Choices | None = None,
) -> Steps:
    """The 1-minimal variant of *steps* that *fails*; *steps* themselves must fail. *choices*
    are the values each rule's arguments are sampled from."""
    choices = choices or {}
    current: Steps = [dict(step) for step in steps]
    if not fails(current):
        raise ValueError("the trace to minimize does not fail: nothing to minimize")
    for _ in range(PASSES_MAX):
        changed = False
        index = len(current) - 1
        while index >= 0:  # from the end: later steps depend on earlier ones, not the reverse
            candidate = _without(current, index)
            if candidate and fails(candidate):
                current, changed = candidate, True
            index -= 1
        for index in range(len(current)):
            listed = choices.get(current[index]["rule"], {})
            for name in sorted(current[index]["args"]):
                value = current[index]["args"][name]
                for simpler in simpler_values(value, listed.get(name, ())):
                    candidate = _with_argument(current, index, name, simpler)
                    if fails(candidate):
                        current, changed = candidate, True
                        break
        if progress is not None:
            progress(f"minimizing: {len(current)} steps")
        if not changed:
            return current
    return current
