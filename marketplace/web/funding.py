"""The customer's money: balance, statement, and applications and invitations for projects."""

urlpatterns: list = []
menu: list = []
