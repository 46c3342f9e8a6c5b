"""What is done with plans: instance summaries, sweeps, comparison with reality, Pareto fronts."""
