from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("domains", views.DomainViewSet, basename="domain")
router.register("orgs", views.OrganizationViewSet, basename="organization")
router.register(r"orgs/(?P<org_pk>[0-9]+)/members", views.MemberViewSet, basename="member")
router.register("experts", views.ExpertViewSet, basename="expert")

urlpatterns = [
    path("auth/token/", views.ObtainTokenView.as_view(), name="auth-token"),
    path("auth/signup/expert/", views.ExpertSignupView.as_view(), name="signup-expert"),
    path("auth/signup/customer/", views.CustomerSignupView.as_view(), name="signup-customer"),
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
