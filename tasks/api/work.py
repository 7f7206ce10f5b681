"""work endpoints."""

urlpatterns: list = []
