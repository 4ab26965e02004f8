"""The code behind each verdict: the exact functions the suite timed for a strategy in a framework.

`strategy_code(problem, options, backend, strategy)` asks the backend's registry for the declared
strategy (`get_backend(b).registry.declaration(problem, strategy)`, a `backends.base.StrategyDecl`):
its build function and the parts it declares (its input-derivative operator, its outer mode). It
follows every function, class and module-level constant these refer to (through globals and
closures, nested functions included) inside the `backends` package, so the page shows the
strategy's maths and the framework helpers it calls, each with its file and line. A composite
strategy (the UDE's, whose strategies are its penalty's) declares its inner problem, whose
strategy code is added.

Backends are imported lazily; a framework that is not installed gives a `StrategyCode` whose
`error` says so instead of failing the report.
"""

from __future__ import annotations

import ast
import functools
import inspect
import re
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_MODULES = ("backends.base", "backends")
"""The generic registry machinery (e.g. the composite wrapper): followed, not shown."""


@dataclass(frozen=True)
class Snippet:
    name: str
    path: str
    """File relative to the repository root."""
    line: int
    source: str
    role: str
    """"build" (the registered build function), "strategy" (its module), "helper" (elsewhere)."""


@dataclass(frozen=True)
class StrategyCode:
    problem: str
    backend: str
    strategy: str
    snippets: tuple[Snippet, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None
    inner: tuple[StrategyCode, ...] = field(default_factory=tuple)

    @property
    def anchor(self) -> str:
        return code_anchor(self.problem, self.backend, self.strategy)

    @property
    def build(self) -> Snippet | None:
        return next((s for s in self.snippets if s.role == "build"), None)


def code_anchor(problem: str, backend: str, strategy: str) -> str:
    """The page anchor of a strategy's code (the decision table links to it)."""
    return "code-" + re.sub(r"[^a-z0-9]+", "-", f"{backend}-{problem}-{strategy}".lower()).strip("-")


def _names(code: types.CodeType) -> set[str]:
    """Global names used by a code object and every code object nested in it."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _in_backends(obj) -> bool:
    module = getattr(obj, "__module__", "") or ""
    return module.startswith("backends.")


def _referenced(obj) -> list:
    """Functions, classes and (name, module) constants `obj` refers to."""
    if inspect.isclass(obj):
        out = []
        for member in vars(obj).values():
            member = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            if inspect.isfunction(member):
                out.extend(_referenced(member))
        return out
    if not inspect.isfunction(obj):
        return []
    out = []
    if obj.__closure__:
        out.extend(cell.cell_contents for cell in obj.__closure__ if _cell_ok(cell))
    module_globals = obj.__globals__
    for name in sorted(_names(obj.__code__)):
        if name in module_globals:
            value = module_globals[name]
            if inspect.isfunction(value) or inspect.isclass(value):
                out.append(value)
            elif isinstance(value, (dict, tuple, list, int, float, str)) and not name.startswith("__"):
                out.append(_Constant(name, module_globals.get("__name__", "")))
    return out


@dataclass(frozen=True)
class _Constant:
    """A module-level constant a function reads (shown as its assignment)."""

    name: str
    module: str


def _cell_ok(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def _snippet(obj, role: str) -> Snippet | None:
    try:
        lines, start = inspect.getsourcelines(obj)
        path = inspect.getsourcefile(obj) or ""
    except (OSError, TypeError):
        return None
    return Snippet(
        getattr(obj, "__qualname__", getattr(obj, "__name__", "?")),
        _relative(path),
        start,
        textwrap.dedent("".join(lines)).rstrip(),
        role,
    )


def _constant_snippet(name: str, module_name: str) -> Snippet | None:
    """The module-level assignment of constant `name` (e.g. the ACTIVATIONS table)."""
    import importlib

    try:
        module = importlib.import_module(module_name)
        path = inspect.getsourcefile(module)
        text = Path(path).read_text(encoding="utf-8")
    except (ImportError, OSError, TypeError):
        return None
    for node in ast.parse(text).body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            source = ast.get_source_segment(text, node) or ""
            return Snippet(name, _relative(path), node.lineno, source, "helper")
    return None


def _shown(obj):
    """What the page shows for `obj`: a function nested in another (a closure, a lambda) is shown
    as the module-level function that makes it, which contains its source and its context."""
    qualname = getattr(obj, "__qualname__", "")
    if "<locals>" in qualname and inspect.isfunction(obj):
        outer = obj.__globals__.get(qualname.split(".")[0])
        if inspect.isfunction(outer):
            return outer
    return obj


def describe(value) -> str:
    """A bound value in words: `'taylor'`, `True`, `input_grad_reverse`, `jet_laplacian(collapsed=True)`."""
    if inspect.isfunction(value):
        name = value.__qualname__
        if "<locals>" in name:
            name = name.split(".<locals>")[0]
            cells = zip(value.__code__.co_freevars, value.__closure__ or ())
            simple = {
                k: repr(c.cell_contents)
                for k, c in cells
                if _cell_ok(c) and isinstance(c.cell_contents, (str, int, float, bool, type(None)))
            }
            if simple:
                name += "(" + ", ".join(f"{k}={v}" for k, v in simple.items()) + ")"
        return name
    if isinstance(value, (str, int, float, bool, type(None))):
        return repr(value)
    return f"<{type(value).__name__}>"


def bound_values(decl) -> dict[str, str]:
    """What makes a declared strategy this one, described: its declared parts (operator, outer
    mode), a composite's strategy name, and the values a factory-made build closes over."""
    out = {name: describe(value) for name, value in decl.parts().items()}
    if decl.inner_problem is not None:
        out["strategy"] = repr(decl.name)
    fn = decl.build
    if inspect.isfunction(fn) and fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            if _cell_ok(cell) and not inspect.isclass(cell.cell_contents):
                described = describe(cell.cell_contents)
                if described != name:  # `build = build` says nothing
                    out[name] = described
    return out


def collect(start, parts=()) -> list[Snippet]:
    """Snippets of `start` (a build function), of its declared `parts` and of everything they refer
    to inside the backends package: the build function first, then its module's functions in file
    order, then helpers from other modules."""
    seen: set = set()
    shown: list = []
    constants: list[tuple[str, str]] = []
    queue = [start, *parts]
    while queue:
        obj = queue.pop(0)
        if isinstance(obj, _Constant):
            if obj.module.startswith("backends.") and (obj.name, obj.module) not in constants:
                constants.append((obj.name, obj.module))
            continue
        if id(obj) in seen or not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        seen.add(id(obj))
        if obj is not start and not _in_backends(obj):
            continue
        display = _shown(obj)
        if obj.__module__ not in SKIP_MODULES and all(display is not d for d in shown):
            shown.append(display)
        queue.extend(_referenced(obj))
        if display is not obj:
            queue.append(display)
    if not shown:
        return []
    build_module = shown[0].__module__
    snippets = []
    for i, obj in enumerate(shown):
        role = "build" if i == 0 else ("strategy" if obj.__module__ == build_module else "helper")
        snippet = _snippet(obj, role)
        if snippet is not None:
            snippets.append(snippet)
    for name, module in constants:
        snippet = _constant_snippet(name, module)
        if snippet is not None and snippet.source:
            snippets.append(snippet)
    build, rest = snippets[:1], sorted(snippets[1:], key=lambda s: (s.role != "strategy", s.path, s.line))
    return build + [s for s in rest if not any(s.path == b.path and s.line == b.line for b in build)]


@functools.cache
def _strategy_code(problem: str, options: tuple, backend: str, strategy: str) -> StrategyCode:
    from backends import BACKENDS, get_backend
    from problems import BenchInputError, get_problem

    if backend not in BACKENDS:
        return StrategyCode(problem, backend, strategy, error=f"{backend} was measured outside this suite")
    try:
        instance = get_problem(problem, **dict(options))
        registry = get_backend(backend).registry
    except ImportError as exc:
        return StrategyCode(problem, backend, strategy, error=f"{backend} cannot be imported here ({exc})")
    except (BenchInputError, TypeError, ValueError) as exc:  # an option or plugin this checkout lacks
        return StrategyCode(problem, backend, strategy, error=f"cannot build the instance here: {exc}")
    reason = (
        registry.reason(instance, strategy) if strategy in instance.strategies else "not in the catalogue"
    )
    if reason:
        return StrategyCode(problem, backend, strategy, error=f"not available here: {reason}")
    decl = registry.declaration(instance, strategy)
    snippets = tuple(collect(decl.build, decl.parts().values()))
    bound = bound_values(decl)
    notes = (f"The build is bound to: {', '.join(f'{k} = {v}' for k, v in bound.items())}.",) if bound else ()
    inner = ()
    if decl.inner_problem is not None:
        sub = decl.inner_problem(instance)
        sub_options = tuple(sorted(sub.options.items()))
        inner = (_strategy_code(sub.name, sub_options, backend, strategy),)
        notes += (
            f"{problem}'s strategy {strategy!r} is its {sub.name} strategy: the build above "
            f"composes the {sub.name} code below.",
        )
    return StrategyCode(problem, backend, strategy, snippets, notes, None, inner)


def strategy_code(problem: str, options: dict, backend: str, strategy: str) -> StrategyCode:
    """The code the suite timed for `strategy` on `backend` for `problem` (built with `options`)."""
    plain = tuple(sorted((k, _plain(v)) for k, v in options.items()))
    return _strategy_code(problem, plain, backend, strategy)


def _plain(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):
        return _plain(value.item())
    return value
