"""The driver: exact least-moved regrouping of a connected block (:func:`solve_realign`).

First the best plan ``UB`` is sought (a wholesale plan, then heuristic plans
for each owner set whose bound is below it). Then, for each owner set, its
bounds are raised (owner-set cost, pool bound, connector branches and their
searches) and, if still below UB, restricted models prove its optimum. The
restricted model with slack ``s`` and the cutoff ``moved <= U(S) + s - 1``
holds exactly the plans of S moving fewer than ``U(S) + s`` people: if it
has none, S's optimum is at least ``U(S) + s``; its optimum is S's optimum.
Slacks grow (one unit's people, doubling) from the bound to ``UB - U(S)``.
The block's bound is ``min(UB, min_S bound_S)``, with ``bound_S`` the proven
value for each set (``LB(S)`` for sets never solved).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ccgmerge.engine.formulations.realign.data import (RealignData, RealignResult, checked_moved, moved_of,
                                                       owner_sets, wholesale_plan)
from ccgmerge.engine.formulations.realign.bounds import label_candidates, own_components, owner_set_cost, pool_bound
from ccgmerge.engine.formulations.realign.connectors import connector_branches
from ccgmerge.engine.formulations.realign.heuristics import fit_plan, heuristic_plan, search_plan
from ccgmerge.engine.formulations.realign.model import BuildStopped, build_realign, read_groups, restrict
from ccgmerge.engine.formulations.realign.search import search_branches
from ccgmerge.plan import Status

__all__ = ["HEURISTIC_SHARE", "POOL_SHARE", "SEARCH_SHARE", "solve_realign"]


#: Share of the time left that solve_realign may spend on heuristic plans.
HEURISTIC_SHARE = 0.4


#: Most share of the time left that solve_realign gives one pool_bound solve.
POOL_SHARE = 0.1


#: Share of the time left that solve_realign gives one owner set's connector branch searches.
SEARCH_SHARE = 0.6


def solve_realign(d: RealignData, run: Callable, options, deadline: float | None) -> RealignResult:
    """Exact least-moved regrouping of a connected block (see :mod:`ccgmerge.engine.formulations.realign`).

    ``run(prob, options, time_limit, integral)`` is the solver call
    (:func:`ccgmerge.engine.backends.run`)."""
    total = sum(int(d.pop[i]) for i in d.units)
    lp = d.label_pop()
    sets = owner_sets(d)
    # a single group of everything, owned by its largest baseline group, is a plan
    # (owned by no one when every label is unownable: then it is optimal, everyone moves)
    ownable = [l for l in range(d.n_labels) if l not in d.unownable]
    top = max(ownable, key=lambda l: (lp[l], -l)) if ownable else -1
    best: tuple[int, dict[int, list[int]]] = (total - (lp[top] if ownable else 0), {top: sorted(d.units)})
    if not ownable and total >= d.floor:
        return RealignResult([sorted(d.units)], Status.OPTIMAL, float(total), float(total),
                             "realign: every label owned elsewhere, one group moving everyone", owners=[-1])
    whole = wholesale_plan(d)
    if whole is not None and moved_of(d, whole) < best[0]:
        best = (moved_of(d, whole), whole)
    bounds: dict[tuple[int, ...], float] = {}
    log: list[dict] = []
    n_vars = n_cons = 0
    unproven = False
    step0 = int(np.median([int(d.pop[i]) for i in d.units]))  # about one unit's people
    # primal: a heuristic plan for each owner set whose bound is below the best plan, then
    # iterated local search from it; best bounds first, for at most HEURISTIC_SHARE of the time
    t0 = time.perf_counter()
    stop = None if deadline is None else t0 + HEURISTIC_SHARE * max(0.0, deadline - t0)
    all_costs: dict[tuple[int, ...], tuple[dict[int, float], float, dict]] = {}
    found: dict[tuple[int, ...], dict[int, list[int]]] = {}  # the heuristic plan of each owner set

    def set_costs(S):
        """(c_l per label, owner_set_cost, label_candidates per label) of S, computed once."""
        if S not in all_costs:
            opts = {l: label_candidates(d, S, l) for l in S}
            all_costs[S] = ({l: opts[l][0][0][0] for l in S}, owner_set_cost(d, S, opts), opts)
        return all_costs[S]

    for LB, U, S in sets:
        if LB >= best[0] or (stop is not None and time.perf_counter() >= stop):
            break
        _, joint, label_opts = set_costs(S)
        if U + joint >= best[0]:
            continue
        plan = heuristic_plan(d, S, stop, label_opts)
        if plan is None:
            continue
        val = moved_of(d, plan)
        entry = {"owners": S, "heuristic": val}
        if val > U + joint:  # not yet at S's bound: search on
            plan = search_plan(d, S, plan, deadline=stop)
            val = entry["search"] = moved_of(d, plan)
        log.append(entry)
        found[S] = plan
        if val < best[0]:
            best = (val, plan)
    for LB, U, S in sets:
        UB = best[0]
        if LB >= UB:
            bounds[S] = UB
            continue
        costs, joint, label_opts = set_costs(S)
        LB = max(LB, U + joint)
        if LB >= UB:
            bounds[S] = UB
            continue
        if deadline is not None and time.perf_counter() >= deadline:
            bounds[S] = LB
            unproven = True
            continue
        pool_time = None if deadline is None else max(1.0, POOL_SHARE * (deadline - time.perf_counter()))
        pool = pool_bound(d, S, U, run, options, pool_time, label_opts)
        log.append({"owners": S, "LB": LB, "pool": pool})
        LB = max(LB, pool)
        # a label joining its free components holds a connector: branch on it, labels in
        # pieces first, then labels whose best candidate pays a corridor
        split = {l for l in S if len(own_components(d, l, label_opts[l][1])) >= 2}
        paying = {l for l in S if len(label_opts[l][0][0][1]) >= 2}
        def pool_fn(d_, o_):
            left = None if deadline is None else max(1.0, POOL_SHARE * (deadline - time.perf_counter()))
            return pool_bound(d_, S, 0, run, options, left, o_)

        branchable = []  # (open connectors, label, their list) for labels whose other branch is closed
        promising = []  # (least connector bound, label, connectors) of every complete entry
        for l in sorted(split | paying, key=lambda l: (l not in split, l)):
            if LB >= UB or (deadline is not None and time.perf_counter() >= deadline):
                break
            entries = connector_branches(d, S, l, UB - U, label_opts, deadline, pool_fn)
            for e in entries:
                if not e["complete"]:
                    continue
                cc = min([float(UB - U), e["other"]] + [b for b, _ in e["connectors"]])
                log.append({"owners": S, "connector": l, "bound": U + cc})
                LB = max(LB, U + cc)
                if U + e["other"] >= UB:
                    branchable.append((len(e["connectors"]), l, e["connectors"]))
                if e["connectors"]:
                    promising.append((e["connectors"][0][0], l, e["connectors"]))
        if LB < UB and promising and (deadline is None or time.perf_counter() < deadline):
            if branchable:
                # every plan below UB holds one of these connectors: closing them all proves S
                _, l, conns = min(branchable, key=lambda b: (b[0], b[1]))
            else:
                # no branching covers every plan: search the most promising connectors for a
                # better plan only (a plan meeting the bounds above proves S); a connector
                # listed for several B keeps its best bound
                _, l, _ = min(promising, key=lambda b: (b[0], b[1]))
                per: dict[tuple[int, ...], float] = {}
                for _, m, cs in promising:
                    for b, C in cs:
                        if m == l:
                            per[C] = max(per.get(C, b), b)
                conns = sorted((b, C) for C, b in per.items())
            stop = None if deadline is None else time.perf_counter() + SEARCH_SHARE * (deadline - time.perf_counter())
            best, open_bound = search_branches(d, S, U, l, conns, best, stop, log)
            UB = best[0]
            if branchable:
                LB = max(LB, min(open_bound, UB))
        if LB < UB and (deadline is None or time.perf_counter() < deadline):
            # before the restricted models: exact-fit swaps from S's best plan (a group a few
            # people above the floor sheds them only by trading a few units for a few)
            start = best[1] if set(best[1]) == set(S) else found.get(S)
            if start is not None:
                plan = fit_plan(d, S, start, deadline)
                val = checked_moved(d, plan, S, "the exact-fit swaps")
                log.append({"owners": S, "fit": val})
                if val < best[0]:
                    best = (val, plan)
                UB = best[0]
        if LB >= UB:
            bounds[S] = UB
            continue
        # The restriction with slack s and the cutoff moved <= U + s - 1 holds exactly the
        # plans of S moving fewer than U + s people: no plan proves S's optimum >= U + s,
        # an optimum is S's optimum. Slacks grow from the bound to UB - U.
        lo, step = LB - U, max(1, step0)
        while True:
            s = min(lo + step, UB - U)
            entry = {"owners": S, "LB": LB, "U": U, "slack": s}
            log.append(entry)
            r = restrict(d, S, U, s, costs)
            if r is None:  # some unit reaches no owner within the slack
                entry["result"] = "empty"
                done, bound_s = False, U + s
            else:
                built = time.perf_counter()
                try:
                    prob, x = build_realign(r, d.floor, name="realign", deadline=deadline)
                    built = time.perf_counter() - built
                    if deadline is not None and deadline - time.perf_counter() < built:
                        # writing the model for the solver takes about as long as building it
                        raise BuildStopped("too little time left to write and solve the restricted model")
                except BuildStopped as exc:  # the bound so far (U + lo) stands
                    entry["result"] = f"stopped: {exc}"
                    bounds[S] = max(LB, min(U + lo, UB))
                    unproven = True
                    break
                prob += prob.objective <= U + s - 1, "cutoff"
                n_vars, n_cons = max(n_vars, len(prob.variables())), max(n_cons, len(prob.constraints))
                entry.update(free=sum(1 for f in r.fixed if f is None), nodes=len(r.nodes), vars=len(prob.variables()))
                left = None if deadline is None else max(1.0, deadline - time.perf_counter())
                out = run(prob, options, left, integral=True)
                entry.update(result=out.status.value, objective=out.objective, bound=out.bound, seconds=round(out.seconds, 3))
                if out.objective is not None:
                    groups = read_groups(r, x)
                    val = checked_moved(d, groups, S, "the model")
                    if val < best[0]:
                        best = (val, groups)
                    UB = best[0]
                if out.status is Status.INFEASIBLE:
                    done, bound_s = False, U + s
                elif out.status is Status.OPTIMAL:
                    done, bound_s = True, out.objective
                else:  # stopped by the time limit
                    done, bound_s = True, max(U + lo, min(out.bound if out.bound is not None else U + lo, U + s))
                    unproven = True
            if done or U + s >= UB or (deadline is not None and time.perf_counter() >= deadline):
                bounds[S] = max(LB, min(bound_s, UB) if not done else bound_s)
                unproven = unproven or bounds[S] < UB
                break
            lo, step = s, step * 2
    value = best[0]
    bound = min([value] + list(bounds.values()))
    status = Status.OPTIMAL if bound >= value - 1e-9 else Status.FEASIBLE
    groups = [g for _, g in sorted(best[1].items())]
    solved = sum(1 for e in log if "vars" in e)
    detail = (f"realign: {len(sets)} owner sets, {solved} restricted solves"
              + ("; stopped by the time limit" if unproven else ""))
    return RealignResult(groups, status, float(value), float(bound), detail, n_vars, n_cons, log,
                         [k for k, _ in sorted(best[1].items())])
