"""Serving an expert's uploaded evidence to the people allowed to open it (the expert and
operators). The files are private: no public URL reaches them, only these responses."""

from pathlib import PurePath

from django.http import FileResponse, Http404

from .models import Credential
from .services import EVIDENCE_TYPES


def evidence_response(credential: Credential) -> FileResponse:
    """The file shown in the browser as what it is. The sandbox keeps a crafted PDF or image
    from running anything with the site's cookies."""
    if not credential.evidence_file:
        raise Http404("This credential has no uploaded evidence.")
    suffix = PurePath(credential.evidence_file.name).suffix.lower()
    response = FileResponse(credential.evidence_file.open("rb"),
                            content_type=EVIDENCE_TYPES.get(suffix, "application/octet-stream"))
    response["Content-Security-Policy"] = "sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response
