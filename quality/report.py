"""The agreement report of a project: how far its experts agree, with whom, and on what.

Only human work counts: annotations whose assignment is submitted or approved (rejected work
is out) on items that are not gold. Every expert meets the gold items, far beyond an item's
overlap, so they would swamp the statistics; they give each expert's gold accuracy instead.
Experts are measured on their own answers, not on a reviewer's fix, which would make its
author look in agreement. Judges' answers (JudgeAnnotation) are compared with the human
consensus and never take part in it.

Units, scales and levels come from `quality.units`, statistics from `quality.agreement` and
`quality.aggregation`; this module reads the database and puts the numbers together:

* ``questions``: Krippendorff's alpha at the question's level with a 95% bootstrap interval
  over units, Fleiss' kappa (over the units with the most common number of answers),
  percent agreement, and the items and answers behind them. Free text has level "none"
  and no statistics.
* ``pairwise_kappa``: Cohen's kappa of every pair of experts sharing at least
  ``MIN_SHARED`` items on a question (linear weights for ordinal questions, quadratic for
  interval ones).
* ``experts``: per expert (by pseudonym) the answers, the leave-one-out agreement with the
  other experts' consensus, gold accuracy and the mean of their pairwise kappas.
* ``confusion``: answers against the majority consensus, per label-like question.
* ``disputed_items``: the ``DISPUTED_LIMIT`` items whose answers agree least.
* ``judges``: each judge's accuracy and kappa against the human consensus and its agreement
  with individual experts, next to the experts' agreement with each other: the reward
  model vs human preference table.
* ``leaderboard``: per pairwise or ranking question that names the models of its entries,
  a Bradley-Terry strength per model with its bootstrap interval, wins, losses and ties
  (``quality.leaderboard_report``).
* ``written``: per text question, reviewers' verdicts, fixes and rubric scores per expert,
  answer lengths and times with their outliers, and the text consensus of items with
  several answers (``quality.written``).

Scale: annotations are read in one streamed pass. On PostgreSQL the database itself turns
label, rating and pairwise answers into numeric codes and sends them as a binary COPY that
numpy reads as fixed-width records, with no Python step per row; other kinds stream through
``values_list(...).iterator()``. Statistics per expert use annotators x units matrices built
a slice of units at a time, so memory stays bounded however many experts a project has.
"""

import os
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Avg, Count
from django.utils import timezone

from tasks.export import expert_pseudonym
from tasks.models import Annotation, Assignment, Item, Project

from . import agreement
from .analysis import analyse
from .crowd import tie_seed
from .leaderboard_report import leaderboard_sections
from .models import GoldResult, JudgeAnnotation, TrustScore
from .scoring import score_against_gold
from .units import Units, build_units, factorize, is_answer, scalar_units
from .written import written_answers

# One unit per item, answers a single JSON scalar: PostgreSQL can code them itself.
SCALAR_KINDS = ("label", "rating", "pairwise")
# Kinds whose units need a fact about the item: its number of completions, its text.
FIELD_KINDS = ("ranking", "spans")
DISPUTED_LIMIT = 20
CHUNK_SIZE = 20_000
# Questions analysed at once; each holds its own matrices in memory meanwhile.
ANALYSIS_THREADS = min(4, os.cpu_count() or 1)


def counted_annotations(project: Project):
    """The human work a report is about: counted answers on the project's non-gold items."""
    return Annotation.objects.filter(project=project, assignment__is_gold=False,
                                     assignment__status__in=Assignment.COUNTED)


# Reading.

@dataclass
class Scan:
    """The counted annotations of a project, read once.

    ``item`` and ``expert`` hold each annotation's ids; ``units`` the agreement units of
    each question with a level, ``answered`` how many annotations answer each question.
    """

    item: np.ndarray
    expert: np.ndarray
    units: dict[str, Units]
    answered: dict[str, int]
    answered_items: dict[str, int]


def _sql_code(question: dict) -> tuple[str, list]:
    """A SQL expression for the code build_units gives the question's answer: NaN for no
    answer, -1 (labels) or Infinity (pairwise) for an answer that is not valid, so that it is
    refused rather than dropped; a rating that is not a number fails the cast, and with it
    the report. Each expression reads the answer once per row in the common case:
    extracting a key from jsonb is most of the cost."""
    name = question["name"]
    kind = question["kind"]
    if kind == "label":
        return ("COALESCE(array_position(%s::text[], a.answer ->> %s) - 1, "
                "CASE WHEN a.answer ->> %s IS NULL THEN 'NaN'::float8 ELSE -1 END)",
                [list(question.get("options") or []), name, name])
    if kind == "rating":
        return "COALESCE((a.answer ->> %s)::float8, 'NaN')", [name]
    if kind == "pairwise" and not question.get("strength"):
        return ("CASE a.answer ->> %s WHEN 'A' THEN -1 WHEN 'tie' THEN 0 WHEN 'B' THEN 1 "
                "ELSE CASE WHEN a.answer ->> %s IS NULL THEN 'NaN'::float8 "
                "ELSE 'Infinity' END END", [name, name])
    if kind == "pairwise":
        strength = "COALESCE(trunc((a.answer -> %s ->> 'strength')::float8), 1)"
        return (f"CASE COALESCE(a.answer -> %s ->> 'choice', a.answer ->> %s) "
                f"WHEN 'tie' THEN 0 WHEN 'A' THEN -{strength} WHEN 'B' THEN {strength} "
                f"ELSE CASE WHEN a.answer ->> %s IS NULL THEN 'NaN'::float8 "
                f"ELSE 'Infinity' END END", [name] * 5)
    # Free text: 1 when answered with something other than blanks.
    return "CASE WHEN btrim(a.answer ->> %s) <> '' THEN 1 ELSE 'NaN'::float8 END", [name]


# The filter of counted_annotations() as an anti-join against the few assignments that do
# not count: PostgreSQL then scans the annotations once instead of joining every row.
COPY_CODES_SQL = """
COPY (
  SELECT a.item_id, a.expert_id{columns}
  FROM tasks_annotation a
  WHERE a.project_id = %s AND NOT EXISTS (
    SELECT 1 FROM tasks_assignment s
    WHERE s.id = a.assignment_id AND (s.is_gold OR s.status <> ALL(%s)))
) TO STDOUT (FORMAT BINARY)
"""


def _copy_codes(project: Project, questions: list[dict]) -> tuple[np.ndarray, ...]:
    """Item ids, expert ids and one float column of codes per question, by binary COPY.

    Every column is NOT NULL and fixed-width, so each record of the COPY stream has the same
    layout and the whole stream is one numpy structured array.
    """
    columns, params = [], []
    for question in questions:
        sql, extra = _sql_code(question)
        columns.append(f", ({sql})::float8")
        params.extend(extra)
    params += [project.pk, [status.value for status in Assignment.COUNTED]]
    statement = COPY_CODES_SQL.format(columns="".join(columns))
    fields = [("fields", ">i2"), ("l0", ">i4"), ("item", ">i8"), ("l1", ">i4"),
              ("expert", ">i8")]
    for n in range(len(questions)):
        fields += [(f"l{n + 2}", ">i4"), (f"q{n}", ">f8")]
    buffer = bytearray()
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, cursor.copy(statement, params) as copy:
        for block in copy:
            buffer += block
    # 19 bytes of header (signature, flags, extension length) and a 2-byte trailer.
    records = np.frombuffer(memoryview(buffer)[19:-2], dtype=np.dtype(fields))
    return (records["item"].astype(np.int64), records["expert"].astype(np.int64),
            *(records[f"q{n}"].astype(np.float64) for n in range(len(questions))))


def _item_fields(project: Project, questions: list[dict]) -> dict[str, dict]:
    """Per question of a FIELD_KINDS kind, item id -> completions count or annotated text."""
    out: dict[str, dict] = {}
    for question in questions:
        if question["kind"] not in FIELD_KINDS:
            continue
        values = (Item.objects.filter(project=project)
                  .values_list("id", f"data__{question['field']}")
                  .iterator(chunk_size=CHUNK_SIZE))
        if question["kind"] == "ranking":
            out[question["name"]] = {pk: len(value or ()) for pk, value in values}
        else:
            out[question["name"]] = {pk: value or "" for pk, value in values}
    return out


def read(project: Project) -> Scan:
    """Read the project's counted annotations once and build every question's units."""
    questions = project.questions
    fast = [q for q in questions if q["kind"] in (*SCALAR_KINDS, "text")
            ] if connection.vendor == "postgresql" else []
    slow = [q for q in questions if q not in fast]
    units: dict[str, Units] = {}
    answered: dict[str, int] = {}
    answered_items: dict[str, int] = {}
    item = expert = None
    if fast:
        item, expert, *columns = _copy_codes(project, fast)
        # Sorted once for every question: Units are ordered by unit, then annotator.
        order = np.argsort(factorize(item)[1] * (int(expert.max(initial=0)) + 1) + expert)
        item, expert, columns = item[order], expert[order], [c[order] for c in columns]
        for question, codes in zip(fast, columns, strict=True):
            present = ~np.isnan(codes)
            answered[question["name"]] = int(present.sum())
            if question["kind"] == "text":
                answered_items[question["name"]] = len(factorize(item[present])[0])
            else:
                units[question["name"]] = scalar_units(question, item, expert, codes)
                answered_items[question["name"]] = len(units[question["name"]].item_ids)
    if slow or item is None:
        triples: dict[str, list] = {q["name"]: [] for q in slow}
        items, experts = [], []
        rows = counted_annotations(project).values_list("item_id", "expert_id", "answer")
        for item_id, expert_id, answer in rows.iterator(chunk_size=CHUNK_SIZE):
            items.append(item_id)
            experts.append(expert_id)
            for question in slow:
                value = answer.get(question["name"])
                if is_answer(value, question["kind"]):
                    triples[question["name"]].append((item_id, expert_id, value))
        if item is None:
            item = np.asarray(items, dtype=np.int64)
            expert = np.asarray(experts, dtype=np.int64)
        fields = _item_fields(project, slow)
        for question in slow:
            name = question["name"]
            answered[name] = len(triples[name])
            answered_items[name] = len({t[0] for t in triples[name]})
            if question["kind"] != "text":
                units[name] = build_units(triples.pop(name), question, fields.get(name))
    return Scan(item, expert, units, answered, answered_items)


# Reading what is not units.

def gold_accuracy(project: Project) -> dict[int, tuple[float, int]]:
    """Per expert id: mean gold score and the number of gold answers. GoldResult rows are
    what the work loop recorded; a project without any (gold items loaded after the work, a
    backfill) is scored here against the items' gold answers."""
    results = (GoldResult.objects.filter(project=project).values("expert_id")
               .annotate(mean=Avg("score"), n=Count("id")).order_by())
    out = {row["expert_id"]: (row["mean"], row["n"]) for row in results}
    if out:
        return out
    scores: dict[int, list[float]] = defaultdict(list)
    gold_work = (Annotation.objects.filter(project=project, item__is_gold=True,
                                           assignment__status__in=Assignment.COUNTED)
                 .values_list("expert_id", "answer", "item__gold")
                 .iterator(chunk_size=CHUNK_SIZE))
    for expert_id, answer, gold in gold_work:
        score, _ = score_against_gold(project.questions, answer, gold or {})
        if score is not None:
            scores[expert_id].append(score)
    return {pk: (float(np.mean(values)), len(values)) for pk, values in scores.items()}


def _judge_rows(project: Project, questions: list[dict]) -> dict[str, list]:
    triples: dict[str, list] = {q["name"]: [] for q in questions}
    rows = (JudgeAnnotation.objects.filter(project=project)
            .values_list("item_id", "judge", "answer").iterator(chunk_size=CHUNK_SIZE))
    for item_id, judge, answer in rows:
        for question in questions:
            value = answer.get(question["name"]) if isinstance(answer, dict) else None
            if value is not None:
                triples[question["name"]].append((item_id, judge, value))
    return triples


# The report.

def build_report(project: Project) -> dict:
    """Compute the project's agreement report as a JSON-ready dict (see the module doc)."""
    scan = read(project)
    judged_questions = [q for q in project.questions if q["name"] in scan.units]
    judged: dict[str, Units] = {}
    if JudgeAnnotation.objects.filter(project=project).exists():
        fields = _item_fields(project, judged_questions)
        rows = _judge_rows(project, judged_questions)
        judged = {q["name"]: build_units(rows[q["name"]], q, fields.get(q["name"]))
                  for q in judged_questions if rows[q["name"]]}
    trust = TrustScore.objects.means_on(project)
    seed = tie_seed(project.pk)
    with ThreadPoolExecutor(max_workers=ANALYSIS_THREADS) as pool:
        analyses = list(pool.map(
            lambda q: analyse(q, scan.units.get(q["name"]), scan.answered[q["name"]],
                              scan.answered_items[q["name"]], judged.get(q["name"]),
                              trust=trust, seed=seed),
            project.questions))
    pseudonym: dict[int, str] = {}

    def name(expert_id: int) -> str:
        if expert_id not in pseudonym:
            pseudonym[expert_id] = expert_pseudonym(project.pk, expert_id)
        return pseudonym[expert_id]

    expert_ids, expert_of_row = factorize(scan.expert)
    expert_rows = np.bincount(expert_of_row, minlength=len(expert_ids))
    item_ids = factorize(scan.item)[0]
    loo_total = np.zeros(len(expert_ids))
    loo_scored = np.zeros(len(expert_ids), np.int64)
    per_question_loo: dict[int, dict] = defaultdict(dict)
    kappas_of: dict[int, list[float]] = defaultdict(list)
    dispute_sum = np.zeros(len(item_ids))
    dispute_n = np.zeros(len(item_ids), np.int64)
    pairs, judges = [], defaultdict(list)
    fits_of: dict[int, dict] = defaultdict(dict)
    for question, analysis in zip(project.questions, analyses, strict=True):
        if analysis.units is None:
            continue
        qname, units = question["name"], analysis.units
        for a, b, shared, kappa in analysis.kappas:
            pairs.append({"question": qname, "a": name(a), "b": name(b), "shared": shared,
                          "kappa": kappa})
            if kappa is not None:
                kappas_of[a].append(kappa)
                kappas_of[b].append(kappa)
        total, scored = analysis.loo
        where = np.searchsorted(expert_ids, units.annotator_ids)
        loo_total[where] += total
        loo_scored[where] += scored
        for index, expert_id in enumerate(units.annotator_ids.tolist()):
            if scored[index]:
                per_question_loo[expert_id][qname] = float(total[index] / scored[index])
        mean, has = analysis.item_agreement
        where = np.searchsorted(item_ids, units.item_ids)
        dispute_sum[where[has]] += mean[has]
        dispute_n[where[has]] += 1
        for judge, row in analysis.judges.items():
            judges[judge].append(row)
        for expert_id, row in expert_fits(units, analysis.consensus).items():
            fits_of[expert_id][qname] = row

    gold = gold_accuracy(project)
    rows_of = dict(zip(expert_ids.tolist(), expert_rows.tolist(), strict=True))
    experts = []
    for expert_id in sorted(set(rows_of) | set(gold)):
        index = np.searchsorted(expert_ids, expert_id)
        scored = loo_scored[index] if rows_of.get(expert_id) else 0
        mean_gold, gold_n = gold.get(expert_id, (None, 0))
        experts.append({
            "expert": name(expert_id),
            "annotations": rows_of.get(expert_id, 0),
            "agreement_with_consensus": float(loo_total[index] / scored) if scored else None,
            "gold_accuracy": mean_gold,
            "gold_answers": gold_n,
            "kappa_vs_others": (float(np.mean(kappas_of[expert_id]))
                                if kappas_of[expert_id] else None),
            "questions": per_question_loo.get(expert_id, {}),
            "spammer_score": _mean_of(fits_of[expert_id], "spammer_score"),
            "dawid_skene": fits_of.get(expert_id, {}),
        })
    experts.sort(key=lambda row: (-row["annotations"], row["expert"]))
    by_question = {q["name"]: (a.units, a.consensus, a.packed)
                   for q, a in zip(project.questions, analyses, strict=True) if a.units}

    return {
        "generated_at": timezone.now().isoformat(),
        "tie_seed": seed,
        "items": len(item_ids),
        "annotations": len(scan.item),
        "questions": [analysis.stats for analysis in analyses],
        "pairwise_kappa": pairs,
        "experts": experts,
        "confusion": [a.confusion for a in analyses if a.confusion],
        "disputed_items": disputed_items(project, item_ids, dispute_sum, dispute_n,
                                         by_question),
        "judges": [{"judge": judge, "accuracy": float(np.mean([r["accuracy"] for r in rows])),
                    "questions": rows} for judge, rows in sorted(judges.items())],
        "leaderboard": leaderboard_sections(project, scan.units),
        "written": written_answers(project, counted_annotations(project)),
    }


def expert_fits(units: Units, consensus) -> dict[int, dict]:
    """Per expert id, what Dawid-Skene learned of them on a label question: their confusion
    matrix (true class by given answer), expected accuracy and spammer score. Empty where
    the crowd answer came from a vote (too few answers per expert to fit one)."""
    fit = consensus.fit if consensus is not None else None
    if fit is None:
        return {}
    answered = np.bincount(units.annotator_idx, minlength=units.n_annotators)
    return {int(expert_id): {"labels": list(units.value_labels),
                             "confusion": np.round(fit.confusion[index], 4).tolist(),
                             "accuracy": float(fit.accuracy[index]),
                             "spammer_score": float(fit.spammer_score[index]),
                             "answers": int(answered[index])}
            for index, expert_id in enumerate(units.annotator_ids.tolist())}


def _mean_of(rows: dict[str, dict], key: str) -> float | None:
    values = [row[key] for row in rows.values() if row.get(key) is not None]
    return float(np.mean(values)) if values else None


def disputed_items(project: Project, item_ids: np.ndarray, dispute_sum: np.ndarray,
                   dispute_n: np.ndarray, by_question: dict) -> list[dict]:
    """The items whose answers agree least (mean consensus confidence over their questions),
    each with every question's consensus and answer counts for a reviewer to look at."""
    candidates = np.flatnonzero(dispute_n > 0)
    score = dispute_sum[candidates] / dispute_n[candidates]
    worst = candidates[np.lexsort((item_ids[candidates], score))[:DISPUTED_LIMIT]]
    chosen = item_ids[worst].tolist()
    external = dict(Item.objects.filter(pk__in=chosen).values_list("id", "external_id"))
    out = []
    for index, item_id in zip(worst.tolist(), chosen, strict=True):
        detail = {}
        for qname, (units, consensus, packed) in by_question.items():
            unit_of_item = np.searchsorted(units.item_ids, item_id)
            if unit_of_item >= len(units.item_ids) or units.item_ids[unit_of_item] != item_id:
                continue
            units_here = np.flatnonzero(units.unit_item == unit_of_item)
            entry: dict[str, Any] = {
                "confidence": float(consensus.confidence[units_here].mean()),
                "answers": int(consensus.answers[units_here].max()),
            }
            if len(units_here) == 1:
                unit = units_here[0]
                counts = agreement.value_counts(packed[:, unit:unit + 1], units.value_domain)[0]
                labels = units.value_labels
                value = consensus.values[unit]
                entry["consensus"] = (
                    None if np.isnan(value)
                    else f"{value:.2f}" if units.level in ("interval", "ratio")
                    else labels[int(np.searchsorted(units.value_domain, value))])
                entry["votes"] = {labels[k]: int(c) for k, c in enumerate(counts) if c}
            detail[qname] = entry
        out.append({"item": item_id, "external_id": external.get(item_id),
                    "agreement": float(dispute_sum[index] / dispute_n[index]),
                    "questions": detail})
    return out
