"""A project's calibration over the API: ``GET``, ``PUT`` and ``DELETE
/api/v1/projects/{id}/calibration/``.

Every member of the customer's organization reads it; QA leads, owners and admins change it
(``quality.calibration`` asks ``accounts.access``). Anyone else finds no such project (404).
"""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tasks.models import Project

from .. import calibration
from ..calibration import DEFAULTS

FORBIDDEN = OpenApiResponse(description="Only QA leads, owners and admins change it.")


class CalibrationSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(
        read_only=True, help_text="Whether new experts are calibrated on this project.")
    gold_first = serializers.IntegerField(
        min_value=1, max_value=50, default=DEFAULTS["gold_first"],
        help_text="Gold items a new expert answers before anything else.")
    gold_rate = serializers.DecimalField(
        max_digits=4, decimal_places=3, coerce_to_string=True, default=DEFAULTS["gold_rate"],
        help_text="The hidden share of gold among later items, above 0 and at most 1.")
    min_lower_bound = serializers.DecimalField(
        max_digits=3, decimal_places=2, min_value=0, max_value=1, coerce_to_string=True,
        default=DEFAULTS["min_lower_bound"],
        help_text="An expert whose gold accuracy's 5% lower bound falls under this is "
                  "removed from the project.")
    min_gold = serializers.IntegerField(
        min_value=1, default=DEFAULTS["min_gold"],
        help_text="Gold answers an expert gives before the bound may remove them.")
    removed_experts = serializers.IntegerField(
        read_only=True, help_text="Experts calibration keeps off the project now (removals "
                                  "a QA lead has not reversed).")


def _project(request, project_pk: int) -> Project:
    return get_object_or_404(Project.objects.visible_to(request.user), pk=project_pk)


class CalibrationView(APIView):
    """Calibration: new experts answer `gold_first` gold items first, then gold at
    `gold_rate`; after `min_gold` gold answers, an expert whose accuracy's lower bound is
    under `min_lower_bound` is removed, with the reason shown to them, until a QA lead
    reverses it."""

    serializer_class = CalibrationSerializer

    @extend_schema(responses={200: CalibrationSerializer})
    def get(self, request, project_pk: int) -> Response:
        return Response(CalibrationSerializer(
            calibration.calibration_of(_project(request, project_pk))).data)

    @extend_schema(request=CalibrationSerializer,
                   responses={200: CalibrationSerializer, 403: FORBIDDEN})
    def put(self, request, project_pk: int) -> Response:
        """Switch calibration on or change its numbers; a field left out takes its default.
        Refused (400 on the field) when the project has too few gold items for the numbers,
        or when even a flawless expert could not clear the bound on `min_gold` answers."""
        project = _project(request, project_pk)
        body = CalibrationSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        found = calibration.set_calibration(project=project, by=request.user,
                                            **body.validated_data)
        return Response(CalibrationSerializer(found).data)

    @extend_schema(request=None, responses={200: CalibrationSerializer, 403: FORBIDDEN})
    def delete(self, request, project_pk: int) -> Response:
        """Switch calibration off; removals already made stay until reversed."""
        found = calibration.clear_calibration(project=_project(request, project_pk),
                                              by=request.user)
        return Response(CalibrationSerializer(found).data)


urlpatterns = [
    path("projects/<int:project_pk>/calibration/", CalibrationView.as_view(),
         name="project-calibration"),
]
