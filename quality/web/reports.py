"""Agreement reports of a project, drawn for a QA lead."""

urlpatterns: list = []
menu: list = []
