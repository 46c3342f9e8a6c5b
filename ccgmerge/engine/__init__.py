"""The engine: from a validated instance and scenario to a checked plan.

* :mod:`ccgmerge.engine.solve`: :func:`~ccgmerge.engine.solve.solve`, the orchestration;
* :mod:`ccgmerge.engine.preprocess`: infeasibility proofs and independent blocks;
* :mod:`ccgmerge.engine.formulations`: the exact models, one module each, behind one interface;
* :mod:`ccgmerge.engine.heuristics`: greedy plans that need no solver;
* :mod:`ccgmerge.engine.subsets`: enumeration of connected unit sets;
* :mod:`ccgmerge.engine.backends`: all solver code (CBC, HiGHS, PuLP solver objects).
"""
