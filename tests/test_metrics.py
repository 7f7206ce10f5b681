"""Request metrics and the protected /metrics endpoint, in process and through gunicorn with
several workers."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import factories
from tests.servers import get, gunicorn, samples

TOKEN = "scrape-me-4c1f0b"


def requests_of(scrape: dict, view: str, method: str, status: str) -> float:
    labels = (("method", method), ("status", status), ("view", view))
    return scrape.get(("django_http_request_duration_seconds_count", labels), 0)


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def read() -> dict:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return samples(response.content.decode())

    return read


def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Token {TOKEN}", TOKEN,
                                           f"Bearer {TOKEN}x", "Bearer é"])
def test_metrics_need_the_bearer_token(client, settings, authorization):
    settings.METRICS_TOKEN = TOKEN
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.get("/metrics", **headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"django_http" not in response.content


@pytest.mark.django_db
def test_request_latency_is_counted_by_route_method_and_status(client, scrape, expert):
    before = scrape()
    client.get("/api/v1/me/")
    client.force_login(expert)
    client.get("/api/v1/me/")
    client.get("/api/v1/me/")
    client.get("/api/v1/no-such-route/")
    after = scrape()
    assert requests_of(after, "me", "GET", "401") - requests_of(before, "me", "GET", "401") == 1
    assert requests_of(after, "me", "GET", "200") - requests_of(before, "me", "GET", "200") == 2
    assert (requests_of(after, "<unnamed view>", "GET", "404")
            - requests_of(before, "<unnamed view>", "GET", "404")) == 1


@pytest.mark.django_db
def test_a_scrape_carries_the_application_metrics(scrape):
    assert scrape()[("annomarket_application_metrics_up", ())] == 1


def worker_pids(directory) -> set[int]:
    """The processes that wrote samples: prometheus_client names each file after its pid."""
    return {int(name.rsplit("_", 1)[1].removesuffix(".db")) for name in os.listdir(directory)}


@pytest.mark.postgres
def test_under_gunicorn_a_scrape_counts_the_requests_of_every_worker(tmp_path, expert):
    """Two workers, requests spread over both, one worker killed and replaced: whichever worker
    answers a scrape counts every request the host served."""
    auth = {"Authorization": f"Token {factories.token_for(expert)}"}
    scraper = {"Authorization": f"Bearer {TOKEN}"}

    def served(url: str) -> float:
        scrape = samples(get(f"{url}/metrics", headers=scraper).body.decode())
        return requests_of(scrape, "me", "GET", "200")

    with gunicorn(tmp_path, workers=2, METRICS_TOKEN=TOKEN,
                  GUNICORN_CMD_ARGS="--access-logformat='pid=%(p)s %(r)s'") as (url, master):
        with ThreadPoolExecutor(max_workers=8) as clients:
            statuses = list(clients.map(lambda _: get(f"{url}/api/v1/me/", headers=auth).status,
                                        range(60)))
        assert statuses == [200] * 60
        log = (tmp_path / "gunicorn.log").read_text().splitlines()
        assert len({line.split()[0] for line in log if "GET /api/v1/me/" in line}) == 2
        assert len(worker_pids(tmp_path / "metrics")) == 2
        assert {served(url) for _ in range(10)} == {60}

        victim = min(worker_pids(tmp_path / "metrics"))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(worker_pids(tmp_path / "metrics") - {victim}) < 2:
            get(f"{url}/healthz")
            assert time.monotonic() < deadline, "gunicorn did not replace the killed worker"
            time.sleep(0.1)
        assert get(f"{url}/api/v1/me/", headers=auth).status == 200
        assert {served(url) for _ in range(10)} == {61}
    assert master.returncode == 0
