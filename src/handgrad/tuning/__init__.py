"""``handgrad tune``: hyperparameter search over ``handgrad train`` with Optuna (SQLite or PostgreSQL storage).

- ``space``: the search space (default, or a TOML file with ``[fixed]``, ``[search.FIELD]`` or ``[grid]``);
- ``storage``: the study's database, heartbeats and retries of dead workers' trials;
- ``objective``: one trial = one training run, reported and pruned per epoch;
- ``worker``: the loop that runs trials until the study holds ``--trials`` finished ones;
- ``progress``: the live table; ``report``: ``handgrad tune report`` (best config, table, plots).

Optuna is imported inside functions so that ``import handgrad`` stays fast.
"""
from handgrad.tuning.space import DEFAULT_SPACE, SearchSpace, load_space, parse_space

__all__ = ["DEFAULT_SPACE", "SearchSpace", "load_space", "parse_space"]
