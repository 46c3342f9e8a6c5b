"""ccgmerge: exact, verified merger plans for NHS Clinical Commissioning Groups."""

from .errors import (
    CCGMergeError,
    DataNotFoundError,
    InfeasibleError,
    InstanceWarning,
    ScenarioError,
    ValidationError,
)
from .instance import Instance

__version__ = "0.1.0"

__all__ = [
    "CCGMergeError",
    "DataNotFoundError",
    "InfeasibleError",
    "Instance",
    "InstanceWarning",
    "ScenarioError",
    "ValidationError",
]
