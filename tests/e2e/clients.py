"""HTTP clients for the end-to-end flows: people sign up and sign in as a customer would."""

from rest_framework.test import APIClient

PASSWORD = "Sinus-Rhythm-Regular-72"


def signed_in(kind: str, **body) -> tuple[APIClient, dict]:
    """Sign up as `kind` (expert or customer), then authenticate with a fresh token."""
    client = APIClient()
    response = client.post(f"/api/v1/auth/signup/{kind}/",
                           {"email": f"{body['username']}@example.com", "password": PASSWORD,
                            **body}, format="json")
    assert response.status_code == 201, response.json()
    token = client.post("/api/v1/auth/token/", {"username": body["username"],
                                                "password": PASSWORD}).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client, response.json()
