"""Every workspace page of the app, and its menu entries."""

from . import appeals, calibration, experts, history, qualifications, reports, review

PAGES = (review, appeals, reports, experts, calibration, qualifications, history)
urlpatterns = [pattern for module in PAGES for pattern in module.urlpatterns]
menu = [entry for module in PAGES for entry in module.menu]
