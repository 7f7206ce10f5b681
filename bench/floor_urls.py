"""The product's URLs plus ``GET /bench/floor/``: a token-authenticated request that does one
indexed read, through the same authentication, permission, renderer and middleware as every
API request. Whatever a real endpoint costs beyond it is the product's own."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ExpertProfile
from config.urls import urlpatterns as product

FLOOR_PATH = "/bench/floor/"


class FloorView(APIView):
    def get(self, request):
        verification = (ExpertProfile.objects.filter(pk=request.user.pk)
                        .values_list("verification", flat=True).first())
        return Response({"verification": verification})


urlpatterns = [path(FLOOR_PATH.strip("/") + "/", FloorView.as_view()), *product]
