"""The customer's side of projects: define one, move it through its life, watch its items.

A project is visible to the members of its organization and to operators
(``Project.objects.visible_to``); to anyone else it does not exist (404), which also keeps
experts off these endpoints. Members may read; which roles may change a project is decided by
the services, through ``accounts.access``.
"""

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from .. import services
from ..models import Annotation, Assignment, Item, Project
from . import serializers as s


class ProjectFilter(filters.FilterSet):
    organization = filters.NumberFilter(field_name="organization_id")
    domain = filters.CharFilter(field_name="domain__slug")

    class Meta:
        model = Project
        fields = ["status", "organization", "domain"]


CONFLICT = OpenApiResponse(description="The project's status does not allow this.")


@extend_schema_view(
    create=extend_schema(request=s.ProjectCreateSerializer,
                         responses={201: s.ProjectSerializer}),
    partial_update=extend_schema(
        description="Change settings. Once experts have started work, `fields`, `questions`, "
                    "`domain`, `price_per_item`, `currency`, `contract` and `hourly_rate` are "
                    "fixed."),
)
class ProjectViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                     mixins.UpdateModelMixin, viewsets.GenericViewSet):
    serializer_class = s.ProjectSerializer
    filterset_class = ProjectFilter
    http_method_names = ["get", "post", "patch"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return Project.objects.visible_to(self.request.user).select_related("domain")

    def get_serializer_class(self):
        return s.ProjectCreateSerializer if self.action == "create" else s.ProjectSerializer

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        project = services.create_project(user=request.user, **serializer.validated_data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        serializer = self.get_serializer(self.get_object(), data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        project = services.update_project(user=request.user, project=serializer.instance,
                                          **serializer.validated_data)
        return Response(s.ProjectSerializer(project).data)

    def _transition(self, request, name: str) -> Response:
        project = services.transition_project(user=request.user, project=self.get_object(),
                                              action=name)
        return Response(s.ProjectSerializer(project).data)

    @extend_schema(request=None, responses={200: s.ProjectSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Open the project to experts (from draft or paused); it needs at least one item."""
        return self._transition(request, "activate")

    @extend_schema(request=None, responses={200: s.ProjectSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Stop handing out work; leases already held may still be submitted."""
        return self._transition(request, "pause")

    @extend_schema(request=None, responses={200: s.ProjectSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        """Close an active or paused project before every item is done."""
        return self._transition(request, "complete")

    @extend_schema(request=None, responses={200: s.ProjectSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Put away a project that is not running."""
        return self._transition(request, "archive")

    @extend_schema(responses={200: s.ProgressSerializer})
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def progress(self, request, pk=None):
        """Item and annotation counts; gold items are counted apart."""
        return Response(s.ProgressSerializer(services.progress(self.get_object())).data)


class ItemFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=[("open", "open"), ("in_progress", "in_progress"),
                                           ("complete", "complete")],
                                  method="filter_status")
    external_id = filters.CharFilter()

    class Meta:
        model = Item
        fields = ["status", "is_gold", "external_id"]

    def filter_status(self, queryset, name, value):
        return queryset.filter(Item.status_condition(value))


def counted_annotations() -> Subquery:
    """Answers on an outer item that count toward its overlap. Gold items keep no counter, so
    the number is read from the annotations themselves, for the listed page only."""
    return Subquery(
        Annotation.objects.filter(item=OuterRef("pk"),
                                  assignment__status__in=Assignment.COUNTED)
        .order_by().values("item").annotate(n=Count("pk")).values("n"),
        output_field=IntegerField())


class ItemViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """A project's items with their status and answer counts, gold answers included."""

    serializer_class = s.ItemSerializer
    filterset_class = ItemFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Item.objects.none()
        project = get_object_or_404(Project.objects.visible_to(self.request.user),
                                    pk=self.kwargs["project_pk"])
        return (project.items.annotate(annotation_count=Coalesce(counted_annotations(), 0))
                .order_by("id"))


router = SimpleRouter()
router.register("projects", ProjectViewSet, basename="project")
router.register(r"projects/(?P<project_pk>[0-9]+)/items", ItemViewSet, basename="project-item")

urlpatterns = router.urls
