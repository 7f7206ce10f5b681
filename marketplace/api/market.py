"""Customers find experts (an anonymized directory) and invite them; experts find projects
and apply; accepted invitations and applications put the expert on the project's roster,
which is what lets them pull its work."""

from collections.abc import Sequence

from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.access import Action, require, require_expert
from accounts.models import ExpertProfile
from tasks.estimates import estimates_of
from tasks.models import Project

from .. import discovery, services
from ..models import Application, ProjectInvitation
from . import serializers as s
from .money import MANAGERS_ONLY, project_for

ANSWERED = OpenApiResponse(description="Already answered.")


NOT_AN_EXPERT = "Only experts browse and apply to projects."
EXPERTS_ONLY = extend_schema(responses={403: OpenApiResponse(description=NOT_AN_EXPERT)})


@extend_schema(parameters=[s.DirectoryQuerySerializer])
@extend_schema_view(list=extend_schema(responses={403: OpenApiResponse(
    description="The directory is for customers.")}))
class ExpertDirectoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Verified experts as customers may see them: degree, field, domains with their
    qualification and trust, languages, weekly hours and verified credentials, under a
    pseudonymous id to invite them with. No names, usernames or emails."""

    serializer_class = s.DirectoryExpertSerializer
    filter_backends: list = []

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ExpertProfile.objects.none()
        require(self.request.user, Action.READ, message="The expert directory is for customers.")
        query = s.DirectoryQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        if "domain" in filters:
            domains = discovery.admitting_domains(filters["domain"])
            if not domains:
                raise serializers.ValidationError({"domain": ["Unknown domain."]})
            filters["domains"] = domains
            del filters["domain"]
        return discovery.directory(**filters)


@extend_schema_view(list=EXPERTS_ONLY, retrieve=EXPERTS_ONLY)
class ListedProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                           viewsets.GenericViewSet):
    """Active projects you qualify for: public ones, and private ones you are invited to,
    with what you would earn per task after the platform fee."""

    serializer_class = s.ListedProjectSerializer
    filter_backends: list = []
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        require_expert(self.request.user, message=NOT_AN_EXPERT)
        return discovery.listed_projects(self.request.user.expert_profile)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        context = {**self.get_serializer_context(), "estimates": estimates_of(page)}
        return self.get_paginated_response(
            s.ListedProjectSerializer(page, many=True, context=context).data)

    @extend_schema(request=s.ApplyRequestSerializer,
                   responses={201: s.MyApplicationSerializer,
                              409: OpenApiResponse(description="Already on the project, "
                                                               "invited, or applied.")})
    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        """Ask the customer to let you work on the project."""
        project = self.get_object()
        body = s.ApplyRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        application = services.apply_to_project(project=project, expert=request.user,
                                                message=body.validated_data["message"])
        return Response(s.MyApplicationSerializer(application).data,
                        status=status.HTTP_201_CREATED)


@extend_schema_view(list=EXPERTS_ONLY)
class MyInvitationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Projects that invited you; accept to work on them."""

    serializer_class = s.MyInvitationSerializer
    filterset_fields = ["status"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ProjectInvitation.objects.none()
        require_expert(self.request.user, message=NOT_AN_EXPERT)
        return (ProjectInvitation.objects.of_expert(self.request.user)
                .select_related("project__organization", "project__domain",
                                "project__quality_bonus_policy"))

    def _respond(self, accept: bool) -> Response:
        invitation = services.respond_to_invitation(
            invitation=self.get_object(), expert=self.request.user, accept=accept)
        return Response(s.MyInvitationSerializer(self.get_queryset().get(pk=invitation.pk)).data)

    @extend_schema(request=None, responses={200: s.MyInvitationSerializer, 409: ANSWERED})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self._respond(True)

    @extend_schema(request=None, responses={200: s.MyInvitationSerializer, 409: ANSWERED})
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        return self._respond(False)


@extend_schema_view(list=EXPERTS_ONLY)
class MyApplicationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = s.MyApplicationSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Application.objects.none()
        require_expert(self.request.user, message=NOT_AN_EXPERT)
        return Application.objects.of_expert(self.request.user)


class ProjectInvitationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Experts invited to the project."""

    serializer_class = s.ProjectInvitationSerializer
    filterset_fields = ["status"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ProjectInvitation.objects.none()
        return project_for(self.request, self.kwargs["project_pk"]).invitations.all()

    @extend_schema(request=s.InvitationRequestSerializer,
                   responses={201: s.ProjectInvitationSerializer, 403: MANAGERS_ONLY,
                              409: OpenApiResponse(description="Already on the project, or "
                                                               "removed from it.")})
    def create(self, request, project_pk=None):
        """Owners and admins: invite an expert by their directory id. A pending invitation
        to the same expert is answered as it is."""
        project = project_for(request, project_pk)
        body = s.InvitationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invitation, _ = services.invite_expert(project=project, by=request.user,
                                               **body.validated_data)
        return Response(s.ProjectInvitationSerializer(invitation).data,
                        status=status.HTTP_201_CREATED)


@extend_schema(parameters=[OpenApiParameter("status", str, enum=["pending", "accepted",
                                                                 "declined"])])
class ProjectApplicationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Experts who applied to the project, as anonymized cards."""

    serializer_class = s.ApplicationSerializer
    filterset_fields = ["status"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Application.objects.none()
        return project_for(self.request, self.kwargs["project_pk"]).applications.all()

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(self._serialize(page))

    def _serialize(self, applications: Sequence[Application]) -> Sequence[dict]:
        """With the applicants' directory cards, loaded for the whole page at once."""
        context = {**self.get_serializer_context(),
                   "cards": s.expert_cards(a.expert_id for a in applications)}
        return s.ApplicationSerializer(applications, many=True, context=context).data

    def _decide(self, accept: bool) -> Response:
        application = services.decide_application(application=self.get_object(),
                                                  by=self.request.user, accept=accept)
        return Response(self._serialize([application])[0])

    @extend_schema(request=None, responses={200: s.ApplicationSerializer, 403: MANAGERS_ONLY,
                                            409: ANSWERED})
    @action(detail=True, methods=["post"])
    def accept(self, request, project_pk=None, pk=None):
        """Owners and admins: let the expert work on the project."""
        return self._decide(True)

    @extend_schema(request=None, responses={200: s.ApplicationSerializer, 403: MANAGERS_ONLY,
                                            409: ANSWERED})
    @action(detail=True, methods=["post"])
    def decline(self, request, project_pk=None, pk=None):
        return self._decide(False)


router = SimpleRouter()
router.register("experts", ExpertDirectoryViewSet, basename="expert-directory")
router.register("marketplace/projects", ListedProjectViewSet, basename="listed-project")
router.register("me/invitations", MyInvitationViewSet, basename="my-invitation")
router.register("me/applications", MyApplicationViewSet, basename="my-application")
router.register(r"projects/(?P<project_pk>[0-9]+)/invitations", ProjectInvitationViewSet,
                basename="project-invitation")
router.register(r"projects/(?P<project_pk>[0-9]+)/applications", ProjectApplicationViewSet,
                basename="project-application")

urlpatterns = router.urls
