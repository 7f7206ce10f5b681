"""The report's model leaderboards: quality.leaderboard fed from the database.

One section per pairwise or ranking question that names the models of its entries (the
question's `models` field). The comparisons are the report's own units, so only human work
counts, as everywhere in the report: submitted or approved answers on items that are not
gold. What reads the database here is each item's list of models.
"""

from collections.abc import Mapping

from tasks.models import Item, Project

from .leaderboard import Comparisons, comparisons_from_units, leaderboard
from .units import Units

CHUNK_SIZE = 20_000


def named_models(project: Project, field: str) -> dict[int, list[str]]:
    """Item id -> the model of each compared entry, for the project's non-gold items. A list
    that ingest would refuse today (the project's fields changed after its items arrived)
    is left out rather than guessed at."""
    rows = (Item.objects.filter(project=project, is_gold=False)
            .values_list("id", f"data__{field}").iterator(chunk_size=CHUNK_SIZE))
    return {pk: value for pk, value in rows
            if isinstance(value, list) and all(isinstance(name, str) and name.strip()
                                               for name in value)}


def leaderboard_sections(project: Project, units: Mapping[str, Units]) -> list[dict]:
    """Per question naming models: {question, kind, models_field, rows, items, comparisons,
    connected, prior, bootstrap} with rows as quality.leaderboard.Leaderboard describes."""
    sections = []
    for question in project.questions:
        field = question.get("models")
        if question["kind"] not in ("pairwise", "ranking") or not field:
            continue
        section = {"question": question["name"], "kind": question["kind"],
                   "models_field": field}
        answered = units.get(question["name"])
        comparisons = (comparisons_from_units(answered, named_models(project, field))
                       if answered is not None and answered.n_units else Comparisons.none())
        sections.append({**section, **leaderboard(comparisons).as_dict()})
    return sections
