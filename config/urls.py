from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.workspace import site as workspace

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("tasks.api.urls")),
    path("", include("quality.api.urls")),
    path("", include("marketplace.api.urls")),
]

handler404 = "config.exceptions.not_found"

urlpatterns = [
    path("", RedirectView.as_view(url="/workspace/", permanent=False)),
    path("favicon.ico", RedirectView.as_view(url=static("workspace/favicon.svg"))),
    path("admin/", admin.site.urls),
    path("workspace/", workspace.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/v1/", include(api_v1)),
]
