"""webhooks endpoints."""

urlpatterns: list = []
