"""The layout's promises, checked by parsing the package: no import cycles between
ccgmerge's modules, no module reading another's private names, no module longer
than the house limit, and a checker whose connectivity test does not share the
optimiser's graph code.

Run alone with ``python -m pytest tests/test_architecture.py -q``.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

import ccgmerge

PACKAGE = Path(ccgmerge.__file__).resolve().parent
#: the house limit on a module's length (issue: "no module longer than about 600 lines")
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for p in sorted(PACKAGE.rglob("*.py")):
        rel = p.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The ccgmerge modules ``name`` imports (module level and inside functions alike)."""
    tree = ast.parse(path.read_text(), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("ccgmerge"):
                    found.add(a.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("ccgmerge"):
                continue
            for a in node.names:
                sub = f"{mod}.{a.name}"
                found.add(sub if sub in MODULES else mod)
    return {m for m in found if m in MODULES and m != name}


def import_graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for name, path in MODULES.items():
        g.add_node(name)
        for m in _imports(name, path):
            g.add_edge(name, m)
    return g


#: The only imports allowed to point upwards: ``Plan.to_geodataframe`` and ``Plan.explore`` delegate
#: lazily to the pictures layer (as pandas' ``DataFrame.plot`` does to ``pandas.plotting``), so a
#: notebook user can write ``plan.explore()``. Each must sit inside the named function only.
DELEGATES = {("ccgmerge.plan", "ccgmerge.plots"): {"to_geodataframe", "explore"}}


def test_no_import_cycles():
    """Every import between ccgmerge's modules, lazy ones included, points one way (but for the
    named call-time delegations of :data:`DELEGATES`)."""
    g = import_graph()
    g.remove_edges_from(list(DELEGATES))
    cycles = list(nx.simple_cycles(g))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in cycles)


def _importing_functions(path: Path, target: str) -> set[str]:
    """Names of the functions of ``path`` that import ``target`` (None for a module-level import)."""
    tree = ast.parse(path.read_text(), str(path))
    out = set()
    for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))] + [tree]:
        body = fn.body if fn is not tree else [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        for node in (m for stmt in body for m in ast.walk(stmt)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(m == target or m.startswith(target + ".") for m in mods):
                out.add(fn.name if fn is not tree else None)
    return out


def test_upward_delegates_are_only_the_named_methods():
    for (mod, target), names in DELEGATES.items():
        assert _importing_functions(MODULES[mod], target) == names


def test_layers_point_downwards():
    """Data, instance and rules never import the engine, analysis, plots or the CLI;
    the engine never imports analysis, plots or the CLI (but for :data:`DELEGATES`)."""
    g = import_graph()
    g.remove_edges_from(list(DELEGATES))
    upper = ("ccgmerge.engine", "ccgmerge.analysis", "ccgmerge.plots", "ccgmerge.cli")
    base = [m for m in MODULES if m.split(".")[1:2] and m.split(".")[1] in
            ("errors", "instance", "tables", "scenario", "metrics", "rules", "check", "plan", "data")]
    bad = [(a, b) for a in base for b in g.successors(a) if b.startswith(upper)]
    engine = [m for m in MODULES if m.startswith("ccgmerge.engine")]
    bad += [(a, b) for a in engine for b in g.successors(a) if b.startswith(upper[1:])]
    assert bad == []


def _private_reads(path: Path) -> list[str]:
    """Places where ``path`` reads a private name defined in another module:
    ``from ccgmerge.x import _y``, ``alias._y`` on an imported ccgmerge module,
    ``obj._y`` for a name this module does not define, and ``getattr(obj, "_y")``."""
    tree = ast.parse(path.read_text(), str(path))
    own = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    own |= {t.attr for n in ast.walk(tree) if isinstance(n, (ast.Assign, ast.AnnAssign))
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Attribute)}
    own |= {n.target.id for n in ast.walk(tree) if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
    foreign = set()  # names bound to third-party modules (their private API is their business)
    out = []
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            foreign |= {(a.asname or a.name).split(".")[0] for a in n.names if not a.name.startswith("ccgmerge")}
        elif isinstance(n, ast.ImportFrom):
            if (n.module or "").startswith("ccgmerge") or n.level:
                out += [f"{path.name}:{n.lineno} imports {a.name}" for a in n.names
                        if a.name.startswith("_") and not a.name.startswith("__")]
            else:
                foreign |= {a.asname or a.name for a in n.names}
    for n in ast.walk(tree):
        if (isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__")
                and isinstance(n.value, ast.Name) and n.value.id not in ("self", "cls")
                and n.value.id not in foreign and n.attr not in own):
            out.append(f"{path.name}:{n.lineno} reads {n.value.id}.{n.attr}")
        elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr", "setattr")
              and len(n.args) >= 2 and isinstance(n.args[1], ast.Constant) and isinstance(n.args[1].value, str)
              and n.args[1].value.startswith("_") and not n.args[1].value.startswith("__")):
            out.append(f"{path.name}:{n.lineno} {n.func.id}(..., {n.args[1].value!r})")
    return out


def test_no_module_reads_another_modules_private_names():
    reads = [r for p in MODULES.values() for r in _private_reads(p)]
    assert reads == []


def test_private_read_detector_catches_each_form(tmp_path):
    """The detector above is not vacuous: each form it looks for is reported."""
    f = tmp_path / "bad.py"
    f.write_text("from ccgmerge.instance import _x\nimport ccgmerge.rules as r\n"
                 "def f(inst):\n    return inst._baseline, r._codes, getattr(inst, '_areas')\n")
    assert len(_private_reads(f)) == 4


def test_no_module_is_longer_than_the_house_limit():
    long = {name: n for name, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_checker_connectivity_does_not_use_the_optimisers_graph_code():
    assert "ccgmerge.engine.subsets" not in _imports("ccgmerge.rules", MODULES["ccgmerge.rules"])
    assert not any(m.startswith("ccgmerge.engine") for m in _imports("ccgmerge.check", MODULES["ccgmerge.check"]))


def _random_instance(rng: random.Random, n: int) -> tuple[ccgmerge.Instance, nx.Graph]:
    g = nx.gnp_random_graph(n, rng.choice([0.1, 0.2, 0.35]), seed=rng.randrange(10**6))
    codes = [f"U{i:02d}" for i in range(n)]
    units = pd.DataFrame({"code": codes, "population": [rng.randint(1, 100) for _ in range(n)]})
    areas = pd.DataFrame({"code": ["H"], "population": [int(units["population"].sum())]})
    mem = pd.DataFrame({"unit": codes, "area": "H", "population": units["population"]})
    adj = [(codes[a], codes[b]) for a, b in g.edges]
    return ccgmerge.Instance.from_frames(units, areas, mem, adj, warn=False), g


@pytest.mark.parametrize("seed", range(6))
def test_checker_and_enumeration_agree_on_connectivity(seed):
    """rules.is_connected_set (scipy, the checker's) and subsets.connected_pieces (the
    optimiser's) agree with networkx on random subsets of random graphs."""
    from ccgmerge.engine.subsets import connected_pieces
    from ccgmerge.rules import is_connected_set

    rng = random.Random(seed)
    checked = {True: 0, False: 0}
    for _ in range(8):
        n = rng.randint(1, 25)
        inst, g = _random_instance(rng, n)
        for _ in range(40):
            members = rng.sample(range(n), rng.randint(1, n))
            want = nx.is_connected(g.subgraph(members))
            assert is_connected_set(inst, members) is want, members
            assert (len(connected_pieces(inst.neighbours, members)) <= 1) is want, members
            checked[want] += 1
    assert checked[True] > 0 and checked[False] > 0


def readme_layout() -> set[str]:
    """The module paths drawn in README's "Project layout" block (a tree indented
    by two spaces a level; ``name/`` opens a folder), relative to the repository."""
    text = (PACKAGE.parent / "README.md").read_text()
    block = text.split("## Project layout", 1)[1].split("```", 2)[1]
    paths, stack = set(), []
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        stack = stack[:depth] + [name.rstrip("/")]
        if name.endswith(".py"):
            paths.add("/".join(stack))
    return paths


def test_readme_layout_draws_every_module():
    """README's "Project layout" lists exactly the package's modules, one line each."""
    actual = {p.relative_to(PACKAGE.parent).as_posix() for p in PACKAGE.rglob("*.py")}
    drawn = {p for p in readme_layout() if p.startswith("ccgmerge/")}
    assert sorted(actual - drawn) == [] and sorted(drawn - actual) == []
