"""The customer's projects: progress, creation from a preset, batch uploads, webhooks, exports."""

urlpatterns: list = []
menu: list = []
