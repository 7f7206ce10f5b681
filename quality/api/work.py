"""The quality API: qualification tests, quality rules and their actions, the review queue
and the project's experts.

Projects, and their rules, actions and annotations, are visible to the members of the
customer's organization and to operators (the models' ``visible_to`` QuerySets); anything
else answers 404. Reading is open to every member; which roles may change something (QA
leads, owners and admins) is decided by the services, through ``accounts.access``. Experts
reach only their own attempts and actions (``of_expert``).
"""

from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from tasks.models import Annotation, Assignment, Project

from .. import metrics, qualifications, reviews, rules
from ..models import QualificationAttempt, QualificationTest, QualityAction, QualityRule, Review
from ..review_queue import waiting_reviews
from . import serializers as s

CONFLICT = OpenApiResponse(description="The object's state does not allow this.")
FORBIDDEN = OpenApiResponse(description="Your role does not allow this.")


def project_of(request, kwargs) -> Project:
    return get_object_or_404(
        Project.objects.visible_to(request.user).select_related("organization"),
        pk=kwargs["project_pk"])


# Qualification tests.

class QualificationFilter(filters.FilterSet):
    domain = filters.CharFilter(field_name="domain__slug", help_text="A domain's slug.")

    class Meta:
        model = QualificationTest
        fields = ["domain"]


@extend_schema_view(
    create=extend_schema(request=s.QualificationTestCreateSerializer,
                         responses={201: s.QualificationTestSerializer, 403: FORBIDDEN},
                         description="Operators: write a test with its items (gold answers "
                                     "included, never shown to experts)."),
)
class QualificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Active qualification tests; each shows the caller's last attempt and when they may
    try again."""

    serializer_class = s.QualificationTestSerializer
    filterset_class = QualificationFilter
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QualificationTest.objects.none()
        return (QualificationTest.objects.filter(active=True).select_related("domain")
                .annotate(item_count=Count("items")).order_by("domain__slug", "name", "id"))

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if not getattr(self, "swagger_fake_view", False) and self.request.user.is_authenticated:
            last: dict[int, QualificationAttempt] = {}
            for attempt in QualificationAttempt.objects.of_expert(self.request.user):
                last.setdefault(attempt.test_id, attempt)  # newest first
            context["last_attempts"] = last
        return context

    def create(self, request, *args, **kwargs):
        serializer = s.QualificationTestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        test = qualifications.create_qualification_test(user=request.user,
                                                  **serializer.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=test.pk)).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={
        201: s.AttemptSerializer,
        403: OpenApiResponse(description="Only verified experts take tests."),
        409: OpenApiResponse(description="An attempt is in progress, you passed already, or "
                                         "the wait after a failed attempt is not over.")})
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def attempts(self, request, pk=None):
        """Start an attempt: the test's items are drawn and the clock starts."""
        attempt = qualifications.start_attempt(test_id=self.get_object().pk, user=request.user)
        return Response(s.AttemptSerializer(attempt).data, status=status.HTTP_201_CREATED)


class AttemptViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                     viewsets.GenericViewSet):
    """The signed-in expert's qualification attempts, newest first."""

    serializer_class = s.AttemptSerializer
    filterset_fields = ["status", "test"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QualificationAttempt.objects.none()
        return (QualificationAttempt.objects.of_expert(self.request.user)
                .select_related("test__domain").prefetch_related("items"))

    @extend_schema(request=s.AttemptSubmitSerializer, responses={
        200: s.AttemptSerializer,
        409: OpenApiResponse(description="The time ran out (the attempt is now expired) or "
                                         "the attempt was already submitted.")})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Answer every item at once; the score decides the qualification."""
        serializer = s.AttemptSubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attempt = qualifications.submit_attempt(attempt_id=self.get_object().pk, user=request.user,
                                          answers=serializer.validated_data["answers"])
        return Response(s.AttemptSerializer(self.get_queryset().get(pk=attempt.pk)).data)


# Quality rules.

class ProjectRuleViewSet(mixins.ListModelMixin, mixins.CreateModelMixin,
                         viewsets.GenericViewSet):
    """A project's quality rules: "if <metric> over <window> <comparator> <value> then
    <action>". QA leads, owners and admins declare them."""

    serializer_class = s.RuleSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QualityRule.objects.none()
        return project_of(self.request, self.kwargs).quality_rules.all()

    @extend_schema(responses={201: s.RuleSerializer, 403: FORBIDDEN})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rule = rules.create_rule(user=request.user, project=project_of(request, kwargs),
                                    **serializer.validated_data)
        return Response(s.RuleSerializer(rule).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    partial_update=extend_schema(responses={200: s.RuleSerializer, 403: FORBIDDEN}),
    destroy=extend_schema(description="Delete the rule. What it did stays on record, and in "
                                      "force until a QA lead reverses it."),
)
class RuleViewSet(mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                  mixins.DestroyModelMixin, viewsets.GenericViewSet):
    serializer_class = s.RuleSerializer
    http_method_names = ["get", "patch", "delete"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QualityRule.objects.none()
        return QualityRule.objects.visible_to(self.request.user).select_related(
            "project__organization")

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        rule = rules.update_rule(user=request.user, rule=serializer.instance,
                                    **serializer.validated_data)
        return Response(s.RuleSerializer(rule).data)

    def perform_destroy(self, instance):
        rules.delete_rule(user=self.request.user, rule=instance)


# Quality actions.

class ActionFilter(filters.FilterSet):
    project = filters.NumberFilter(field_name="project_id")
    active = filters.BooleanFilter(field_name="reversed_at", lookup_expr="isnull",
                                   help_text="true: in force; false: reversed.")

    class Meta:
        model = QualityAction
        fields = ["project", "action", "active"]


class QualityActionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           viewsets.GenericViewSet):
    """What rules did to experts on the caller's projects, newest first."""

    serializer_class = s.QualityActionSerializer
    filterset_class = ActionFilter
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QualityAction.objects.none()
        return QualityAction.objects.visible_to(self.request.user)

    @extend_schema(request=s.ReverseSerializer, responses={
        200: s.QualityActionSerializer, 403: FORBIDDEN,
        409: OpenApiResponse(description="Already reversed.")})
    @action(detail=True, methods=["post"], filterset_class=None)
    def reverse(self, request, pk=None):
        """Undo the action: re-allow the expert, stop reviewing all their work or lift the
        suspension. Annotations voided by a removal stay voided; `reversal_effect` says so.
        """
        serializer = s.ReverseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reversed_ = rules.reverse_action(action_id=self.get_object().pk, user=request.user,
                                            note=serializer.validated_data["note"])
        return Response(self.get_serializer(reversed_).data)


class MyQualityActionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Quality actions taken on the signed-in expert, with the finding behind each."""

    serializer_class = s.MyQualityActionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QualityAction.objects.none()
        return QualityAction.objects.of_expert(self.request.user).select_related("project")


# Reviews.

class ReviewQueueViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Annotations waiting for review, most important first: work a rule sent, then
    disputed items, then requested reviews, then the random sample; oldest first within."""

    serializer_class = s.QueueEntrySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Review.objects.none()
        project = project_of(self.request, self.kwargs)
        others = Annotation.objects.select_related("assignment").filter(
            assignment__status__in=Assignment.COUNTED).order_by("id")
        return (waiting_reviews(project)
                .select_related("annotation__item", "annotation__assignment")
                .prefetch_related(Prefetch("annotation__item__annotations", queryset=others)))


class AnnotationReviewViewSet(viewsets.GenericViewSet):
    """Reviewing one annotation of a project the caller's organization owns."""

    lookup_value_regex = r"[0-9]+"
    serializer_class = s.ReviewSerializer
    pagination_class = None
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Annotation.objects.none()
        return Annotation.objects.visible_to(self.request.user)

    @extend_schema(request=s.ReviewRequestSerializer, responses={
        200: s.ReviewSerializer, 403: FORBIDDEN,
        409: OpenApiResponse(description="The work is not waiting for a decision (already "
                                         "approved or rejected).")})
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        """Accept (approve), reject (the item's slot reopens; a comment for the expert is
        required) or fix (your answer replaces the expert's and the work is approved)."""
        serializer = s.ReviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = reviews.review_annotation(annotation_id=self.get_object().pk,
                                            reviewer=request.user, **serializer.validated_data)
        return Response(s.ReviewSerializer(review).data)

    @extend_schema(responses={200: s.ReviewSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def reviews(self, request, pk=None):
        """Every review of the annotation, oldest first."""
        annotation = self.get_object()
        history = annotation.reviews.select_related("reviewer").order_by("created_at", "id")
        return Response(s.ReviewSerializer(history, many=True).data)

    @extend_schema(request=s.OverturnSerializer, responses={
        200: s.ReviewSerializer, 403: FORBIDDEN,
        409: OpenApiResponse(description="Not rejected, or rejected more than 30 days ago.")})
    @action(detail=True, methods=["post"])
    def overturn(self, request, pk=None):
        """Approve rejected work after all, within 30 days of the rejection."""
        serializer = s.OverturnSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = reviews.overturn(annotation_id=self.get_object().pk, user=request.user,
                                   note=serializer.validated_data["note"])
        return Response(s.ReviewSerializer(review).data)


# The project's experts.

class ProjectExpertsViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Per expert who worked on the project (or stands on its roster): volume, gold accuracy,
    agreement with the other experts, speed, skips, and the quality actions in force."""

    serializer_class = s.ExpertStatsSerializer
    filter_backends = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        self.project = project_of(self.request, self.kwargs)
        return metrics.experts_on(self.project).order_by("expert_id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        rows = [{**row, "expert_id": row["expert_id"] if request.user.is_staff else None}
                for row in metrics.expert_rows(self.project, [row["expert_id"] for row in page])]
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


router = SimpleRouter()
router.register("qualifications", QualificationViewSet, basename="qualification")
router.register("qualification-attempts", AttemptViewSet, basename="qualification-attempt")
router.register(r"projects/(?P<project_pk>[0-9]+)/rules", ProjectRuleViewSet,
                basename="project-rule")
router.register("rules", RuleViewSet, basename="rule")
router.register("quality-actions", QualityActionViewSet, basename="quality-action")
router.register("me/quality-actions", MyQualityActionViewSet, basename="my-quality-action")
router.register(r"projects/(?P<project_pk>[0-9]+)/review-queue", ReviewQueueViewSet,
                basename="review-queue")
router.register("annotations", AnnotationReviewViewSet, basename="annotation-review")
router.register(r"projects/(?P<project_pk>[0-9]+)/experts", ProjectExpertsViewSet,
                basename="project-expert")

urlpatterns = router.urls
