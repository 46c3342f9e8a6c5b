"""Pareto frontier between disruption and non-coterminous population.

:func:`pareto_frontier` finds the efficient plans with the epsilon-constraint
method (every efficient point, supported or not, each an exact lexicographic
optimum under a hard limit on the non-coterminous population,
``Scenario.limits``), or with weighted sums (only the supported points).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import pandas as pd

from ccgmerge.analysis.sweep.scenarios import RunOptions, is_number
from ccgmerge.errors import ScenarioError
from ccgmerge.instance import Instance
from ccgmerge.plan import Status
from ccgmerge.scenario import Coterminosity, Scenario

__all__ = ["pareto_frontier"]


def pareto_frontier(
    instance: Instance,
    base_scenario: Scenario | None = None,
    objective: str = "merges",
    weights: Sequence[float] | None = None,
    *,
    method: str = "epsilon",
    options: RunOptions | None = None,
    max_points: int = 25,
    return_plans: bool = False,
):
    """Trade-off between disruption (``objective``) and non-coterminous population.

    Both are minimised. With ``method="epsilon"`` (the default) this is the
    **epsilon-constraint** method: the first point minimises the objective
    (ties broken by the non-coterminous population, lexicographically); each
    next point minimises the objective again subject to ``noncoterminous <=
    n - 1`` (a hard limit, ``Scenario.limits``), where ``n`` is the previous
    point's non-coterminous population (people are whole, so a step of one
    person misses no efficient point), until the limit cannot be met. Every
    point is an exact lexicographic optimum under its limit, so with
    ``gap=0`` the rows are exactly the efficient (Pareto-optimal) points,
    supported or not, from the least-disruption end to the
    least-non-coterminous end.

    With ``method="weighted"`` the points are those of weighted sums
    ``objective + w * noncoterminous``, which find only the *supported*
    efficient points (the corners of the frontier's convex hull): the two
    lexicographic ends and, without ``weights``, the corners in between by the
    dichotomic (Aneja-Nair) method; with ``weights`` each weight once.

    Parameters
    ----------
    base_scenario : Scenario
        Floor, coterminosity (``off``, ``nested`` or ``aligned``; not
        ``penalised``, which already weights the term) and other rules.
    objective : {"merges", "moved", "split_areas"}
        ``split_areas`` only with ``method="weighted"`` (limits apply to
        merges, moved and noncoterminous).
    method : {"epsilon", "weighted"}
    options : RunOptions
        Solver options of every solve (``gap=0`` for exact points).
    max_points : int
        Most solves (ends included).

    Returns
    -------
    DataFrame
        One row per distinct point found (and per solve without a checked
        plan): ``method``, ``weight`` (weighted) or ``limit`` (epsilon, the
        bound on the non-coterminous population), the objective,
        ``noncoterminous``, ``groups``, ``status``, ``checked`` (the
        solver-free checker's verdict), ``efficient`` (not dominated by
        another row), sorted by the objective. With ``return_plans``,
        ``(DataFrame, list of Plan)`` in the same order.

    Examples
    --------
    >>> import ccgmerge.data.synthetic as syn
    >>> inst = syn.generate(12, seed=4)
    >>> t = pareto_frontier(inst, Scenario(floor=300_000))
    >>> bool(t["checked"].all()), bool(t["efficient"].all())
    (True, True)
    >>> bool(t["merges"].is_monotonic_increasing and t["noncoterminous"].is_monotonic_decreasing)
    True
    """
    from ccgmerge.engine.solve import solve

    base = base_scenario or Scenario()
    options = options or RunOptions()
    if method not in ("epsilon", "weighted"):
        raise ScenarioError(f"pareto_frontier method={method!r}; allowed: ['epsilon', 'weighted'].")
    allowed = ["merges", "moved"] if method == "epsilon" else ["merges", "moved", "split_areas"]
    if objective not in allowed:
        raise ScenarioError(f"pareto_frontier objective={objective!r} with method={method!r}; allowed: {allowed}.")
    if base.coterminosity is Coterminosity.PENALISED:
        raise ScenarioError("pareto_frontier: base coterminosity 'penalised' already weights the non-coterminous "
                            "population; use 'off', 'nested' or 'aligned'.")
    if any(k == "noncoterminous" for k, _ in base.limits):
        raise ScenarioError("pareto_frontier: base_scenario already limits 'noncoterminous'; drop that limit.")
    kw = options.solve_kwargs()
    rows: list[dict] = []
    plans: list = []
    seen: set = set()
    solves = 0

    def run(obj, method, weight, limit=None):
        nonlocal solves
        solves += 1
        sc = base.replace(objective=obj)
        if limit is not None:
            sc = sc.replace(limits={**dict(base.limits), "noncoterminous": limit})
        plan = solve(instance, sc, **kw)
        m = plan.metrics
        row = {"method": method, "weight": weight, "limit": limit, objective: m.get(objective),
               "noncoterminous": m.get("noncoterminous"), "groups": m.get("groups"), "status": plan.status.value,
               "checked": plan.ok, "gap": plan.gap, "wall_time": round(plan.wall_time, 4)}
        if not plan.ok:
            if plan.status is not Status.INFEASIBLE or limit is None:
                rows.append(row)
                plans.append(plan)
            return None, plan
        point = (row[objective], row["noncoterminous"])
        if point not in seen:  # a weight on a segment may return one of its ends again
            seen.add(point)
            rows.append(row)
            plans.append(plan)
        return row, plan

    a, _ = run((objective, "noncoterminous"), "lexicographic" if method == "weighted" else "epsilon", None)
    if method == "epsilon":
        cur = a
        while cur is not None and solves < max_points:
            limit = cur["noncoterminous"] - 1
            if limit < 0:
                break
            nxt, plan = run((objective, "noncoterminous"), "epsilon", None, limit)
            if nxt is None or plan.status is not Status.OPTIMAL:
                break
            cur = nxt
        else:
            if cur is not None and solves >= max_points:
                warnings.warn(f"pareto_frontier stopped after max_points={max_points} solves with the frontier "
                              f"unfinished (last point: noncoterminous {cur['noncoterminous']:,}); raise max_points "
                              "for the rest.", stacklevel=2)
    else:
        b, _ = run(("noncoterminous", objective), "lexicographic", None)
        if a is not None and b is not None and (a[objective], a["noncoterminous"]) != (b[objective], b["noncoterminous"]):
            if weights is not None:
                for w in weights:
                    if not is_number(w) or w < 0:
                        raise ScenarioError(f"pareto_frontier weights: {w!r} is not a non-negative number.")
                    run({objective: 1.0, "noncoterminous": float(w)}, "weighted", float(w))
            else:
                stack = [(a, b)]
                while stack and solves < max_points:
                    p, q = stack.pop()
                    dn = p["noncoterminous"] - q["noncoterminous"]
                    df_ = q[objective] - p[objective]
                    if dn <= 0 or df_ <= 0:
                        continue
                    w = df_ / dn
                    r, _ = run({objective: 1.0, "noncoterminous": w}, "weighted", w)
                    if r is None:
                        continue
                    line = p[objective] + w * p["noncoterminous"]
                    val = r[objective] + w * r["noncoterminous"]
                    if val < line - 1e-7 * max(1.0, abs(line)):
                        stack.append((r, q))
                        stack.append((p, r))
    table = pd.DataFrame(rows)
    pts = [(r[objective], r["noncoterminous"]) if r["checked"] else None for r in rows]

    def dominated(i):
        if pts[i] is None:
            return True
        return any(j != i and pts[j] is not None and pts[j][0] <= pts[i][0] and pts[j][1] <= pts[i][1] and pts[j] != pts[i]
                   for j in range(len(pts)))

    table["efficient"] = [not dominated(i) for i in range(len(rows))]
    order = table.sort_values([objective, "noncoterminous"], kind="stable").index
    table = table.loc[order].reset_index(drop=True)
    if return_plans:
        return table, [plans[i] for i in order]
    return table
