"""Clients for page tests: a browser-like client signed in with a session, and an API client
for the same user, to compare what the two surfaces do."""

from django.test import Client
from rest_framework.test import APIClient


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client
