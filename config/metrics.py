"""Prometheus metrics: request latency by route, and the application's state at scrape time.

django-prometheus counts requests, responses and exceptions by view and method; the
middlewares below add one histogram with the response status as well, so that latency can be
read by route and outcome together (``view`` is the URL pattern's name, never the raw path,
so the number of series stays bounded).

Under gunicorn each worker is its own process: with ``PROMETHEUS_MULTIPROC_DIR`` set
(``config/gunicorn.py`` sets it) every worker writes its samples to files there and a scrape
of any worker reads them all, so one host answers for all its workers. The application's
metrics (``config.collectors``) are read from PostgreSQL on every scrape and are the same
whichever host answers.

``/metrics`` is off unless ``METRICS_TOKEN`` is set, and then answers only a request that
sends it as a bearer token.
"""

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_prometheus.conf import NAMESPACE, PROMETHEUS_LATENCY_BUCKETS
from django_prometheus.middleware import (
    Metrics,
    PrometheusAfterMiddleware,
    PrometheusBeforeMiddleware,
)
from django_prometheus.utils import TimeSince
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from config.collectors import ApplicationCollector


class RequestMetrics(Metrics):
    def register(self) -> None:
        super().register()
        self.request_duration = self.register_metric(
            Histogram,
            "django_http_request_duration_seconds",
            "Seconds from the request reaching the URL resolver to its response, by route, "
            "method and status.",
            ["view", "method", "status"],
            buckets=PROMETHEUS_LATENCY_BUCKETS,
            namespace=NAMESPACE,
        )


class RequestMetricsBeforeMiddleware(PrometheusBeforeMiddleware):
    """First in the chain: counts every request and its latency through all middlewares."""

    metrics_cls = RequestMetrics


class RequestMetricsAfterMiddleware(PrometheusAfterMiddleware):
    """Last in the chain: latency by route, method and status."""

    metrics_cls = RequestMetrics

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        started = getattr(request, "prometheus_after_middleware_event", None)
        if started is not None:
            self.metrics.request_duration.labels(
                view=self._get_view_name(request), method=self._method(request),
                status=str(response.status_code)).observe(TimeSince(started))
        return super().process_response(request, response)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def scrape() -> bytes:
    """All of this host's workers' samples (or this process's, outside gunicorn), then the
    application's."""
    registry = CollectorRegistry()
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    registry.register(ApplicationCollector())
    return generate_latest(registry)


def bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def metrics(request: HttpRequest) -> HttpResponse:
    expected = settings.METRICS_TOKEN
    if not expected:
        return HttpResponse("Metrics are off: METRICS_TOKEN is not set.\n", status=404,
                            content_type="text/plain")
    if not hmac.compare_digest(bearer_token(request).encode(), expected.encode()):
        response = HttpResponse("A bearer token is required.\n", status=401,
                                content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
