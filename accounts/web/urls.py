"""Every workspace page of the app, and its menu entries."""

from . import profile, signup

PAGES = (profile, signup)
urlpatterns = [pattern for module in PAGES for pattern in module.urlpatterns]
menu = [entry for module in PAGES for entry in module.menu]
