"""exports endpoints."""

urlpatterns: list = []
