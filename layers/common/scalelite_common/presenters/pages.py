"""The HTML pages viewers see (Scalelite's `config/locales/en.yml` wording)."""

from __future__ import annotations

NOT_FOUND_TITLE = "Recording Not Found"
NOT_FOUND_TEXT = "The recording URL is invalid. This recording may have been either protected or deleted."


def recording_not_found() -> bytes:
    """Every refused playback: the token route's 404 and, through CloudFront's custom error response, a file the
    bucket does not serve (unpublished, deleted, unknown, or protected without the cookie)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{NOT_FOUND_TITLE}</title>\n</head>\n<body>\n"
        f"<h1>{NOT_FOUND_TITLE}</h1>\n<p>{NOT_FOUND_TEXT}</p>\n"
        "</body>\n</html>\n"
    ).encode()
