"""What the strategy catalogues say about a result's strategy: the floor (never recommended) and
the named spellings, the baseline (speed-ups are quoted against it) and the error model; for
external rows, whose names the catalogue does not know, the neutral answer."""

from __future__ import annotations

from problems import PROBLEMS, catalogue


def _catalogue_of(problem: str):
    cls = PROBLEMS.get(problem)
    return catalogue(cls.kind) if cls is not None else None


def is_floor(problem: str, strategy: str) -> bool:
    """Whether `strategy` is the hand-written floor of `problem`'s catalogue (never a winner)."""
    strategies = _catalogue_of(problem)
    return bool(strategies and strategy in strategies and strategies[strategy].floor)


def spelling_of(problem: str, strategy: str) -> str | None:
    """The strategy `strategy` is a named spelling of ("rev-over-fwd" for "rev-over-fwd:jacfwd"),
    or None. In the named sets a spelling is never recommended (a strategy's name is its kept
    spelling); in a run about one user configuration it competes (`reports.decision`)."""
    strategies = _catalogue_of(problem)
    return strategies[strategy].spelling_of if strategies and strategy in strategies else None


def spelling_description(problem: str, strategy: str) -> str:
    """The catalogue's description of `strategy` (how a spelling writes its strategy); "" if unknown."""
    strategies = _catalogue_of(problem)
    return strategies[strategy].description if strategies and strategy in strategies else ""


def error_model(problem: str, strategy: str) -> str:
    """The catalogue's error model of `strategy` ("exact" where the catalogue does not know it)."""
    strategies = _catalogue_of(problem)
    return strategies[strategy].error if strategies and strategy in strategies else "exact"


def baseline_of(problem: str) -> str | None:
    strategies = _catalogue_of(problem)
    return strategies.baseline if strategies is not None else None


def adoptable(problem: str, strategy: str, spellings_compete: bool = False) -> bool:
    """Whether a verdict may name `strategy` as its leader or runner-up, the one definition every
    report uses (the decision, the findings, the heatmap, the ranking figures): not the hand-written
    floor (a reference, no AD), and not a named spelling, except where spellings compete (a run
    about one user configuration, `reports.runs.spellings_compete`): in the named sets a strategy's
    name stands for its kept spelling, so a spelling is the spread of its strategy, not a rival."""
    if is_floor(problem, strategy):
        return False
    return spellings_compete or spelling_of(problem, strategy) is None


def strategy_order(problems, present) -> list[str]:
    """Present strategies in catalogue order (adoptable first, the floor last), then any others."""
    order = []
    for problem in problems:
        if problem in PROBLEMS:
            order += [s for s in catalogue(PROBLEMS[problem].kind) if s not in order]
    rows = [s for s in order if s in present] + sorted(s for s in present if s not in order)
    floors = [s for s in rows if any(is_floor(p, s) for p in problems)]
    return [s for s in rows if s not in floors] + floors
