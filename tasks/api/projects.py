"""projects endpoints."""

urlpatterns: list = []
