from . import batches, exports, projects, webhooks, work

urlpatterns = [
    *projects.urlpatterns,
    *batches.urlpatterns,
    *work.urlpatterns,
    *exports.urlpatterns,
    *webhooks.urlpatterns,
]
