"""A PDE residual written as text, parsed by sympy, evaluated by any array namespace.

`parse_residual("u_t + u*u_x - 0.01*u_xx", inputs=("t", "x"), outputs=("u",))` reads each
`;`-separated component with `sympy.parse_expr` (restricted to the names below: no other sympy
or Python name is reachable) and classifies its symbols:

* an output name (`u`) is the network's output, an input name (`x`) the coordinate;
* `<output>_<inputs>` is a partial derivative, its suffix split into input names (`u_tx` = ∂ₓ∂ₜu,
  `u_x1x1` with inputs x1, x2); the multi-index counts each input;
* `lap(u)` is the Laplacian of output u over every input except `t`.

Operations: + − × /, powers with a constant exponent, numbers, `pi`, and exp, sin, cos, tanh, log,
sqrt. Anything else, an unknown name or text that does not parse is one BenchInputError line.
The residual is framework-neutral: a `DerivativePlan` (which multi-indices, which Laplacian) and
`evaluate(values, xp)`, which walks the expression tree with the namespace's own functions
(numpy for the complex-step reference, jax.numpy, torch), so one definition serves all three.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import sympy
from sympy.parsing.sympy_parser import parse_expr, standard_transformations

from problems.errors import BenchInputError
from problems.partials import DerivativePlan

FUNCTIONS = ("exp", "sin", "cos", "tanh", "log")
"""Elementwise functions a residual may call (each namespace has them under these names)."""

TIME = "t"
"""The input a Laplacian does not sum over."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")


@dataclass(frozen=True)
class Term:
    """A symbol of a residual: output `output`'s derivative `alpha` (zeros: the value), its
    Laplacian (`laplacian`), or input coordinate `coordinate`."""

    output: int = -1
    alpha: tuple[int, ...] = ()
    laplacian: bool = False
    coordinate: int = -1


@dataclass(frozen=True)
class Residual:
    """Components r_c (sympy expressions) in the symbols `terms` names, over `inputs`/`outputs`."""

    text: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    components: tuple[sympy.Expr, ...]
    terms: tuple[tuple[str, Term], ...]

    @cached_property
    def term(self) -> dict[str, Term]:
        return dict(self.terms)

    @cached_property
    def plan(self) -> DerivativePlan:
        alphas = {t.alpha for t in self.term.values() if t.output >= 0 and not t.laplacian and any(t.alpha)}
        lap = any(t.laplacian for t in self.term.values())
        spatial = tuple(i for i, name in enumerate(self.inputs) if name != TIME) if lap else ()
        return DerivativePlan(len(self.inputs), tuple(sorted(alphas)), spatial)

    @cached_property
    def _laplacian_symbols(self) -> dict[int, sympy.Symbol]:
        return {t.output: sympy.Symbol(name) for name, t in self.terms if t.laplacian}

    @property
    def laplacian_outputs(self) -> tuple[int, ...]:
        """The outputs whose Laplacian the residual reads."""
        return tuple(sorted(self._laplacian_symbols))

    @cached_property
    def _laplacian_derivatives(self) -> tuple[dict[int, sympy.Expr], ...]:
        return tuple(
            {o: sympy.diff(c, s) for o, s in self._laplacian_symbols.items()} for c in self.components
        )

    @property
    def affine_in_laplacian(self) -> bool:
        """Whether every component is affine in the Laplacian terms (∂r/∂Δ free of every Δ)."""
        symbols = set(self._laplacian_symbols.values())
        return all(
            not (d.free_symbols & symbols) for row in self._laplacian_derivatives for d in row.values()
        )

    def laplacian_coefficients(self, values: Mapping, X, xp) -> list[dict[int, object]]:
        """∂r_c/∂Δu_o for each component c and Laplacian output o, evaluated like `evaluate`."""
        out = []
        for row in self._laplacian_derivatives:
            out.append({o: self._evaluate_expression(d, values, X, xp) for o, d in row.items()})
        return out

    def _evaluate_expression(self, expr, values, X, xp):
        def leaf(name):
            t = self.term[name]
            if t.coordinate >= 0:
                return X[..., t.coordinate]
            return (values["lap"] if t.laplacian else values[t.alpha])[..., t.output]

        return _evaluate(expr, leaf, xp)

    def evaluate(self, values: Mapping, X, xp) -> list:
        """The components at the points: `values[α]` (…, d_out) holds ∂^α u (α = zeros: u),
        `values["lap"]` the Laplacians, X (…, d_in) the coordinates; `xp` the array namespace."""

        return [self._evaluate_expression(c, values, X, xp) for c in self.components]


def _evaluate(expr, leaf: Callable, xp):
    if expr.is_Symbol:
        return leaf(expr.name)
    if expr.is_number:
        return float(expr)
    args = [_evaluate(a, leaf, xp) for a in expr.args] if not expr.is_Pow else None
    if expr.is_Add:
        return functools.reduce(operator.add, args)
    if expr.is_Mul:
        return functools.reduce(operator.mul, args)
    if expr.is_Pow:
        base, exponent = expr.args
        power = int(exponent) if exponent.is_Integer else float(exponent)
        return _evaluate(base, leaf, xp) ** power
    return getattr(xp, type(expr).__name__)(args[0])


def _split(suffix: str, inputs: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every way to write `suffix` as a sequence of input names."""
    if not suffix:
        return [()]
    return [(name, *rest) for name in inputs if suffix.startswith(name)
            for rest in _split(suffix[len(name):], inputs)]  # fmt: skip


def _check_names(kind: str, names: tuple[str, ...]) -> None:
    bad = [n for n in names if not _NAME.fullmatch(n) or n in FUNCTIONS or n in ("lap", "pi")]
    if bad or len(set(names)) != len(names) or not names:
        raise BenchInputError(
            f"{kind} must be distinct names of letters and digits (starting with a letter, no "
            f"underscore, not a function name), e.g. t,x; got {','.join(names)!r}"
        )


def _classify(name: str, inputs, outputs) -> Term:
    if name in outputs:
        return Term(output=outputs.index(name), alpha=(0,) * len(inputs))
    if name in inputs:
        return Term(coordinate=inputs.index(name))
    head, _, suffix = name.partition("_")
    splits = _split(suffix, inputs) if head in outputs else []
    if len(splits) != 1:
        derivatives = ", ".join(f"{o}_{i}" for o in outputs[:1] for i in inputs[:2])
        why = "ambiguous derivative" if splits else "unknown name"
        raise BenchInputError(
            f"residual: {why} {name!r}; valid names: outputs {', '.join(outputs)}, inputs "
            f"{', '.join(inputs)}, derivatives <output>_<inputs> (e.g. {derivatives}, "
            f"{outputs[0]}_{inputs[-1] * 2}), lap(<output>), pi, {', '.join(FUNCTIONS)}, sqrt"
        )
    alpha = [0] * len(inputs)
    for part in splits[0]:
        alpha[inputs.index(part)] += 1
    return Term(output=outputs.index(head), alpha=tuple(alpha))


def _check_operations(expr, text: str) -> None:
    """Refuse anything `evaluate` cannot compute (or that is not complex-analytic)."""
    for node in sympy.preorder_traversal(expr):
        if node.is_Symbol or node.is_number or node.is_Add or node.is_Mul:
            continue
        if node.is_Pow and node.args[1].is_number and node.args[1].is_real:
            continue
        if type(node).__name__ in FUNCTIONS and len(node.args) == 1:
            continue
        raise BenchInputError(
            f"residual {text!r}: unsupported operation {node} (supported: + - * /, powers with a "
            f"constant exponent, {', '.join(FUNCTIONS)}, sqrt, lap(<output>))"
        )


def parse_residual(text: str, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> Residual:
    """The residual `text` (components separated by `;`) over `inputs` and `outputs`."""
    _check_names("input_names", inputs)
    _check_names("output_names", outputs)
    if not isinstance(text, str) or not text.strip():
        raise BenchInputError(f"residual must be a non-empty expression such as 'u_t + u*u_x - 0.01*u_xx'; "
                              f"got {text!r}")  # fmt: skip
    lap = sympy.Function("lap")
    allowed = {"Integer": sympy.Integer, "Float": sympy.Float, "Rational": sympy.Rational,
               "Symbol": sympy.Symbol, "Function": sympy.Function, "pi": sympy.pi, "sqrt": sympy.sqrt,
               "lap": lap,
               **{f: getattr(sympy, f) for f in FUNCTIONS}}  # fmt: skip
    components, terms = [], {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            raise BenchInputError(f"residual {text!r}: an empty component between ';'")
        try:
            expr = parse_expr(part, local_dict={}, global_dict=dict(allowed),
                              transformations=standard_transformations)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 (sympy raises SyntaxError, TokenError, TypeError, …)
            raise BenchInputError(f"residual {part!r} does not parse: {type(exc).__name__}: {exc}") from None
        if not isinstance(expr, sympy.Expr):
            raise BenchInputError(f"residual {part!r} is not an expression")
        replacements = {}
        for call in expr.atoms(lap):
            (arg,) = call.args
            if not (arg.is_Symbol and arg.name in outputs):
                raise BenchInputError(f"residual {part!r}: lap() takes one output name "
                                      f"({', '.join(outputs)}), got lap({arg})")  # fmt: skip
            symbol = sympy.Symbol(f"lap({arg.name})")
            terms[symbol.name] = Term(output=outputs.index(arg.name), laplacian=True)
            replacements[call] = symbol
        expr = expr.xreplace(replacements)
        for symbol in expr.free_symbols:
            if symbol.name not in terms:
                terms[symbol.name] = _classify(symbol.name, inputs, outputs)
        _check_operations(expr, part)
        components.append(expr)
    if not any(t.output >= 0 for t in terms.values()):
        raise BenchInputError(
            f"residual {text!r} does not involve the network's outputs {', '.join(outputs)}"
        )
    return Residual(text, tuple(inputs), tuple(outputs), tuple(components), tuple(sorted(terms.items())))
