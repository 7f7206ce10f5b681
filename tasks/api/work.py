"""The expert's side: pull the next item, answer it, skip it or ask for more time.

An expert sees only their own assignments; anyone else's answers 404. Every response goes
through `AssignmentSerializer`, whose allow-list keeps gold answers and gold flags out.
"""

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from .. import services
from ..activity import record_heartbeat
from ..models import Assignment
from ..routing import next_assignment
from . import serializers as s

NOT_LIVE = OpenApiResponse(description="The assignment expired, was submitted or was skipped.")


class AssignmentFilter(filters.FilterSet):
    project = filters.NumberFilter(field_name="project_id")

    class Meta:
        model = Assignment
        fields = ["status", "project"]


class AssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        viewsets.GenericViewSet):
    """The signed-in expert's assignments, newest first."""

    serializer_class = s.AssignmentSerializer
    filterset_class = AssignmentFilter
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return (Assignment.objects.held_by(self.request.user)
                .select_related("project", "item", "annotation"))

    def _answer(self, assignment_id: int, code: int = status.HTTP_200_OK) -> Response:
        """Read the assignment back as the expert's list shows it, answer included."""
        assignment = self.get_queryset().get(pk=assignment_id)
        return Response(s.AssignmentSerializer(assignment).data, status=code)

    @extend_schema(
        request=s.NextRequestSerializer,
        responses={
            201: s.AssignmentSerializer,
            204: OpenApiResponse(description="Nothing to do now. When projects held work back, "
                                             "the `X-Next-Reason` header says why."),
            403: OpenApiResponse(description="You may not work (here), with the reason."),
            409: OpenApiResponse(description="You hold as many open assignments as allowed."),
        })
    @action(detail=False, methods=["post"], filterset_class=None, pagination_class=None)
    def next(self, request):
        """Lease the next item to answer, from one project or from any you qualify for."""
        serializer = s.NextRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = next_assignment(request.user, serializer.validated_data.get("project"))
        if result.assignment is None:
            response = Response(status=status.HTTP_204_NO_CONTENT)
            if result.reasons:
                response["X-Next-Reason"] = "; ".join(
                    f"project {pk}: {' '.join(reason.split())}"
                    for pk, reason in sorted(result.reasons.items()))
            return response
        return self._answer(result.assignment.pk, status.HTTP_201_CREATED)

    @extend_schema(request=s.SubmitSerializer,
                   responses={200: s.AssignmentSerializer, 409: NOT_LIVE})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Answer the item; answers are checked against the project's questions."""
        assignment = self.get_object()
        serializer = s.SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.submit(assignment_id=assignment.pk, user=request.user,
                        **serializer.validated_data)
        return self._answer(assignment.pk)

    @extend_schema(request=s.SkipSerializer,
                   responses={200: s.AssignmentSerializer, 409: NOT_LIVE})
    @action(detail=True, methods=["post"])
    def skip(self, request, pk=None):
        """Hand the item back; you will not be given it again."""
        assignment = self.get_object()
        serializer = s.SkipSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.skip(assignment_id=assignment.pk, user=request.user,
                      reason=serializer.validated_data["reason"])
        return self._answer(assignment.pk)

    @extend_schema(request=None, responses={
        200: s.AssignmentSerializer,
        409: OpenApiResponse(description="The assignment is no longer live, or its project "
                                         "cannot fund the longer lease "
                                         "(`insufficient_funds`).")})
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        """Restart the lease period from now, for an item that takes longer."""
        assignment = self.get_object()
        services.extend(assignment_id=assignment.pk, user=request.user)
        return self._answer(assignment.pk)

    @extend_schema(request=None, responses={200: s.HeartbeatSerializer, 409: NOT_LIVE})
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def heartbeat(self, request, pk=None):
        """Say you are working on this item: the time since your previous activity counts as
        active time when it is at most the idle threshold. Send one about every
        HEARTBEAT_INTERVAL_S seconds while working; hourly contracts pay this time."""
        beat = record_heartbeat(assignment_id=int(pk), user=request.user)
        return Response(s.HeartbeatSerializer(beat).data)


router = SimpleRouter()
router.register("assignments", AssignmentViewSet, basename="assignment")

urlpatterns = router.urls
