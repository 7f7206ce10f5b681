"""Open projects, invitations and applications, for experts."""

urlpatterns: list = []
menu: list = []
