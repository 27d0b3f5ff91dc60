"""Where a recording's files live in the recordings bucket: the one rule the importer, the recording calls and the
admin commands share (docs/playback.md). The edge serves `published/` to anyone and `protected/` only with the
recording's cookie; `unpublished/` is never served. So the prefix *is* the protection state the edge sees: no list
of protected ids has to be kept anywhere else."""

from __future__ import annotations

from typing import Literal

from scalelite_common.domain.entities import Recording

Prefix = Literal["published", "protected", "unpublished"]
PREFIXES: tuple[Prefix, ...] = ("published", "protected", "unpublished")


def files_prefix(recording: Recording, protection_enabled: bool) -> Prefix:
    """`unpublished` when not published; `protected` when published, protected and the feature is on; else
    `published` (protection means nothing while PROTECTED_RECORDINGS_ENABLED is off, as in Scalelite)."""
    if not recording.published:
        return "unpublished"
    return "protected" if recording.protected and protection_enabled else "published"


def is_protected(recording: Recording, protection_enabled: bool) -> bool:
    """Whether playing the recording needs a token and its cookie."""
    return files_prefix(recording, protection_enabled) == "protected"


def format_folder(prefix: str, fmt: str, record_id: str) -> str:
    return f"{prefix}/{fmt}/{record_id}/"
