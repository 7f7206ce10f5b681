"""The report's written answers on a small SFT project whose figures are worked out by hand:
three experts, four prompts, reviews with fixes and rubric scores given through the review
service, and the work that must not count (a gold item, a rule's voiding)."""

import statistics
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Domain, Membership
from quality import jobs, report, reviews, texts
from quality.models import AgreementReport, Review
from quality.report_charts import report_charts
from tasks import services as task_services
from tasks.export import expert_pseudonym
from tasks.models import Annotation, Assignment, Item
from tests import factories
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

RUBRIC = [{"name": "accuracy", "description": "Medically right."},
          {"name": "clarity", "description": "A patient could follow it."}]
LONG = "Bed rest. " * 200
# Per expert, per prompt: (answer, seconds). Ben's answer to p3 took two seconds.
WORK = {
    "ann": ["Take one aspirin a day with water.", "Rest for 2 days.",
            "Drink more fluids and rest.", "Check blood pressure twice a week."],
    "ben": ["Take one aspirin a day with food.", "Rest for 2 days and drink fluids.",
            "Drink fluids and rest well.", "Check blood pressure weekly."],
    "cat": ["Surgery is the only option.", LONG, None, None],
}
SECONDS = {"ann": [60, 55, 65, 62], "ben": [58, 61, 59, 2], "cat": [57, 64, None, None]}


def submit(project, item, expert, text, seconds, status=Assignment.Status.SUBMITTED):
    now = timezone.now()
    assignment = Assignment.objects.create(
        item=item, project=project, expert=expert, is_gold=item.is_gold, status=status,
        leased_at=now, expires_at=now + timedelta(hours=1), submitted_at=now,
        duration_s=seconds)
    item.filled = item.annotated = item.annotated + 1
    item.save(update_fields=["filled", "annotated"])
    return Annotation.objects.create(assignment=assignment, item=item, project=project,
                                     expert=expert, answer={"response": text})


@pytest.fixture
def sft(customer):
    organization = factories.organization_of(customer)
    project = task_services.create_project(
        user=customer, organization=organization, name="Patient advice",
        domain=Domain.objects.get(slug="medicine-cardiology"), preset="sft", rubric=RUBRIC,
        overlap=3, max_overlap=3)
    qa = factories.member(organization, role=Membership.Role.QA_LEAD)
    experts = {name: factories.expert(username=f"dr-{name}") for name in WORK}
    items = [Item.objects.create(project=project, external_id=f"p{n}",
                                 data={"prompt": f"Advice {n}?"}, overlap=3) for n in range(4)]
    mine = {}
    for name, answers in WORK.items():
        for n, text in enumerate(answers):
            if text is not None:
                mine[name, n] = submit(project, items[n], experts[name], text,
                                       SECONDS[name][n])

    def review(key, verdict, **options):
        return reviews.review_annotation(annotation_id=mine[key].pk, reviewer=qa,
                                         verdict=verdict, **options)

    review(("ann", 0), "accept", rubric={"accuracy": 5, "clarity": 4})
    review(("ann", 1), "fix", answer={"response": "Rest for 3 days."}, rubric={"accuracy": 3})
    review(("ben", 0), "reject", comment="Food is not the point.", rubric={"accuracy": 2})
    review(("ben", 1), "accept", rubric={"accuracy": 4, "clarity": 5})
    # Not counted: a gold answer, even reviewed, and a rule's voiding of other work.
    gold = Item.objects.create(project=project, external_id="gold", data={"prompt": "Gold?"},
                               overlap=3, is_gold=True, gold={"response": "Rest."})
    checked = submit(project, gold, experts["cat"], "Run a marathon.", 5)
    reviews.review_annotation(annotation_id=checked.pk, reviewer=qa, verdict="reject",
                              comment="Wrong.", rubric={"accuracy": 1})
    voided = submit(project, items[2], experts["cat"], "Anything.", 30,
                    status=Assignment.Status.REJECTED)
    Review.objects.create(annotation=voided, project=project, reason=Review.Reason.RULE,
                          verdict=Review.Verdict.REJECT, comment="Voided.",
                          decided_at=timezone.now())
    project.refresh_from_db()
    return project, experts


def by_expert(section, project, experts):
    rows = {row["expert"]: row for row in section["experts"]}
    return {name: rows.get(expert_pseudonym(project.pk, user.pk))
            for name, user in experts.items()}


def test_reviews_give_each_expert_rates_edit_distance_and_rubric_means(sft):
    project, experts = sft
    [section] = report.build_report(project)["written"]
    assert section["question"] == "response"
    assert section["rubric_criteria"] == ["accuracy", "clarity"]
    rows = by_expert(section, project, experts)

    ann, ben, cat = rows["ann"], rows["ben"], rows["cat"]
    assert (ann["answers"], ann["reviewed"], ann["accepted"], ann["fixed"]) == (4, 2, 1, 1)
    assert (ann["acceptance_rate"], ann["fix_rate"], ann["rejection_rate"]) == (0.5, 0.5, 0.0)
    # "Rest for 2 days." -> "Rest for 3 days.": one character of sixteen.
    assert ann["mean_fix_distance"] == pytest.approx(1 / 16)
    assert ann["rubric"] == {"accuracy": 4.0, "clarity": 4.0}

    # Ben's rejected answer left the counted work but not his reviews.
    assert (ben["answers"], ben["reviewed"], ben["rejected"]) == (3, 2, 1)
    assert (ben["acceptance_rate"], ben["fix_rate"], ben["rejection_rate"]) == (0.5, 0.0, 0.5)
    assert ben["mean_fix_distance"] is None
    assert ben["rubric"] == {"accuracy": 3.0, "clarity": 5.0}

    # Neither the gold answer's review nor the rule's voiding counts for Cat.
    assert (cat["answers"], cat["reviewed"], cat["acceptance_rate"]) == (2, 0, None)
    assert cat["rubric"] == {"accuracy": None, "clarity": None}

    assert (section["answers"], section["items"], section["experts_count"]) == (9, 4, 3)
    assert (section["reviewed"], section["acceptance_rate"], section["fix_rate"],
            section["rejection_rate"]) == (4, 0.5, 0.25, 0.25)
    assert section["rubric"] == {"accuracy": pytest.approx(14 / 4), "clarity": 4.5}


def test_lengths_times_and_their_outliers(sft):
    project, experts = sft
    [section] = report.build_report(project)["written"]
    rows = by_expert(section, project, experts)
    assert rows["ann"]["median_length"] == statistics.median(len(t) for t in WORK["ann"])
    assert rows["ben"]["median_length"] == statistics.median(
        len(t) for t in WORK["ben"][1:])
    assert rows["ann"]["median_seconds"] == 61.0
    # Cat's 2,000-character answer is long among ~30-character ones; Ben's 2 s answer fast.
    assert rows["cat"]["length_outliers"] == {"low": 0, "high": 1}
    assert rows["ben"]["time_outliers"] == {"low": 1, "high": 0}
    assert rows["ann"]["length_outliers"] == rows["ann"]["time_outliers"] == {"low": 0,
                                                                             "high": 0}
    assert section["length_outliers"] == {"low": 0, "high": 1}
    assert section["time_outliers"] == {"low": 1, "high": 0}


def test_text_consensus_over_items_with_several_answers(sft):
    project, experts = sft
    [section] = report.build_report(project)["written"]
    consensus = section["consensus"]
    # p0: Ann and Cat (Ben's answer was rejected); p1: all three; p2, p3: Ann and Ben.
    groups = [[WORK["ann"][0], WORK["cat"][0]], [WORK["ann"][1], WORK["ben"][1], LONG],
              [WORK["ann"][2], WORK["ben"][2]], [WORK["ann"][3], WORK["ben"][3]]]
    expected = texts.text_consensus(groups)
    assert consensus["items"] == 4
    assert consensus["mean_confidence"] == pytest.approx(
        statistics.mean(c.confidence for c in expected))
    assert consensus["tied"] == sum(c.tied for c in expected)
    least = consensus["least_agreeing"]
    assert [row["confidence"] for row in least] == sorted(row["confidence"] for row in least)
    # Ann and Cat share not one word on p0: the least agreeing item.
    assert (least[0]["external_id"], least[0]["answers"], least[0]["confidence"]) == (
        "p0", 2, 0.0)
    ann_similarity = statistics.mean(
        [expected[0].mean_similarity[0], expected[1].mean_similarity[0],
         expected[2].mean_similarity[0], expected[3].mean_similarity[0]])
    assert by_expert(section, project, experts)["ann"]["similarity_to_others"] == (
        pytest.approx(ann_similarity))


def test_the_report_page_of_an_sft_project_draws_tables_not_empty_charts(sft):
    project, _ = sft
    charts = report_charts(report.build_report(project))
    assert charts["alpha_chart"] is None and charts["expert_chart"] is None
    [table] = charts["written_tables"]
    assert table["criteria"] == ["accuracy", "clarity"]
    assert table["total"]["accepted"] == "50%" and table["total"]["rubric"] == ["3.50", "4.50"]
    assert {row["time_outliers"] for row in table["rows"]} == {"1 fast", "none"}


def test_a_project_without_text_questions_has_no_written_section(customer):
    project = factories.project(customer, preset="classification", questions=[
        {"name": "label", "kind": "label", "options": ["yes", "no"]}])
    assert report.build_report(project)["written"] == []


def test_the_admin_report_page_shows_the_written_answers(client, staff, sft):
    project, _ = sft
    done = AgreementReport.objects.create(project=project)
    jobs.build_agreement_report(done.pk)
    client.force_login(staff)
    response = client.get(reverse("admin:quality_agreementreport_change", args=[done.pk]))
    page = response.content.decode()
    assert "Written answers" in page and 'class="written-experts"' in page
    start = page.index('class="agreement-report"')
    figures = page[start:page.index('class="agreement-report written-answers"')]
    # Neither charts nor a table of dashes where nothing but written answers was measured.
    assert "<svg" not in figures and 'class="expert-figures"' not in figures


def test_the_report_api_gives_the_written_section(customer, sft):
    project, experts = sft
    done = AgreementReport.objects.create(project=project)
    jobs.build_agreement_report(done.pk)
    response = client_for(customer).get(f"/api/v1/reports/{done.pk}/")
    assert response.status_code == 200
    [section] = response.json()["written"]
    assert (section["question"], section["reviewed"], section["fix_rate"]) == (
        "response", 4, 0.25)
    assert section["consensus"]["items"] == 4
    ann = next(row for row in section["experts"]
               if row["expert"] == expert_pseudonym(project.pk, experts["ann"].pk))
    assert ann["rubric"] == {"accuracy": 4.0, "clarity": 4.0}
