"""What every admin command runs with: the store, the BBB gateway, the object store and the settings (built by
`wiring`)."""

from __future__ import annotations

from dataclasses import dataclass

from scalelite_common.config import Settings
from scalelite_common.services.ports import BBBGateway, EdgeCache, ObjectStore, PlayerSource, Store


@dataclass(frozen=True)
class AdminContext:
    store: Store
    client: BBBGateway
    settings: Settings
    objects: ObjectStore | None = None  # recordings commands need it
    edge: EdgeCache | None = None  # CloudFront: recordings commands invalidate what they unpublish or delete
    player: PlayerSource | None = None  # `playback install --from-server` fetches a BBB server's player
