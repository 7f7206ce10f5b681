from . import reports, work

urlpatterns = [
    *work.urlpatterns,
    *reports.urlpatterns,
]
