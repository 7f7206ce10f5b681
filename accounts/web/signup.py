"""Sign-up pages for experts and customers, for visitors without an account."""

urlpatterns: list = []
menu: list = []
