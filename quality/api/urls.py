from . import appeals, calibration, reports, work

urlpatterns = [
    *work.urlpatterns,
    *reports.urlpatterns,
    *appeals.urlpatterns,
    *calibration.urlpatterns,
]
