"""batches endpoints."""

urlpatterns: list = []
