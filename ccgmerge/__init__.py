"""ccgmerge: exact, verified merger plans for NHS Clinical Commissioning Groups.

The public API, importable from the package itself::

    from ccgmerge import load_ccg2013, Scenario, solve
    plan = solve(load_ccg2013(), Scenario(floor=150_000, coterminosity="aligned"))

>>> import ccgmerge
>>> plan = ccgmerge.solve(ccgmerge.generate(20, seed=2), ccgmerge.Scenario(floor=400_000))
>>> plan.status is ccgmerge.Status.OPTIMAL, plan.verdict.ok
(True, True)
"""

from ccgmerge.check import check_assignment, check_plan
from ccgmerge.data import (
    data_dir,
    from_csv,
    from_folder,
    has_real_data,
    load_ccg2013,
    load_configuration,
    load_lsoa2013,
    load_lsoa_units,
)
from ccgmerge.errors import (
    CCGMergeError,
    DataNotFoundError,
    InfeasibleError,
    InstanceWarning,
    ScenarioError,
    SolverError,
    ValidationError,
)
from ccgmerge.instance import Instance
from ccgmerge.engine.solve import solve
from ccgmerge.plan import Infeasibility, Plan, Status, Verdict
from ccgmerge.scenario import Coterminosity, Objective, Scenario
from ccgmerge.analysis.summary import InstanceSummary, summarize
from ccgmerge.data.synthetic import generate

__version__ = "0.1.0"

__all__ = [
    "CCGMergeError",
    "Coterminosity",
    "DataNotFoundError",
    "Infeasibility",
    "InfeasibleError",
    "Instance",
    "InstanceSummary",
    "InstanceWarning",
    "Objective",
    "Plan",
    "Scenario",
    "ScenarioError",
    "SolverError",
    "Status",
    "ValidationError",
    "Verdict",
    "check_assignment",
    "check_plan",
    "data_dir",
    "from_csv",
    "from_folder",
    "generate",
    "has_real_data",
    "load_ccg2013",
    "load_configuration",
    "load_lsoa2013",
    "load_lsoa_units",
    "solve",
    "summarize",
]
