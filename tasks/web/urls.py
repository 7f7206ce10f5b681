"""Every workspace page of the app, and its menu entries."""

from . import projects, work

PAGES = (work, projects)
urlpatterns = [pattern for module in PAGES for pattern in module.urlpatterns]
menu = [entry for module in PAGES for entry in module.menu]
