"""reports endpoints."""

urlpatterns: list = []
