"""The QA lead's review desk: the queue, and accept, reject or fix one annotation."""

urlpatterns: list = []
menu: list = []
