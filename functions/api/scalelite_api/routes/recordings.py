"""Recording routes outside the BBB API: `POST /scalelite/api/recordingUpload` (a BBB server asks for a presigned
S3 upload of one recording's archive; services/uploads.py, contract in docs/recordings.md; JSON in and out: 401 for
a token that does not prove the server and, with its own message, for a recording that server may not upload; 400
for a malformed body). Never 403: behind CloudFront an origin's 403 becomes the Recording Not Found page."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from scalelite_api.dependencies import ContainerDep
from scalelite_common.observability import logger
from scalelite_common.services.uploads import UploadForbidden, UploadInvalid, UploadUnauthenticated

router = APIRouter()

MAX_BODY = 64 * 1024  # the body is a few ids: anything larger is not an upload request


def _error(status: int, message: str) -> JSONResponse:
    headers = {"www-authenticate": 'Bearer realm="scalelite"'} if status == 401 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


@router.post("/scalelite/api/recordingUpload", include_in_schema=False)
async def recording_upload(request: Request, container: ContainerDep) -> JSONResponse:
    if container.settings.recording_disabled:
        return _error(404, "Recordings are disabled on this load balancer")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "An Authorization: Bearer <JWT> header is required")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(400, "The body is too large")
    try:
        payload = json.loads(body)
    except ValueError:
        return _error(400, "The body is not valid JSON")
    try:
        grant = await run_in_threadpool(container.uploads.authorize, token.strip(), payload)
    except UploadUnauthenticated as exc:
        return _error(401, str(exc))
    except UploadForbidden as exc:  # 401, not 403 (see the module's docstring); the message says what is refused
        return _error(401, f"Upload refused: {exc}")
    except UploadInvalid as exc:
        return _error(400, str(exc))
    except Exception:
        logger.exception("recording upload authorization failed")
        return _error(500, "Internal error")
    upload = grant.upload
    return JSONResponse(
        {
            "url": upload.url,
            "method": upload.method,
            "headers": upload.headers,
            "expires": upload.expires,
            "key": grant.key,
        }
    )
