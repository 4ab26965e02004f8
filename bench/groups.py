"""Comparison groups: the cases that are compared with each other, and so timed side by side.

A group is one problem instance, backend, device, dtype and compile mode; its cases
differ only in strategy. Its reference is the catalogue's `baseline` (rev-over-rev, nested-rev),
what every ratio is quoted against.
"""

from __future__ import annotations

from bench.cases import Case
from problems import get_problem

GroupKey = tuple
"""(problem, options, backend, device, dtype, compile_mode): `Case.group`."""


def group_key(case: Case) -> GroupKey:
    return case.group


def baseline_strategy(case: Case) -> str:
    """The strategy the case's catalogue quotes speed-ups against."""
    return get_problem(case.problem, **case.options_dict()).strategies.baseline


def order_by_group(cases: list[Case]) -> list[Case]:
    """The cases with each group's together (groups sorted by key), its baseline first, then in
    the given order: the driver hands a child its cases in Case order, which interleaves groups
    (strategy sorts before dtype), and a group must be measured as one."""
    groups: dict[GroupKey, list[Case]] = {}
    for case in cases:
        groups.setdefault(group_key(case), []).append(case)
    ordered = []
    for key in sorted(groups, key=repr):
        members = groups[key]
        baseline = baseline_strategy(members[0])
        ordered += sorted(members, key=lambda c: c.strategy != baseline)  # stable: baseline first
    return ordered


def may_lead(case: Case) -> bool:
    """Whether the case's strategy may be recommended, so lead a race: not the catalogue's
    hand-written floor (a reference, never the answer)."""
    strategies = get_problem(case.problem, **case.options_dict()).strategies
    return not (case.strategy in strategies and strategies[case.strategy].floor)
