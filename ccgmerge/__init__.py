"""ccgmerge: exact, verified merger plans for NHS Clinical Commissioning Groups.

The public API, importable from the package itself::

    from ccgmerge import load_ccg2013, Scenario, solve
    plan = solve(load_ccg2013(), Scenario(floor=150_000, coterminosity="aligned"))

>>> import ccgmerge
>>> plan = ccgmerge.solve(ccgmerge.generate(20, seed=2), ccgmerge.Scenario(floor=400_000))
>>> plan.status is ccgmerge.Status.OPTIMAL, plan.verdict.ok
(True, True)
"""

from .check import check_assignment, check_plan
from .data import (
    data_dir,
    from_csv,
    from_folder,
    has_real_data,
    load_ccg2013,
    load_configuration,
    load_lsoa2013,
    load_lsoa_units,
)
from .errors import (
    CCGMergeError,
    DataNotFoundError,
    InfeasibleError,
    InstanceWarning,
    ScenarioError,
    ValidationError,
)
from .instance import Instance
from .optimise import solve
from .plan import Infeasibility, Plan, Status, Verdict
from .scenario import Coterminosity, Objective, Scenario
from .summary import InstanceSummary, summarize
from .synthetic import generate

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
