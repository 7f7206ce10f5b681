"""JSON that renders whatever it holds.

An error message may echo what the client sent, and JSON lets a client send an unpaired
surrogate (``"\\ud800"``), which is not text and cannot be encoded as UTF-8. Such an answer is
written with every non-ASCII character escaped, which JSON allows for any string; every other
answer stays plain UTF-8.
"""

from rest_framework import renderers


class _EscapedJSONRenderer(renderers.JSONRenderer):
    ensure_ascii = True


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _EscapedJSONRenderer().render(data, accepted_media_type, renderer_context)
