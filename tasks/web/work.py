"""The expert's work page: the next item rendered by field type and a form per question."""

urlpatterns: list = []
menu: list = []
