"""Content negotiation for downloads whose ``format`` query parameter names a file format."""

from rest_framework.negotiation import BaseContentNegotiation


class ErrorsAsJSON(BaseContentNegotiation):
    """``format`` names the dataset's file format here, not one of DRF's renderers, so it
    must not take part in negotiation; the only rendered answers are JSON errors."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
