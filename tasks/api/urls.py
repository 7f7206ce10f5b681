from . import batches, comments, exports, projects, webhooks, work

urlpatterns = [
    *projects.urlpatterns,
    *batches.urlpatterns,
    *work.urlpatterns,
    *exports.urlpatterns,
    *webhooks.urlpatterns,
    *comments.urlpatterns,
]
