"""Tests of the solver-free checker (ccgmerge.check): hand-made bad plans are
rejected naming the rule and the offending units; good plans are accepted.

The instance, a 2 x 3 grid with two HWBs (B straddles X and Y, mostly X)::

    A(60) -- B(50) -- C(70)        main HWB:  X  X  Y
      |        |        |
    D(40) -- E(80) -- F(30)                   X  Y  Y
"""

from __future__ import annotations

import pandas as pd
import pytest

from ccgmerge.check import check_assignment, check_plan
from ccgmerge.errors import ValidationError
from ccgmerge.instance import Instance
from ccgmerge.rules import RULES
from ccgmerge.scenario import Scenario

POP = {"A": 60, "B": 50, "C": 70, "D": 40, "E": 80, "F": 30}


@pytest.fixture(scope="module")
def grid() -> Instance:
    units = pd.DataFrame({"code": list(POP), "population": list(POP.values())})
    membership = pd.DataFrame(
        {
            "unit": ["A", "B", "B", "C", "D", "E", "F"],
            "area": ["X", "X", "Y", "Y", "X", "Y", "Y"],
            "population": [60, 40, 10, 70, 40, 80, 30],
        }
    )
    areas = pd.DataFrame({"code": ["X", "Y"], "population": [140, 190]})
    adj = [("A", "B"), ("B", "C"), ("A", "D"), ("B", "E"), ("C", "F"), ("D", "E"), ("E", "F")]
    return Instance.from_frames(units, areas, membership, adj, warn=False)


def G(inst: Instance, *groups: str) -> list[list[int]]:
    """Groups given as strings of unit codes: G(inst, "ABD", "CEF")."""
    return [inst.positions(list(g)) for g in groups]


def only(verdict, rule: str):
    """The verdict's violations, all of which must be of ``rule``."""
    assert not verdict.ok
    assert {v.rule for v in verdict.violations} == {rule}, verdict
    return verdict.violations


GOOD = ("ABD", "CEF")  # 150 (X) and 180 (Y): good in every mode at floor 100


def test_instance_is_as_drawn(grid):
    assert grid.main_area().to_dict() == {"A": "X", "B": "X", "C": "Y", "D": "X", "E": "Y", "F": "Y"}
    assert grid.straddling_units() == ["B"]


# ---------------------------------------------------------------- good plans
@pytest.mark.parametrize("mode", ["off", "nested", "aligned", "penalised"])
def test_good_plan_accepted_in_every_mode(grid, mode):
    sc = Scenario(floor=100, ceiling=200, max_units=3, coterminosity=mode,
                  together={("A", "D")}, apart={("A", "F")}, alone=set())
    v = check_plan(grid, G(grid, *GOOD), sc)
    assert v.ok, v
    assert v.violations == ()
    assert v.rules_checked == tuple(r.__name__ for r in RULES)
    assert str(v).startswith("checked: OK")


@pytest.mark.parametrize("mode", ["off", "aligned", "penalised"])
def test_one_group_of_everything_accepted(grid, mode):
    assert check_plan(grid, G(grid, "ABCDEF"), Scenario(floor=330, coterminosity=mode)).ok


def test_group_order_and_member_order_do_not_matter(grid):
    sc = Scenario(floor=100)
    assert check_plan(grid, [[5, 4, 2], [3, 0, 1]], sc).ok
    assert check_plan(grid, [g[::-1] for g in G(grid, "CEF", "ABD")], sc).ok


def test_alone_unit_accepted(grid):
    sc = Scenario(floor=40, alone={"D"})
    assert check_plan(grid, G(grid, "AB", "CEF", "D"), sc).ok


def test_disconnected_group_allowed_without_contiguity(grid):
    sc = Scenario(floor=100, contiguity=False)
    assert check_plan(grid, G(grid, "AC", "BDEF"), sc).ok


def test_straddling_groups_allowed_when_off_or_penalised(grid):
    for mode in ("off", "penalised"):
        assert check_plan(grid, G(grid, "AD", "BC", "EF"), Scenario(floor=100, coterminosity=mode)).ok


# ---------------------------------------------------------------- partition
def test_unit_missing(grid):
    v = only(check_plan(grid, G(grid, "ABD", "CE"), Scenario(floor=1)), "partition")
    assert [x.units for x in v] == [("F",)]
    assert "F" in v[0].message and "no group" in v[0].message


def test_several_units_missing(grid):
    v = only(check_plan(grid, G(grid, "BD", "E"), Scenario(floor=1)), "partition")
    assert [x.units for x in v] == [("A", "C", "F")]


def test_unit_twice(grid):
    v = only(check_plan(grid, G(grid, "ABD", "CEF", "F"), Scenario(floor=1)), "partition")
    assert [x.units for x in v] == [("F",)]
    assert "more than one group" in v[0].message


def test_unit_twice_in_one_group(grid):
    v = only(check_plan(grid, [[0, 1, 3, 3], [2, 4, 5]], Scenario(floor=1)), "partition")
    assert [x.units for x in v] == [("D",)]


def test_empty_group_and_unknown_position(grid):
    v = only(check_plan(grid, G(grid, "ABD", "CEF") + [[]], Scenario(floor=1)), "partition")
    assert [x.units for x in v] == [()]
    assert "empty" in v[0].message
    v = only(check_plan(grid, G(grid, "ABD", "CEF") + [[99]], Scenario(floor=1)), "partition")
    assert [x.units for x in v] == [("99",)]


def test_missing_and_twice_both_reported(grid):
    v = only(check_plan(grid, G(grid, "ABD", "CE", "E"), Scenario(floor=1)), "partition")
    assert sorted(x.units for x in v) == [("E",), ("F",)]


def test_other_rules_skipped_when_not_a_partition(grid):
    # {A, C} is disconnected and below the floor, but the checker stops at the partition rule
    v = only(check_plan(grid, G(grid, "AC"), Scenario(floor=1000)), "partition")
    assert [x.units for x in v] == [("B", "D", "E", "F")]


# ---------------------------------------------------------------- contiguity
def test_disconnected_group(grid):
    v = only(check_plan(grid, G(grid, "AC", "BDEF"), Scenario(floor=1)), "connected")
    assert [x.units for x in v] == [("A", "C")]
    assert "not connected" in v[0].message


def test_two_disconnected_groups(grid):
    v = only(check_plan(grid, G(grid, "AF", "CD", "BE"), Scenario(floor=1)), "connected")
    assert sorted(x.units for x in v) == [("A", "F"), ("C", "D")]


# ---------------------------------------------------------------- floor, ceiling, max_units
def test_under_floor(grid):
    v = only(check_plan(grid, G(grid, "A", "BCDEF"), Scenario(floor=100)), "floor")
    assert [x.units for x in v] == [("A",)]
    assert "60" in v[0].message and "100" in v[0].message


def test_floor_is_inclusive(grid):
    # A + D = 100 exactly
    assert check_plan(grid, G(grid, "AD", "BC", "EF"), Scenario(floor=100)).ok
    v = only(check_plan(grid, G(grid, "AD", "BC", "EF"), Scenario(floor=101)), "floor")
    assert [x.units for x in v] == [("A", "D")]


def test_floor_from_economics(grid):
    # GBP 1,000 fixed cost at GBP 10 a head: floor 100
    sc = Scenario(fixed_cost=1_000, allowance_per_head=10)
    assert sc.floor_population == 100
    assert check_plan(grid, G(grid, "ABCF", "DE"), sc).ok  # 210 and 120
    v = only(check_plan(grid, G(grid, "ABCDE", "F"), sc), "floor")
    assert [x.units for x in v] == [("F",)]


def test_over_ceiling(grid):
    v = only(check_plan(grid, G(grid, "ABCDEF"), Scenario(floor=100, ceiling=200)), "ceiling")
    assert [x.units for x in v] == [tuple("ABCDEF")]
    assert "330" in v[0].message
    assert check_plan(grid, G(grid, "ABCDEF"), Scenario(floor=100, ceiling=330)).ok


def test_max_units(grid):
    v = only(check_plan(grid, G(grid, "ABD", "C", "E", "F"), Scenario(floor=1, max_units=2)), "max_units")
    assert [x.units for x in v] == [("A", "B", "D")]
    assert check_plan(grid, G(grid, "ABD", "C", "E", "F"), Scenario(floor=1, max_units=3)).ok


def test_ceiling_and_max_units_both_reported(grid):
    v = check_plan(grid, G(grid, "ABCDEF"), Scenario(floor=1, ceiling=300, max_units=5))
    assert sorted((x.rule, x.units) for x in v.violations) == [("ceiling", tuple("ABCDEF")), ("max_units", tuple("ABCDEF"))]


# ---------------------------------------------------------------- coterminosity
def test_nested_broken(grid):
    v = only(check_plan(grid, G(grid, "AD", "BC", "EF"), Scenario(floor=100, coterminosity="nested")), "nested")
    assert [x.units for x in v] == [("B", "C")]
    assert "X" in v[0].message and "Y" in v[0].message


def test_nested_uses_main_hwb(grid):
    # B has 10 people in Y but its main HWB is X, so {B, E} crosses HWBs and {A, B} does not
    sc = Scenario(floor=1, coterminosity="nested")
    v = only(check_plan(grid, G(grid, "AD", "BE", "C", "F"), sc), "nested")
    assert [x.units for x in v] == [("B", "E")]
    assert check_plan(grid, G(grid, "AB", "D", "CEF"), sc).ok


def test_aligned_broken(grid):
    v = only(check_plan(grid, G(grid, "AD", "BC", "EF"), Scenario(floor=100, coterminosity="aligned")), "aligned")
    # {B, C} crosses X|Y but leaves out A, D (of X) and E, F (of Y): one violation per HWB
    assert [x.units for x in v] == [("B", "C"), ("B", "C")]
    msgs = " ".join(x.message for x in v)
    assert "A, D" in msgs and "E, F" in msgs


def test_aligned_broken_one_hwb_left_incomplete(grid):
    # {A, B, D} (all of X) + {C, E} of Y, leaving F: crosses HWBs without all of Y
    v = only(check_plan(grid, G(grid, "ABCDE", "F"), Scenario(floor=1, coterminosity="aligned")), "aligned")
    assert [x.units for x in v] == [tuple("ABCDE")]
    assert "F" in v[0].message and "Y" in v[0].message


def test_aligned_accepts_within_one_hwb_and_whole_unions(grid):
    sc = Scenario(floor=1, coterminosity="aligned")
    assert check_plan(grid, G(grid, "AB", "D", "CEF"), sc).ok
    assert check_plan(grid, G(grid, "ABCDEF"), sc).ok


# ---------------------------------------------------------------- locks
def test_alone_broken(grid):
    v = only(check_plan(grid, G(grid, *GOOD), Scenario(floor=100, alone={"A"})), "alone")
    assert [x.units for x in v] == [("A",)]


def test_alone_broken_twice(grid):
    v = only(check_plan(grid, G(grid, *GOOD), Scenario(floor=100, alone={"F", "A", "B"})), "alone")
    assert [x.units for x in v] == [("A",), ("B",), ("F",)]


def test_together_broken(grid):
    v = only(check_plan(grid, G(grid, *GOOD), Scenario(floor=100, together={("F", "A")})), "together")
    assert [x.units for x in v] == [("A", "F")]


def test_apart_broken(grid):
    v = only(check_plan(grid, G(grid, *GOOD), Scenario(floor=100, apart={("D", "A"), ("C", "F")})), "apart")
    assert [x.units for x in v] == [("A", "D"), ("C", "F")]


def test_locks_all_broken_at_once(grid):
    sc = Scenario(floor=100, alone={"B"}, together={("A", "C")}, apart={("E", "F")})
    v = check_plan(grid, G(grid, *GOOD), sc)
    assert [(x.rule, x.units) for x in v.violations] == [("alone", ("B",)), ("together", ("A", "C")), ("apart", ("E", "F"))]


def test_many_rules_broken_at_once(grid):
    sc = Scenario(floor=100, ceiling=150, coterminosity="nested", together={("A", "F")})
    v = check_plan(grid, G(grid, "AC", "B", "DEF"), sc)
    got = {(x.rule, x.units) for x in v.violations}
    assert got == {
        ("connected", ("A", "C")),
        ("floor", ("B",)),
        ("nested", ("A", "C")),
        ("nested", ("D", "E", "F")),
        ("together", ("A", "F")),
    }
    assert "FAILED" in str(v)
    d = v.to_dict()
    assert d["ok"] is False and len(d["violations"]) == 5


# ---------------------------------------------------------------- check_assignment
def test_check_assignment_good(grid):
    a = {"A": "north", "B": "north", "D": "north", "C": "south", "E": "south", "F": "south"}
    assert check_assignment(grid, a, Scenario(floor=100, coterminosity="nested")).ok
    assert check_assignment(grid, pd.Series(a), Scenario(floor=100)).ok


def test_check_assignment_bad(grid):
    a = {"A": 1, "D": 1, "B": 2, "C": 2, "E": 3, "F": 3}
    v = only(check_assignment(grid, a, Scenario(floor=100, coterminosity="nested")), "nested")
    assert [x.units for x in v] == [("B", "C")]
    v = only(check_assignment(grid, a, Scenario(floor=115)), "floor")
    assert [x.units for x in v] == [("A", "D"), ("E", "F")]


def test_check_assignment_missing_unit(grid):
    a = {"A": "g", "B": "g", "D": "g", "C": "h", "E": "h"}
    v = only(check_assignment(grid, a, Scenario(floor=1)), "partition")
    assert [x.units for x in v] == [("F",)]


def test_check_assignment_unknown_code(grid):
    with pytest.raises(ValidationError, match="Q"):
        check_assignment(grid, {"A": "g", "Q": "g"}, Scenario(floor=1))
