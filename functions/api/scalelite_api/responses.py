"""Response shapes shared by every route: BBB answers XML exactly as BBB does (content type, no caching)."""

from __future__ import annotations

from fastapi.responses import Response

from scalelite_common.errors import BBBError
from scalelite_common.presenters import bbb_xml

# BBB's own header, byte for byte: some clients (bbb-client) compare it literally.
XML_CONTENT_TYPE = "text/xml;charset=utf-8"


def xml_response(body: bytes) -> Response:
    return Response(content=body, headers={"content-type": XML_CONTENT_TYPE, "cache-control": "no-cache"})


def error_response(error: BBBError) -> Response:
    return xml_response(bbb_xml.error(error))


def redirect_response(location: str) -> Response:
    """A bare 302 with an empty body, typed as BBB's (Grails) redirects are; without a type Mangum would label it
    application/json, which misleads clients that parse by content type."""
    headers = {"location": location, "content-type": "text/html;charset=utf-8", "cache-control": "no-cache"}
    return Response(status_code=302, headers=headers)
