"""A project's experts with their quality figures, flags and the undo of actions."""

urlpatterns: list = []
menu: list = []
