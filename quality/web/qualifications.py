"""Qualification tests taken in the browser, with the time limit shown."""

urlpatterns: list = []
menu: list = []
