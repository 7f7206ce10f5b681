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


def cardiologist_at_work(operator: APIClient, username: str,
                         full_name: str) -> tuple[APIClient, dict]:
    """A physician who signs up as an expert in cardiology, is verified by the operator over
    the API and qualified in the domain (as passing its test would), ready to pull work."""
    from accounts import services as account_services
    from accounts.models import Domain, ExpertProfile

    expert, profile = signed_in("expert", username=username, full_name=full_name,
                                highest_degree="md", field_of_study="Cardiology",
                                domains=["medicine-cardiology"], languages=["en"])
    assert operator.post(f"/api/v1/experts/{profile['id']}/verify/",
                         {"verification": "verified"}, format="json").status_code == 200
    account_services.qualify_expertise(
        expert=ExpertProfile.objects.get(user_id=profile["id"]),
        domain=Domain.objects.get(slug="medicine-cardiology"), score=None, source="operator")
    return expert, profile
