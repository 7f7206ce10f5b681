"""The expert's own profile: details, credentials with evidence, domains."""

urlpatterns: list = []
menu: list = []
