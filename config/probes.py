"""The paths that machines call, answered before anything else in the middleware chain.

Load balancers and orchestrators probe each web process over plain HTTP at its own address
(``http://10.0.3.7:8000/readyz``), with a Host header that is not one of ``ALLOWED_HOSTS``;
Prometheus scrapes the same way. Answered by Django's URL resolver, such a request would be
refused by the host check (400) or redirected to HTTPS (301). These answers build no absolute
URL from the Host header and set no cookie, so they are safe to give whatever the Host, and
they need no session or user; ``/metrics`` asks for its own bearer token.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from config import health, metrics

PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": health.healthz,
    "/readyz": health.readyz,
    "/metrics": metrics.metrics,
}


class ProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = PROBES.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        response = view(request)
        response["Cache-Control"] = "no-store"
        return response
