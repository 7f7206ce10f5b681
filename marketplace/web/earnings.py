"""The expert's earnings, statement and payout requests."""

urlpatterns: list = []
menu: list = []
