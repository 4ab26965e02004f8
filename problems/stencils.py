"""Central finite-difference stencils with exact rational weights and their error constants."""

from __future__ import annotations

import math
from fractions import Fraction
from functools import cache

from problems.core import machine_epsilon


@cache
def central_stencil(order: int) -> tuple[tuple[int, ...], tuple[Fraction, ...], Fraction]:
    """Offsets j, exact weights c_j and error constant μ of the second-order central stencil.

    Dₕ = Σⱼ c_j f(x + j h) / hᵏ with j = −m … m, m = ⌊(k+1)/2⌋: the k-th derivative of the
    polynomial interpolating f at the 2m+1 nodes (Lagrange basis, exact rational arithmetic:
    float weights would break the moment conditions at 1e-16 and rounding/hᵏ would amplify it).
    Symmetry makes moment k+1 vanish, so Dₕ − f⁽ᵏ⁾ = μ h² f⁽ᵏ⁺²⁾ + O(h⁴), μ = Σ c_j j^(k+2)/(k+2)!.
    """
    m = (order + 1) // 2
    nodes = tuple(range(-m, m + 1))
    weights = []
    for j in nodes:
        poly = [Fraction(1)]  # coefficients of Π_{i≠j} (t − i)/(j − i), lowest degree first
        for i in nodes:
            if i == j:
                continue
            poly = [Fraction(0)] + poly  # t · poly
            poly = [a - i * b for a, b in zip(poly, poly[1:] + [Fraction(0)])]
            poly = [a / (j - i) for a in poly]
        weights.append(poly[order] * math.factorial(order) if order < len(poly) else Fraction(0))
    mu = sum(c * Fraction(j) ** (order + 2) for c, j in zip(weights, nodes)) / math.factorial(order + 2)
    return nodes, tuple(weights), mu


def stencil_step(order: int, dtype: str) -> float:
    """h = ε^(1/(k+2)) rounded to a power of two (so j·h is exact).

    Truncation μh²|f⁽ᵏ⁺²⁾| and rounding ε Σ|c_j||f|/hᵏ balance at h ∝ ε^(1/(k+2)) when f and
    f⁽ᵏ⁺²⁾ have similar scale; derivatives of the rbf net grow with their order, so truncation
    dominates at this h and the bound is mostly the predicted truncation.
    """
    return float(2.0 ** round(math.log2(machine_epsilon(dtype) ** (1.0 / (order + 2)))))
