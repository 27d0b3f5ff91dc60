"""BBB-style errors: each carries the messageKey and message that reach the caller as FAILED XML (HTTP 200)."""

from __future__ import annotations


class BBBError(Exception):
    message_key = "internalError"
    default_message = "An internal error occurred."

    def __init__(self, message: str | None = None, *, message_key: str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        if message_key is not None:
            self.message_key = message_key
        super().__init__(f"{self.message_key}: {self.message}")


class ChecksumError(BBBError):
    message_key = "checksumError"
    default_message = "You did not pass the checksum security check"


class MeetingNotFoundError(BBBError):
    message_key = "notFound"
    default_message = "We could not find a meeting with that meeting ID - perhaps the meeting is not yet running?"


class MeetingIDNotUniqueError(BBBError):
    """Multitenancy: another tenant's live meeting has this meetingID (tenants share one namespace, as in
    Scalelite). BBB's own key for a meetingID it cannot take."""

    message_key = "idNotUnique"
    default_message = "A meeting already exists with that meeting ID. Please use a different meeting ID."


class MissingMeetingIDError(BBBError):
    message_key = "missingParamMeetingID"
    default_message = "You must specify a meeting ID for the meeting."


class UnsupportedRequestError(BBBError):
    message_key = "unsupportedRequest"
    default_message = "This request is not supported."


class UnsupportedContentTypeError(BBBError):
    message_key = "unsupportedContentType"
    default_message = "POST request Content-Type is missing or unsupported"


class MissingRecordIDError(BBBError):
    message_key = "missingParamRecordID"
    default_message = "You must specify a recordID."


class MissingPublishError(BBBError):
    message_key = "missingParamPublish"
    default_message = "You must specify a publish value true or false."


class RecordingNotFoundError(BBBError):
    message_key = "notFound"
    default_message = "We could not find recordings"


class ValidationError(BBBError):
    """A parameter BBB's own validation refuses (BBB 2.5+ answers these with messageKey validationError)."""

    message_key = "validationError"


class InternalError(BBBError):
    message_key = "internalError"


class ServerUnavailableError(BBBError):
    message_key = "serverUnavailable"
    default_message = "The server for this meeting is disabled/offline."


class ServerTagUnavailableError(BBBError):
    message_key = "serverTagUnavailable"

    def __init__(self, tag: str) -> None:
        super().__init__(f"There is no available server with the required tag={tag}.")


class TenantLimitReachedError(BBBError):
    """A create or join beyond the tenant's max_meetings / max_attendees (multitenancy, B3LB's per-tenant limits)."""

    message_key = "tenantLimitReached"

    def __init__(self, limit: int, what: str) -> None:
        super().__init__(f"The tenant has reached its maximum of {limit} concurrent {what}.")


class NoAvailableServerError(InternalError):
    default_message = "Could not find any available servers."


class UpstreamError(BBBError):
    """A BBB server answered FAILED: its own key and message go back to the caller unchanged."""


class AdminError(Exception):
    """An admin command refused in a way the operator must see: as such, invalid input. The subclasses name the
    other refusals; each adapter (AdminFunction envelope, admin JSON API) maps the class to its own status."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class AdminNotFound(AdminError):
    """No such server or meeting."""


class AdminConflict(AdminError):
    """The command would destroy something or collides with what exists: repeat it with `force`, or look again."""


class AdminUpstreamError(AdminError):
    """A BBB server the command needs could not be reached."""


class StoreConflict(Exception):
    """A conditional write lost: the item exists, changed, or is gone."""


class ServerExists(StoreConflict):
    pass


class ServerGone(StoreConflict):
    pass


class TenantNameTaken(StoreConflict):
    """Another tenant has this name (names are unique: the name is the tenant's host label)."""


class TenantGone(StoreConflict):
    pass


class PlacementConflict(StoreConflict):
    """The create transaction was cancelled; `reasons` says which part: meeting, meeting_id (another tenant's live
    meeting has this meetingID), voice_bridge, server."""

    def __init__(self, reasons: set[str]) -> None:
        self.reasons = reasons
        super().__init__(", ".join(sorted(reasons)))


class ObjectChanged(Exception):
    """An object was replaced while it was being read (its ETag no longer matches)."""
