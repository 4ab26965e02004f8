"""Partial derivatives of any order, pure and mixed, as multi-indices: the plan every PDE strategy
and the reference follow.

A multi-index α = (α₁, …, α_d) names ∂^α u = ∂^{|α|} u / ∂x₁^α₁ … ∂x_d^α_d. Two ways to reach it:

* **Nesting** (nested reverse/forward): differentiate along one coordinate at a time. Each α has a
  canonical path (its coordinates in ascending order, u_tx = ∂ₓ∂ₜu), so the prefixes of all
  needed α form a tree; `DerivativePlan.levels` lists its nodes by order, each with its parent and
  the coordinate that extends it, and every node is computed once.
* **Interpolation** (Taylor mode): a mixed partial of order k is a fixed combination of k-th
  directional derivatives D^k_β u along integer directions β with |β| = k on α's support
  (Griewank, Utke & Walther, Math. Comp. 69 (2000): the matrix (k!/i!)·βⁱ over |β| = |i| = k is
  invertible). `interpolation(α)` solves that system exactly (rational arithmetic) and folds
  parallel directions together (D^k_{gβ} = g^k D^k_β), so pure derivatives are one jet along eᵢ
  and u_tx is the polarisation [D²(eₜ+eₓ) − D²eₜ − D²eₓ]/2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, cached_property

import sympy

NESTED_SCHEDULES = {
    "nested-rev": lambda k: "reverse",
    "nested-fwd": lambda k: "forward",
    "fwd-over-rev": lambda k: "reverse" if k == 1 else "forward",
}
"""nested strategy -> (level k of the walk -> "reverse" or "forward"): the mode each nesting level
differentiates in, written once for both frameworks (each maps a mode to its own level builder)."""


def order(alpha: tuple[int, ...]) -> int:
    return sum(alpha)


def unit(d: int, i: int, k: int = 1) -> tuple[int, ...]:
    """k·eᵢ as a multi-index of length d."""
    return tuple(k if j == i else 0 for j in range(d))


def path(alpha: tuple[int, ...]) -> tuple[int, ...]:
    """The canonical path of α: its coordinates in ascending order ((1, 2) -> (0, 1, 1))."""
    return tuple(i for i, a in enumerate(alpha) for _ in range(a))


def _compositions(total: int, parts: int):
    """All tuples of `parts` non-negative integers summing to `total`."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


@cache
def interpolation(alpha: tuple[int, ...]) -> tuple[tuple[tuple[int, ...], Fraction], ...]:
    """((primitive direction p, coefficient c), …) with ∂^α u = Σ c·D^k_p u, k = |α| (exact).

    D^k_β u = Σ_{|i|=k} (k!/i!) βⁱ ∂ⁱu over the multi-indices i on α's support; with β over the same
    set the matrix is square and invertible, and the row of the solution for α is the combination.
    """
    k, d = order(alpha), len(alpha)
    support = [i for i, a in enumerate(alpha) if a]
    if k == 0:
        raise ValueError("interpolation needs a derivative of order ≥ 1")
    if len(support) == 1:
        return ((unit(d, support[0]), Fraction(1)),)
    local = list(_compositions(k, len(support)))
    target = tuple(alpha[i] for i in support)

    def entry(beta, i):
        multinomial = math.factorial(k) // math.prod(math.factorial(a) for a in i)
        return multinomial * math.prod(b**a for b, a in zip(beta, i))

    matrix = sympy.Matrix([[entry(beta, i) for i in local] for beta in local])
    rhs = sympy.Matrix([1 if i == target else 0 for i in local])
    solution = matrix.T.LUsolve(rhs)
    combined: dict[tuple[int, ...], Fraction] = {}
    for beta, c in zip(local, solution):
        if c == 0:
            continue
        g = math.gcd(*beta)
        primitive = [0] * d
        for i, b in zip(support, beta):
            primitive[i] = b // g
        key = tuple(primitive)
        combined[key] = combined.get(key, Fraction(0)) + Fraction(int(c.p), int(c.q)) * g**k
    return tuple((p, c) for p, c in sorted(combined.items()) if c != 0)


@dataclass(frozen=True)
class DerivativePlan:
    """What a residual needs: the explicit multi-indices (order ≥ 1) and the coordinates a
    Laplacian term sums over (empty without one). Every output of the network is differentiated
    at once, so a multi-index serves all outputs."""

    n_inputs: int
    multi_indices: tuple[tuple[int, ...], ...]
    laplacian: tuple[int, ...] = ()

    @cached_property
    def required(self) -> tuple[tuple[int, ...], ...]:
        """Every multi-index a nested strategy computes: the explicit ones and ∂ᵢ² for the Laplacian."""
        lap = {unit(self.n_inputs, i, 2) for i in self.laplacian}
        return tuple(sorted(set(self.multi_indices) | lap))

    @cached_property
    def max_order(self) -> int:
        return max((order(a) for a in self.required), default=0)

    @cached_property
    def levels(self) -> tuple[tuple[tuple[tuple[int, ...], int, int], ...], ...]:
        """The nesting tree by order: levels[k] lists (α, parent's position in level k − 1, the
        coordinate extending the parent) for every prefix of a required α's canonical path;
        levels[0] is the value ((0, …, 0), 0, −1)."""
        zero = (0,) * self.n_inputs
        nodes: list[dict[tuple[int, ...], tuple[tuple[int, ...], int]]] = [{zero: (zero, -1)}]
        for alpha in self.required:
            current = list(zero)
            for depth, i in enumerate(path(alpha), start=1):
                parent = tuple(current)
                current[i] += 1
                while len(nodes) <= depth:
                    nodes.append({})
                nodes[depth].setdefault(tuple(current), (parent, i))
        out = [((zero, 0, -1),)]
        for depth in range(1, len(nodes)):
            previous = [a for a, *_ in out[depth - 1]]
            level = sorted(nodes[depth].items())
            out.append(tuple((a, previous.index(parent), i) for a, (parent, i) in level))
        return tuple(out)

    @cached_property
    def directions(self) -> tuple[tuple[tuple[int, ...], int], ...]:
        """Taylor mode: (primitive direction, highest order needed along it), sorted; one jet of
        that order along each gives every lower directional derivative too."""
        need: dict[tuple[int, ...], int] = {}
        for alpha in self.multi_indices:
            for p, _ in interpolation(alpha):
                need[p] = max(need.get(p, 0), order(alpha))
        for i in self.laplacian:
            p = unit(self.n_inputs, i)
            need[p] = max(need.get(p, 0), 2)
        return tuple(sorted(need.items()))

    @cached_property
    def combinations(self) -> dict[tuple[int, ...], tuple[tuple[int, float], ...]]:
        """α -> ((position in `directions`, coefficient), …): ∂^α u = Σ c·D^{|α|} along them."""
        position = {p: r for r, (p, _) in enumerate(self.directions)}
        return {a: tuple((position[p], float(c)) for p, c in interpolation(a)) for a in self.multi_indices}

    @cached_property
    def laplacian_directions(self) -> tuple[int, ...]:
        """Positions in `directions` of the eᵢ the Laplacian sums D²_{eᵢ} over."""
        position = {p: r for r, (p, _) in enumerate(self.directions)}
        return tuple(position[unit(self.n_inputs, i)] for i in self.laplacian)

    @cached_property
    def laplacian_rows(self) -> tuple[int, ...]:
        """Positions in `levels[2]` of the ∂ᵢ² the Laplacian sums."""
        second = [alpha for alpha, *_ in self.levels[2]]
        return tuple(second.index(unit(self.n_inputs, i, 2)) for i in self.laplacian)

    # -- the framework-neutral walks of the backends' strategies (given the framework's ops) --
    def walk(self, g, step_for_level):
        """The nesting tree walked over the per-point function `g(y) -> (m,)`: F₀(y) returns
        (g(y)[None], (g(y)[None],)) and `step_for_level(k)(F, levels[k])` lifts F (y -> (level k − 1
        values, every lower level's)) to level k by one differentiation (the framework's jacrev,
        or jvps). Returns y -> every level's values, (P_k, m) each, rows in `levels[k]`'s order."""

        def F(y):
            v = g(y)[None]
            return v, (v,)

        for k, level in enumerate(self.levels[1:], start=1):
            F = step_for_level(k)(F, level)
        return lambda y: F(y)[1]

    def from_levels(self, outs, sum_rows) -> dict:
        """What the residual reads, from a walk's per-level values `outs`: ∂^α u for every node
        of the tree, and "lap" = `sum_rows(outs[2], laplacian_rows)` (the framework's sum of those
        rows) with a Laplacian."""
        out = {alpha: v[pos] for level, v in zip(self.levels, outs) for pos, (alpha, *_) in enumerate(level)}
        if self.laplacian:
            out["lap"] = sum_rows(outs[2], self.laplacian_rows)
        return out

    def combined(self, derivative) -> dict:
        """∂^α u for every explicit α from Taylor-mode directional derivatives,
        `derivative(r, k)` = D^k u along `directions[r]`: Σ c·D^{|α|} over α's combination."""
        return {alpha: sum(c * derivative(r, order(alpha)) for r, c in combination)
                for alpha, combination in self.combinations.items()}  # fmt: skip
