"""The service's settings with one more URL: the framework's floor for ``http_routing``.

The floor endpoint is served only by the benchmark's gunicorn, never by the product."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor_urls"
