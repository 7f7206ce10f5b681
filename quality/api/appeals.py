"""The appeals API: experts file and follow their own appeals; the customer's team reads a
project's appeals and its QA leads decide them.

Experts reach only their own appeals (``of_expert``) and read the decider by role, never by
identity. The customer's side reads appeals of its organization's projects (``visible_to``)
and the expert by the project's pseudonym, as the review queue shows them; anything else
answers 404. Who may decide is the service's question (``quality.appeals``).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from config.ids import ModelSerializer
from tasks.export import expert_pseudonym
from tasks.models import Project

from .. import appeals
from ..models import Appeal
from .serializers import ExpertIdField

DETAILS = {"type": "object", "additionalProperties": {},
           "description": "What the decision restored and, where known, what it paid: "
                          "`restored` in words, `overturned_assignments`, `paid` "
                          "(assignment, amount, currency), `hourly` for hourly contracts."}


@extend_schema_field(DETAILS)
class DetailsField(serializers.JSONField):
    """What a decision restored and paid, as the appeal records it."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)


class MyAppealSerializer(ModelSerializer):
    """An appeal as the expert who filed it reads it."""

    project_name = serializers.CharField(source="project.name", read_only=True)
    decided_by = serializers.SerializerMethodField(
        help_text="Who decided, by role (\"QA lead\", \"Owner\", \"Platform operator\") or "
                  "\"Appeal deadline\" when nobody decided in time; empty while pending.")
    details = DetailsField()

    class Meta:
        model = Appeal
        fields = ["id", "project", "project_name", "subject", "annotation", "quality_action",
                  "reason", "status", "due_at", "decided_by", "decision_reason", "decided_at",
                  "automatic", "details", "created_at"]
        read_only_fields = fields

    def get_decided_by(self, appeal) -> str:
        roles = self.context.get("decider_roles") or appeals.decider_roles([appeal])
        return roles[appeal.pk]


class AppealSerializer(ModelSerializer):
    """An appeal as the customer's team reads it: the expert by the project's pseudonym
    (operators also get the user id)."""

    expert = serializers.SerializerMethodField()
    expert_id = ExpertIdField()
    first_decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True,
        help_text="Who rejected; null when a rule decided.")
    assignee = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True,
        help_text="The QA lead asked to decide; null when the organization has no other.")
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True,
        help_text="Null while pending and when the deadline decided.")
    details = DetailsField()

    class Meta:
        model = Appeal
        fields = ["id", "project", "subject", "annotation", "quality_action", "expert",
                  "expert_id", "reason", "status", "first_decided_by", "assignee", "due_at",
                  "decided_by", "decision_reason", "decided_at", "automatic", "details",
                  "created_at"]
        read_only_fields = fields

    def get_expert(self, appeal) -> str:
        return expert_pseudonym(appeal.project_id, appeal.expert_id)


class AppealRequestSerializer(serializers.Serializer):
    annotation = serializers.IntegerField(
        required=False, min_value=1, help_text="Your rejected annotation's id.")
    quality_action = serializers.IntegerField(
        required=False, min_value=1, help_text="The id of a quality action in force on you.")
    reason = serializers.CharField(max_length=5000, help_text="Why the decision should change.")

    def validate(self, attrs):
        if "annotation" in attrs and "quality_action" in attrs:
            raise serializers.ValidationError(
                {"quality_action": ["Appeal either an annotation or a quality action, not both."]})
        if "annotation" not in attrs and "quality_action" not in attrs:
            raise serializers.ValidationError(
                {"annotation": ["Name the rejected annotation or the quality action you "
                                "appeal."]})
        return attrs


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["uphold", "deny"])
    reason = serializers.CharField(max_length=5000, help_text="Read by the expert.")


@extend_schema_view(
    create=extend_schema(request=AppealRequestSerializer, responses={
        201: MyAppealSerializer,
        404: OpenApiResponse(description="No such annotation or action of yours."),
        409: OpenApiResponse(description="Not rejected (`not_rejected`), reversed already "
                                         "(`reversed`), appealed already "
                                         "(`already_appealed`) or past the appeal window "
                                         "(`too_late`).")}),
)
class MyAppealViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                      mixins.CreateModelMixin, viewsets.GenericViewSet):
    """The signed-in expert's appeals, newest first. Appeal a rejection or a quality action
    once, within the appeal window; a QA lead other than the first decides it, and an
    appeal left undecided past `due_at` is upheld."""

    serializer_class = MyAppealSerializer
    filterset_fields = ["status", "subject"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Appeal.objects.none()
        return (Appeal.objects.of_expert(self.request.user)
                .select_related("project", "decided_by"))

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        context = {**self.get_serializer_context(),
                   "decider_roles": appeals.decider_roles(page)}
        return self.get_paginated_response(MyAppealSerializer(page, many=True,
                                                              context=context).data)

    def create(self, request, *args, **kwargs):
        serializer = AppealRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        appeal = appeals.file_appeal(expert=request.user, reason=data["reason"],
                                     annotation_id=data.get("annotation"),
                                     quality_action_id=data.get("quality_action"))
        return Response(self.get_serializer(self.get_queryset().get(pk=appeal.pk)).data,
                        status=status.HTTP_201_CREATED)


class ProjectAppealViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A project's appeals: pending ones first, soonest due first; then the decided ones,
    newest decision first."""

    serializer_class = AppealSerializer
    filterset_fields = ["status", "subject"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Appeal.objects.none()
        project = get_object_or_404(Project.objects.visible_to(self.request.user),
                                    pk=self.kwargs["project_pk"])
        return appeals.in_queue_order(
            project.appeals.select_related("first_decided_by", "assignee", "decided_by"))


class AppealViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One appeal of the caller's organization; QA leads, owners and admins decide it."""

    serializer_class = AppealSerializer
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Appeal.objects.none()
        return Appeal.objects.visible_to(self.request.user).select_related(
            "first_decided_by", "assignee", "decided_by")

    @extend_schema(request=DecisionSerializer, responses={
        200: AppealSerializer,
        403: OpenApiResponse(description="Your role does not allow this, or you decided "
                                         "first and another QA lead decides this appeal."),
        409: OpenApiResponse(description="Decided already (`decided`), or the organization "
                                         "cannot pay the upheld work (`insufficient_funds`; "
                                         "the appeal stays pending).")})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Uphold (the rejection is overturned and paid, or the action undone and its voided
        work paid) or deny, with a reason the expert reads."""
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        appeal = appeals.decide_appeal(
            appeal_id=self.get_object().pk, by=request.user,
            upheld=serializer.validated_data["decision"] == "uphold",
            reason=serializer.validated_data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=appeal.pk)).data)


router = SimpleRouter()
router.register("me/appeals", MyAppealViewSet, basename="my-appeal")
router.register(r"projects/(?P<project_pk>[0-9]+)/appeals", ProjectAppealViewSet,
                basename="project-appeal")
router.register("appeals", AppealViewSet, basename="appeal")

urlpatterns = router.urls
