"""What every admin command runs with: the store, the BBB gateway, the object store and the settings (built by
`wiring`)."""

from __future__ import annotations

from dataclasses import dataclass

from scalelite_common.config import Settings
from scalelite_common.services.ports import BBBGateway, ObjectStore, Store


@dataclass(frozen=True)
class AdminContext:
    store: Store
    client: BBBGateway
    settings: Settings
    objects: ObjectStore | None = None  # recordings commands need it
