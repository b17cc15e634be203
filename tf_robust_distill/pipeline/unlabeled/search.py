"""The unlabeled job's hyperparameter searches, scored on a held-out part H of V (issue 15).

The papers choose several hyperparameters by a search or by hand: the temperature (SLaM
App. D.5, weighted paper App. B.2), VID's coefficient λ, PolyLoss's ε, the Taylor-CE
order, SLaM's isotonic lower bound and weighted distillation's refresh interval (SLaM
App. D.1), the fidelity β (SLaM App. D.4). Here each is chosen per objective, labeled size
and kind of labels by `pipeline.selection.select`, from ``config.selection``: every
candidate trains a student on a V/U split of its own (seed ``selection.trial``), with H,
a fraction ``selection.holdout_fraction`` of V, held out of its training set and of the
estimators fitted on V (`holdout`), and is scored on H by ``selection.metric``. The winner
trains the reported trials. No search scores a student on an example it trained on, even
though the reported trials also train on V (SLaM §4.1).

An option of a search space is a field the student's run reads:

- ``temperature``: t_B, ``student.temperature`` (objectives that read a temperature);
- a field of ``config.unlabeled`` (``fidelity_beta``, ``slam_lower_bound``,
  ``weights_every_n_epochs``, ``weights_num_neighbors``, ...);
- an option of the objective, set in ``student.objective_kw`` (VID's ``coefficient``,
  Taylor-CE's ``degree``, Poly-1's ``epsilon``).

The search goes one coordinate at a time: the temperatures of ``selection.temperatures``
first (soft labels only: a hard label is the same one-hot vector at every temperature),
with the objective's other options at the config's values; then the grid of
``selection.spaces[objective]`` at the chosen temperature.
"""

from tf_robust_distill import checks
from tf_robust_distill.objectives import registry
from tf_robust_distill.pipeline.selection import grid_candidates, metric_direction, select

TEMPERATURE = "temperature"
TEMPERATURE_SEARCH = "temperature"


def option_section(config, objective, option):
    """Where `option` of `objective` lives: "student", "unlabeled" or "objective_kw".

    Raises:
      ValueError: the objective reads no such option (naming the ones it reads).
    """
    spec = registry.get(objective, registry.UNLABELED_STUDENT)
    if option == TEMPERATURE and TEMPERATURE in spec.derived:
        return "student"
    if option in config.unlabeled:
        return "unlabeled"
    if option in spec.options:
        return "objective_kw"
    readable = [*([TEMPERATURE] if TEMPERATURE in spec.derived else []), *spec.options]
    raise ValueError(
        f"selection: objective {objective!r} reads no option {option!r}; it reads "
        f"{', '.join(readable) or 'no objective option'} and the fields of config.unlabeled"
    )


def apply_options(config, options):
    """Set `options` ({option: value}) in `config` (changed in place; its student objective
    set), each where `option_section` says it lives."""
    objective = config.student.objective
    objective_kw = config.student.objective_kw.to_dict()
    for option, value in options.items():
        section = option_section(config, objective, option)
        if section == "student":
            config.student.temperature = value
        elif section == "unlabeled":
            config.unlabeled[option] = value
        else:
            objective_kw[option] = value
    config.student.objective_kw = objective_kw
    return config


def holdout_size(config):
    """|H| of a search run: ``selection.holdout_fraction`` of ``unlabeled.validation_size``."""
    fraction = config.selection.holdout_fraction
    if not checks.is_real(fraction) or not 0 < fraction < 1:
        raise ValueError(f"selection.holdout_fraction must be in (0, 1), got {fraction!r}")
    return max(1, round(fraction * config.unlabeled.validation_size))


def stages(config, objective, labels):
    """[(name, {option: candidates})]: the search of `objective` with `labels` ("soft" or
    "hard"), stage by stage; [] when nothing is searched."""
    spec = registry.get(objective, registry.UNLABELED_STUDENT)
    found = []
    temperatures = tuple(config.selection.temperatures)
    if temperatures and labels == "soft" and TEMPERATURE in spec.derived:
        found.append((TEMPERATURE_SEARCH, {TEMPERATURE: temperatures}))
    space = config.selection.spaces.get(objective)
    if space:
        found.append((f"{objective} options", {key: tuple(space[key]) for key in space}))
    return found


def check_selection(config):
    """Raise a ValueError for an unknown metric or objective of ``config.selection``."""
    metric_direction(config.selection.metric)
    holdout_size(config)
    for objective in config.selection.spaces:
        registry.get(objective, registry.UNLABELED_STUDENT)


def search_cells(cell, name, space, chosen):
    """The cells of one stage: `cell` (num_labeled, labels, objective) with the stage's
    name and every candidate of `space`, on top of the options `chosen` before."""
    return [
        {**cell, "search": name, "options": {**chosen, **candidate}}
        for candidate in grid_candidates(space)
    ]


def choose(config, cell, results):
    """The options the reported trials of `cell`'s objective run with, chosen on H.

    Args:
      cell: {"num_labeled", "labels", "objective"}.
      results: a list of search cells -> their results (each with ``"holdout"``), or
        None when one of them has none (a report of stored cells only).

    Returns:
      (options, records): the winners of every stage merged, and each stage's
      `selection.select` record; ({}, []) if nothing is searched; None when `results`
      gives None.
    """
    metric = config.selection.metric
    chosen, records = {}, []
    for name, space in stages(config, cell["objective"], cell["labels"]):
        cells = search_cells(cell, name, space, chosen)
        scored = results(cells)
        if scored is None:
            return None
        by_candidate = {
            repr(sorted(candidate.items())): result["holdout"]
            for candidate, result in zip(grid_candidates(space), scored, strict=True)
        }
        record = select(
            name,
            space,
            lambda candidate, scores=by_candidate: scores[repr(sorted(candidate.items()))],
            metric,
            metric_direction(metric),
        )
        chosen.update(record["winner"])
        records.append({**record, "fixed": {k: v for k, v in chosen.items() if k not in space}})
    return chosen, records
