"""The expert's own history: each answer's review outcome and quality actions with reasons."""

urlpatterns: list = []
menu: list = []
