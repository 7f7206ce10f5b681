"""Every workspace page of the app, and its menu entries."""

from . import earnings, funding, market

PAGES = (market, earnings, funding)
urlpatterns = [pattern for module in PAGES for pattern in module.urlpatterns]
menu = [entry for module in PAGES for entry in module.menu]
