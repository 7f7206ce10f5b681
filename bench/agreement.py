"""Agreement report: 1M annotations (200k items x 5 experts, a label and a rating question).

The work is loaded with COPY into PostgreSQL and the report is then built end to end the way
the background job builds it: annotations streamed out of the database, agreement per
question (alpha with its bootstrap interval, Fleiss' kappa, percent agreement), pairwise
Cohen's kappa, each expert's leave-one-out agreement and gold accuracy, confusion against
consensus and the disputed items.

The baseline is the least any agreement report on the same data must compute: one
``krippendorff.alpha`` call per question on reliability matrices that are already built in
memory, in the same run. The ratio is report seconds / baseline seconds (lower is better,
target <= 3). ``read_seconds`` is the database read alone (``quality.report.read``) and
``compute_ratio`` the rest of the report against the same baseline, since reading a million
rows out of PostgreSQL by itself costs several times the baseline. Peak memory is the
tracemalloc peak of a separate run of the report (numpy reports its buffers to
tracemalloc), so the timed runs are not slowed by tracing.

Both sides run ``ROUNDS`` times, interleaved; the best round of each counts.
"""

import gc
import io
import tracemalloc

import krippendorff
import numpy as np
import psycopg
from django.db import connection

from accounts import services as account_services
from accounts.models import Domain, User
from quality.report import build_report, read
from tasks import services
from tasks.models import Project

from .common import conninfo, result, timed

ITEMS = 200_000
GOLD_ITEMS = 1_000
EXPERTS = 5
ROUNDS = 5
TARGET_RATIO = 3.0
TARGET_PEAK_MB = 2048
OPTIONS = ["cardiac", "pulmonary", "gastro", "other"]
RATING = (1, 5)
# Each expert's chance of giving the item's true label; a miss is a uniform guess.
ACCURACY = (0.92, 0.88, 0.83, 0.75, 0.6)
QUESTIONS = [
    {"name": "topic", "kind": "label", "options": OPTIONS},
    {"name": "quality", "kind": "rating", "min": RATING[0], "max": RATING[1]},
]


def _project() -> tuple[Project, list[int]]:
    owner = account_services.signup_customer(
        username="bench-owner", email="owner@bench.test", password="x",
        organization_name="Bench Org").user
    project = services.create_project(
        user=owner, organization=owner.memberships.get().organization, name="Agreement bench",
        domain=Domain.objects.get(slug="medicine-cardiology"), preset="classification",
        questions=QUESTIONS, overlap=EXPERTS, max_overlap=EXPERTS)
    experts = [User.objects.create_user(f"bench-expert-{n}", f"e{n}@bench.test", "x").pk
               for n in range(EXPERTS)]
    return project, experts


def answers(count: int, seed: int = 2026) -> tuple[np.ndarray, ...]:
    """Experts x items label codes and ratings around each item's true values, and the
    true values (the gold answers of gold items)."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(OPTIONS), size=count, p=[0.4, 0.3, 0.2, 0.1])
    hit = rng.random((EXPERTS, count)) < np.asarray(ACCURACY)[:, None]
    labels = np.where(hit, truth, rng.integers(0, len(OPTIONS), size=(EXPERTS, count)))
    true_rating = rng.integers(RATING[0], RATING[1] + 1, size=count)
    noise = np.where(hit, rng.integers(-1, 2, size=(EXPERTS, count)) * (rng.random(
        (EXPERTS, count)) < 0.3), rng.integers(-2, 3, size=(EXPERTS, count)))
    ratings = np.clip(true_rating + noise, *RATING)
    return labels, ratings, truth, true_rating


def _copy(cursor, table: str, columns: str, lines) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for n, line in enumerate(lines, 1):
            buffer.write(line)
            if n % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def load(project: Project, experts: list[int]) -> int:
    """COPY the items and a staging table of answers, then let PostgreSQL build the
    assignments and annotations from it; returns the number of annotations."""
    total = ITEMS + GOLD_ITEMS
    labels, ratings, truth, true_rating = answers(total)
    with psycopg.connect(conninfo(connection.settings_dict["NAME"])) as conn, \
            conn.cursor() as cursor:
        _copy(cursor, "tasks_item",
              "id, project_id, external_id, data, gold, is_gold, priority, overlap, filled, "
              "annotated, created_at",
              (f"{n + 1}\t{project.pk}\titem-{n}\t{{\"text\": \"Case {n}\"}}\t"
               + (f'{{"topic": "{OPTIONS[truth[n]]}", "quality": {true_rating[n]}}}\tt'
                  if n >= ITEMS else "\\N\tf")
               + f"\t0\t{EXPERTS}\t{EXPERTS}\t{EXPERTS}\tnow()\n" for n in range(total)))
        cursor.execute("CREATE TEMP TABLE bench_answers (item_id bigint, expert_id bigint, "
                       "topic int, quality int)")
        _copy(cursor, "bench_answers", "item_id, expert_id, topic, quality",
              (f"{n + 1}\t{expert}\t{label}\t{rating}\n"
               for e, expert in enumerate(experts)
               for n, label, rating in zip(range(total), labels[e].tolist(),
                                           ratings[e].tolist(), strict=True)))
        cursor.execute(
            "INSERT INTO tasks_assignment (item_id, project_id, expert_id, is_gold, status, "
            "leased_at, expires_at, submitted_at, finished_at, duration_s, skip_reason, price) "
            "SELECT b.item_id, %s, b.expert_id, b.item_id > %s, "
            "CASE WHEN b.item_id %% 10 = 0 THEN 'submitted' ELSE 'approved' END, "
            "now(), now() + interval '1 hour', now(), now(), 30, '', 0 "
            "FROM bench_answers b ORDER BY b.item_id, b.expert_id", [project.pk, ITEMS])
        cursor.execute(
            "INSERT INTO tasks_annotation (assignment_id, item_id, project_id, expert_id, "
            "answer, created_at) "
            "SELECT s.id, b.item_id, s.project_id, b.expert_id, jsonb_build_object("
            "'topic', (%s::text[])[b.topic + 1], 'quality', b.quality), now() "
            "FROM bench_answers b JOIN tasks_assignment s "
            "ON s.item_id = b.item_id AND s.expert_id = b.expert_id ORDER BY s.id",
            [OPTIONS])
        cursor.execute("SELECT setval(pg_get_serial_sequence('tasks_item', 'id'), %s)",
                       [total])
        conn.commit()
        conn.autocommit = True
        for table in ("tasks_item", "tasks_assignment", "tasks_annotation"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return EXPERTS * total


def _baseline_matrices() -> list[tuple[np.ndarray, str, list]]:
    labels, ratings, _, _ = answers(ITEMS + GOLD_ITEMS)
    return [(labels[:, :ITEMS].astype(float), "nominal", list(range(len(OPTIONS)))),
            (ratings[:, :ITEMS].astype(float), "ordinal",
             list(range(RATING[0], RATING[1] + 1)))]


def _bare_alpha(matrices) -> list[float]:
    return [krippendorff.alpha(reliability_data=m, level_of_measurement=level,
                               value_domain=domain) for m, level, domain in matrices]


def _peak_megabytes(project: Project) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        build_report(project)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run() -> list[dict]:
    project, experts = _project()
    load_seconds, annotations = timed(lambda: load(project, experts))
    matrices = _baseline_matrices()
    ours, reads, theirs = [], [], []
    for _ in range(ROUNDS):
        gc.collect()
        seconds, report = timed(lambda: build_report(project))
        ours.append(seconds)
        gc.collect()
        reads.append(timed(lambda: read(project))[0])
        gc.collect()
        theirs.append(timed(lambda: _bare_alpha(matrices))[0])
    alphas = {q["question"]: round(q["alpha"], 4) for q in report["questions"]}
    peak = _peak_megabytes(project)
    return [
        result("agreement_report", min(ours), "s", baseline=min(theirs),
               target=f"<= {TARGET_RATIO}", annotations=annotations,
               load_seconds=round(load_seconds, 1), seconds=[round(s, 2) for s in ours],
               baseline_seconds=[round(s, 2) for s in theirs],
               read_seconds=round(min(reads), 2),
               compute_ratio=round((min(ours) - min(reads)) / min(theirs), 1), alpha=alphas),
        result("agreement_report_peak_memory", peak, "MB",
               target=f"< {TARGET_PEAK_MB}"),
    ]
