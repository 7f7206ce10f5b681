"""Agreement reports, and the judges' answers they weigh against the experts'.

A report is computed in the background (``quality.jobs.build_agreement_report``): POST
answers 202 at once and ``GET /reports/{id}/`` shows its status, then its figures. Projects
and their reports are visible to the members of the customer's organization and to
operators; to anyone else, experts included, they do not exist (404).
"""

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.ids import ModelSerializer
from tasks import schema
from tasks.models import Item, Project
from tasks.serializers import UploadErrorsSerializer

from ..models import AgreementReport, JudgeAnnotation
from ..reporting import request_report

JUDGE_ROWS_LIMIT = 10_000
MAX_ROW_ERRORS = 100


def _project(request, project_pk: int) -> Project:
    return get_object_or_404(Project.objects.visible_to(request.user), pk=project_pk)


# Reports.

class QuestionAgreementSerializer(serializers.Serializer):
    question = serializers.CharField()
    kind = serializers.CharField()
    level = serializers.ChoiceField(
        choices=["nominal", "ordinal", "interval", "ratio", "none"],
        help_text="Level of measurement; `none` for free text.")
    alpha = serializers.FloatField(allow_null=True,
                                   help_text="Krippendorff's alpha; null when undefined.")
    alpha_ci = serializers.ListField(child=serializers.FloatField(), min_length=2,
                                     max_length=2, allow_null=True,
                                     help_text="95% bias-corrected (BCa) bootstrap interval "
                                               "over units.")
    fleiss_kappa = serializers.FloatField(
        allow_null=True, help_text="Over every unit with two answers or more (weighted on "
                                   "ordered scales).")
    gwet_ac = serializers.FloatField(
        allow_null=True, required=False,
        help_text="Gwet's AC1 (AC2, weighted, on ordered scales): chance-corrected "
                  "agreement that stays high when one answer dominates.")
    brennan_prediger = serializers.FloatField(
        allow_null=True, required=False,
        help_text="Agreement beyond experts choosing uniformly among the scale's values.")
    percent_agreement = serializers.FloatField(allow_null=True)
    units = serializers.IntegerField(
        required=False, help_text="Units with two answers or more, which the coefficients "
                                  "measure.")
    units_dropped = serializers.IntegerField(
        required=False, help_text="Units with a single answer, which cannot be measured.")
    items = serializers.IntegerField(help_text="Items with at least one answer.")
    annotations = serializers.IntegerField(help_text="Answers to this question.")
    consensus = serializers.CharField(
        allow_null=True, required=False,
        help_text="How the crowd answer was chosen: dawid_skene, weighted_majority, "
                  "bradley_terry, median, mean or majority.")
    ties = serializers.IntegerField(
        required=False, help_text="Units whose vote was tied and drawn from the report's "
                                  "tie_seed.")


class PairKappaSerializer(serializers.Serializer):
    question = serializers.CharField()
    a = serializers.CharField(help_text="Expert pseudonym.")
    b = serializers.CharField(help_text="Expert pseudonym.")
    shared = serializers.IntegerField(help_text="Items both answered.")
    kappa = serializers.FloatField(allow_null=True, help_text="Cohen's kappa over the "
                                   "scale's values: unweighted for nominal questions, linear "
                                   "over ranks for ordinal, quadratic for interval, relative "
                                   "differences for ratio.")


class ExpertAgreementSerializer(serializers.Serializer):
    expert = serializers.CharField(help_text="Pseudonym, stable within the project.")
    annotations = serializers.IntegerField()
    agreement_with_consensus = serializers.FloatField(
        allow_null=True, help_text="Mean agreement with the other experts' consensus.")
    gold_accuracy = serializers.FloatField(allow_null=True)
    gold_answers = serializers.IntegerField()
    kappa_vs_others = serializers.FloatField(allow_null=True,
                                             help_text="Mean of the expert's pairwise kappas.")
    questions = serializers.DictField(child=serializers.FloatField(),
                                      help_text="Agreement with consensus per question.")
    spammer_score = serializers.FloatField(
        allow_null=True, required=False,
        help_text="Raykar & Yu's spammer score from the Dawid-Skene fit of the label "
                  "questions (their mean): 0 when answers do not depend on the true class, "
                  "1 when they determine it; null without a fit.")
    dawid_skene = serializers.DictField(
        required=False,
        help_text="Per label question fitted by Dawid-Skene: labels, confusion (true class "
                  "by given answer), accuracy, spammer_score and answers.")


class ConfusionSerializer(serializers.Serializer):
    question = serializers.CharField()
    labels = serializers.ListField(child=serializers.CharField())
    matrix = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField()),
        help_text="Rows: the consensus value; columns: the answer given.")


class DisputedQuestionSerializer(serializers.Serializer):
    confidence = serializers.FloatField()
    answers = serializers.IntegerField()
    consensus = serializers.CharField(required=False, allow_null=True)
    votes = serializers.DictField(child=serializers.IntegerField(), required=False)


class DisputedItemSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    agreement = serializers.FloatField(help_text="Mean consensus confidence, lowest first.")
    questions = serializers.DictField(child=DisputedQuestionSerializer())


class JudgeQuestionSerializer(serializers.Serializer):
    question = serializers.CharField()
    units = serializers.IntegerField(help_text="Judged units that have a human consensus.")
    accuracy = serializers.FloatField(help_text="Against the human consensus.")
    kappa = serializers.FloatField(allow_null=True)
    agreement_with_humans = serializers.FloatField(
        allow_null=True, help_text="Share of judge-expert answer pairs that agree.")
    human_agreement = serializers.FloatField(
        allow_null=True, help_text="The same share between experts, on the same units.")


class JudgeSerializer(serializers.Serializer):
    judge = serializers.CharField()
    accuracy = serializers.FloatField(help_text="Mean accuracy over the questions.")
    questions = JudgeQuestionSerializer(many=True)


class OutlierCountSerializer(serializers.Serializer):
    low = serializers.IntegerField(help_text="Answers unusually short, or fast.")
    high = serializers.IntegerField(help_text="Answers unusually long, or slow.")


class WrittenFiguresSerializer(serializers.Serializer):
    answers = serializers.IntegerField(help_text="Counted answers with text.")
    median_length = serializers.FloatField(allow_null=True, help_text="In characters.")
    median_seconds = serializers.FloatField(allow_null=True)
    length_outliers = OutlierCountSerializer(
        help_text="Modified z-score of log length beyond 3.5 among the question's answers.")
    time_outliers = OutlierCountSerializer(help_text="The same, of the seconds taken.")
    reviewed = serializers.IntegerField(
        help_text="Answers with a QA lead's verdict, rejected ones included.")
    accepted = serializers.IntegerField()
    fixed = serializers.IntegerField()
    rejected = serializers.IntegerField()
    acceptance_rate = serializers.FloatField(allow_null=True)
    fix_rate = serializers.FloatField(allow_null=True)
    rejection_rate = serializers.FloatField(allow_null=True)
    mean_fix_distance = serializers.FloatField(
        allow_null=True, help_text="Mean normalised edit distance from the answer to the "
                                   "reviewer's fix: 0 untouched, 1 rewritten.")
    rubric = serializers.DictField(child=serializers.FloatField(allow_null=True),
                                   help_text="Mean score per rubric criterion.")
    similarity_to_others = serializers.FloatField(
        allow_null=True, help_text="Mean TF-IDF cosine similarity to the other answers on "
                                   "the same items.")


class WrittenExpertSerializer(WrittenFiguresSerializer):
    expert = serializers.CharField(help_text="Pseudonym, stable within the project.")


class LeastAgreeingSerializer(serializers.Serializer):
    item = serializers.IntegerField()
    external_id = serializers.CharField(allow_null=True)
    answers = serializers.IntegerField()
    confidence = serializers.FloatField(help_text="The consensus answer's mean similarity "
                                                  "to the others.")
    tied = serializers.BooleanField(help_text="Other answers are as close to the rest.")
    consensus = serializers.CharField(help_text="The consensus answer, cut at 160 "
                                                "characters.")
    consensus_expert = serializers.CharField()


class TextConsensusSerializer(serializers.Serializer):
    items = serializers.IntegerField(help_text="Items with two answers or more.")
    mean_confidence = serializers.FloatField(allow_null=True)
    tied = serializers.IntegerField()
    least_agreeing = LeastAgreeingSerializer(many=True)


class WrittenQuestionSerializer(WrittenFiguresSerializer):
    question = serializers.CharField()
    items = serializers.IntegerField()
    experts_count = serializers.IntegerField()
    rubric_criteria = serializers.ListField(child=serializers.CharField())
    consensus = TextConsensusSerializer()
    experts = WrittenExpertSerializer(many=True)


class LeaderboardRowSerializer(serializers.Serializer):
    model = serializers.CharField()
    strength = serializers.FloatField(
        help_text="Bradley-Terry log-strength, centred so the models' strengths sum to 0; a "
                  "lead of d wins with probability 1 / (1 + exp(-d)).")
    interval = serializers.ListField(child=serializers.FloatField(), min_length=2,
                                     max_length=2, help_text="95% BCa bootstrap interval over "
                                                             "items.")
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    ties = serializers.IntegerField(help_text="Each counted as half a win each way.")
    comparisons = serializers.IntegerField()
    win_rate = serializers.FloatField(help_text="(wins + ties / 2) / comparisons.")
    p_beats_next = serializers.FloatField(
        allow_null=True, help_text="Fitted probability of beating the model one row down; "
                                   "null on the last row.")
    ahead_of_next = serializers.FloatField(
        allow_null=True, help_text="Share of bootstrap resamples that keep this model above "
                                   "the next one.")


class LeaderboardBootstrapSerializer(serializers.Serializer):
    replicates = serializers.IntegerField()
    seed = serializers.IntegerField()
    level = serializers.FloatField()


class LeaderboardSerializer(serializers.Serializer):
    question = serializers.CharField()
    kind = serializers.CharField()
    models_field = serializers.CharField(help_text="The item field naming each entry's model.")
    rows = LeaderboardRowSerializer(many=True, help_text="Strongest first.")
    items = serializers.IntegerField(help_text="Items with a comparison of two models.")
    comparisons = serializers.IntegerField(
        help_text="Pairs compared: one per pairwise answer, k(k-1)/2 per ranking of k.")
    connected = serializers.BooleanField(
        help_text="Whether the comparisons link every model to every other; when false, "
                  "strengths across the gap rest on the prior alone.")
    prior = serializers.FloatField(help_text="Virtual wins added each way to every pair.")
    bootstrap = LeaderboardBootstrapSerializer()


class ReportSummarySerializer(ModelSerializer):
    class Meta:
        model = AgreementReport
        fields = ["id", "project", "status", "error", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields


class ReportSerializer(ReportSummarySerializer):
    """The report; its figures appear at the top level once `status` is `done`."""

    generated_at = serializers.DateTimeField(source="result.generated_at", read_only=True)
    tie_seed = serializers.IntegerField(
        source="result.tie_seed", read_only=True, required=False,
        help_text="The seed tied votes were drawn from; the exports use the same one.")
    items = serializers.IntegerField(source="result.items", read_only=True,
                                     help_text="Non-gold items with counted answers.")
    annotations = serializers.IntegerField(source="result.annotations", read_only=True)
    questions = QuestionAgreementSerializer(source="result.questions", many=True,
                                            read_only=True)
    pairwise_kappa = PairKappaSerializer(source="result.pairwise_kappa", many=True,
                                         read_only=True)
    experts = ExpertAgreementSerializer(source="result.experts", many=True, read_only=True)
    confusion = ConfusionSerializer(source="result.confusion", many=True, read_only=True)
    disputed_items = DisputedItemSerializer(source="result.disputed_items", many=True,
                                            read_only=True)
    judges = JudgeSerializer(source="result.judges", many=True, read_only=True,
                             help_text="Empty when no judge answers were posted.")
    written = WrittenQuestionSerializer(
        source="result.written", many=True, read_only=True,
        help_text="Per text question: reviews, fixes, rubric scores, lengths, times and the "
                  "text consensus; absent from reports computed before it existed.")
    leaderboard = LeaderboardSerializer(
        source="result.leaderboard", many=True, read_only=True,
        help_text="Per pairwise or ranking question that names its entries' models: a "
                  "Bradley-Terry leaderboard of the models; absent from reports computed "
                  "before it existed.")

    class Meta(ReportSummarySerializer.Meta):
        fields = [*ReportSummarySerializer.Meta.fields, "generated_at", "tie_seed", "items",
                  "annotations",
                  "questions", "pairwise_kappa", "experts", "confusion", "disputed_items",
                  "judges", "written", "leaderboard"]
        read_only_fields = fields
        # Until the report is done it has no figures, and the answer leaves them out.
        optional_fields = fields[len(ReportSummarySerializer.Meta.fields):]


class ReportAcceptedSerializer(ModelSerializer):
    class Meta:
        model = AgreementReport
        fields = ["id", "status"]
        read_only_fields = fields


class ProjectReportsView(generics.ListAPIView):
    """A project's agreement reports, newest first; POST asks for a new one."""

    serializer_class = ReportSummarySerializer

    def get_queryset(self) -> QuerySet[AgreementReport]:
        if getattr(self, "swagger_fake_view", False):
            return AgreementReport.objects.none()
        return _project(self.request, self.kwargs["project_pk"]).agreement_reports.all()

    @extend_schema(
        summary="Request an agreement report",
        description="Computed in the background from the project's human work at that "
                    "moment: submitted and approved answers on non-gold items. Poll "
                    "`GET /api/v1/reports/{id}/` until `status` is `done` or `failed`.",
        request=None,
        responses={202: ReportAcceptedSerializer,
                   404: OpenApiResponse(description="No such project among yours.")},
    )
    def post(self, request, project_pk: int):
        report = request_report(_project(request, project_pk), request.user)
        return Response(ReportAcceptedSerializer(report).data, status=status.HTTP_202_ACCEPTED,
                        headers={"Location": reverse("report-detail", kwargs={"pk": report.pk})})


class ReportDetailView(generics.RetrieveAPIView):
    """One agreement report: `status` is `pending`, `running`, `done` (with the figures) or
    `failed` (with `error`)."""

    serializer_class = ReportSerializer

    def get_queryset(self) -> QuerySet[AgreementReport]:
        if getattr(self, "swagger_fake_view", False):
            return AgreementReport.objects.none()
        return AgreementReport.objects.visible_to(self.request.user)


# Judges.

class JudgeRowSerializer(serializers.Serializer):
    """One model or LLM-judge answer."""

    external_id = serializers.CharField(help_text="The item's external_id in the project.")
    judge = serializers.CharField(max_length=100, help_text="The model's name, e.g. `rm-v3`.")
    answer = serializers.DictField(
        help_text="Keyed by question, as an expert answers; a judge may answer only some "
                  "of the questions.")


class JudgeUpsertSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Answers that replaced the judge's earlier "
                                                 "answer to the same item.")


def _row_errors(project: Project, rows) -> tuple[list[dict], list[tuple[int, str, dict]]]:
    """Row errors as the batch upload reports them, and the (item, judge, answer) to store."""
    if not isinstance(rows, list):
        return [{"row": 0, "field": "non_field_errors",
                 "message": "Send a JSON array of {external_id, judge, answer}."}], []
    if len(rows) > JUDGE_ROWS_LIMIT:
        return [{"row": 0, "field": "non_field_errors",
                 "message": f"Send at most {JUDGE_ROWS_LIMIT:,} answers per request."}], []
    errors: list[dict] = []
    parsed: list[tuple[int, dict]] = []
    for number, row in enumerate(rows, 1):
        serializer = JudgeRowSerializer(data=row)
        if serializer.is_valid():
            parsed.append((number, serializer.validated_data))
            continue
        for field, messages in serializer.errors.items():
            errors.extend({"row": number, "field": field, "message": str(m)} for m in messages)
    items = {external_id: (pk, data) for external_id, pk, data in
             Item.objects.filter(project=project,
                                 external_id__in={row["external_id"] for _, row in parsed})
             .values_list("external_id", "id", "data")}
    # Judges may leave questions out, so none is required of them.
    questions = [{**question, "required": False} for question in project.questions]
    seen: dict[tuple[str, str], int] = {}
    valid = []
    for number, row in parsed:
        key = (row["external_id"], row["judge"])
        if key in seen:
            errors.append({"row": number, "field": "external_id",
                           "message": f"Repeats row {seen[key]}'s item and judge."})
            continue
        seen[key] = number
        if row["external_id"] not in items:
            errors.append({"row": number, "field": "external_id",
                           "message": "No item with this external_id in the project."})
            continue
        item_id, data = items[row["external_id"]]
        problems = schema.validate_answer(questions, data, row["answer"])
        errors.extend({"row": number, "field": f"answer.{name}", "message": message}
                      for name, messages in problems.items() for message in messages)
        if not problems:
            valid.append((item_id, row["judge"], row["answer"]))
    return sorted(errors, key=lambda e: e["row"]), valid


class JudgeAnnotationsView(APIView):
    @extend_schema(
        summary="Post model or LLM-judge answers",
        description="Each answer is checked against the project's questions; any bad row "
                    "and nothing is stored. An item's answer from the same judge is replaced. "
                    "Judges never count toward overlap, pay or the experts' agreement: the "
                    "agreement report shows how they align with the human consensus. At most "
                    f"{JUDGE_ROWS_LIMIT:,} answers per request.",
        request=JudgeRowSerializer(many=True),
        responses={201: JudgeUpsertSerializer,
                   400: OpenApiResponse(UploadErrorsSerializer,
                                        description="Bad rows; nothing was stored."),
                   404: OpenApiResponse(description="No such project among yours.")},
    )
    def post(self, request, project_pk: int):
        project = _project(request, project_pk)
        errors, rows = _row_errors(project, request.data)
        if errors:
            return Response({"errors": errors[:MAX_ROW_ERRORS]},
                            status=status.HTTP_400_BAD_REQUEST)
        with transaction.atomic():
            existing = set(JudgeAnnotation.objects.filter(
                item_id__in={item for item, _, _ in rows},
                judge__in={judge for _, judge, _ in rows}).values_list("item_id", "judge"))
            JudgeAnnotation.objects.bulk_create(
                [JudgeAnnotation(project=project, item_id=item, judge=judge, answer=answer)
                 for item, judge, answer in rows],
                update_conflicts=True, unique_fields=["item", "judge"], update_fields=["answer"])
        updated = sum((item, judge) in existing for item, judge, _ in rows)
        return Response({"created": len(rows) - updated, "updated": updated},
                        status=status.HTTP_201_CREATED)


urlpatterns = [
    path("projects/<int:project_pk>/reports/", ProjectReportsView.as_view(),
         name="project-reports"),
    path("reports/<int:pk>/", ReportDetailView.as_view(), name="report-detail"),
    path("projects/<int:project_pk>/judge-annotations/", JudgeAnnotationsView.as_view(),
         name="project-judge-annotations"),
]
