"""Validated numeric command-line options and a parser whose errors are one `error:` line.

A numeric option declares its valid range where it is declared (`type=Number(int, low=1)`), so a
bad value is refused while the command line is parsed, before anything is written: exit 2 with
one line naming the option, the value and what is valid.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Number:
    """An argparse `type`: parses int or float text and checks it against an optional range.

    `low`/`high` are inclusive unless `low_open`/`high_open`; `unit` is appended to the
    description of the valid values ("seconds", "CPUs")."""

    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    unit: str = ""

    def __call__(self, text: str) -> int | float:
        try:
            value = self.kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {self._noun()}; valid: {self.valid()}"
            ) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; valid: {self.valid()}")
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text} is out of range; valid: {self.valid()}")
        return value

    def _noun(self) -> str:
        return "an integer" if self.kind is int else "a number"

    def valid(self) -> str:
        """What is valid, in words: `an integer >= 1`, `a number > 0 and < 1`."""
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        text = f"{self._noun()} {' and '.join(parts)}".strip()
        return f"{text} ({self.unit})" if self.unit else text

    @property
    def __name__(self) -> str:  # argparse names the type in some messages
        return self.kind.__name__


def at_least(low: float, kind: type = int, unit: str = "") -> Number:
    return Number(kind, low=low, unit=unit)


def positive(kind: type = float, unit: str = "") -> Number:
    return Number(kind, low=0, low_open=True, unit=unit)


def fraction(unit: str = "") -> Number:
    """A number strictly between 0 and 1."""
    return Number(float, low=0, high=1, low_open=True, high_open=True, unit=unit)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity: a scheduler's allocation, taskset, cgroups)."""
    return len(os.sched_getaffinity(0))


class OneLineErrorParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one `error: ...` line on stderr and exit 2."""

    def error(self, message: str):
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
