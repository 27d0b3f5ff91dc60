"""DynamoDB access for tenants and their settings (TenantsTable, see `TenantItem`). Mixed into DynamoStore.

A tenant and the claim on its name are written in one transaction, so two tenants never share a name (Scalelite's
names are not unique, §11.10). Reads are a GetItem or a Query of one partition: no Scan."""

from __future__ import annotations

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from scalelite_common.db.models import TenantItem, cancelled_by_condition
from scalelite_common.domain.tenants import SettingMode, Tenant, TenantSetting
from scalelite_common.errors import TenantGone, TenantNameTaken

TENANT = "tenant"
NAME = "name"
SETTING = "setting"


def _tenant(item: TenantItem) -> Tenant:
    return Tenant(
        id=item.sk,
        name=item.name or "",
        secrets=tuple(p for p in (item.secrets or "").split(":") if p),
        max_meetings=int(item.max_meetings or 0),
        max_attendees=int(item.max_attendees or 0),
    )


def _tenant_item(tenant: Tenant) -> TenantItem:
    return TenantItem(
        TENANT,
        tenant.id,
        name=tenant.name,
        secrets=":".join(tenant.secrets),
        max_meetings=tenant.max_meetings,
        max_attendees=tenant.max_attendees,
    )


def _setting(item: TenantItem) -> TenantSetting:
    mode = item.mode if item.mode in SettingMode._value2member_map_ else SettingMode.DEFAULT.value
    return TenantSetting(
        id=item.sk,
        tenant_id=item.tenant_id or "",
        param=item.param or "",
        value=item.value or "",
        mode=SettingMode(mode),
    )


class TenantsMixin:
    _connection: Connection

    def list_tenants(self) -> list[Tenant]:
        return sorted((_tenant(i) for i in TenantItem.query(TENANT, consistent_read=True)), key=lambda t: t.name)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        try:
            return _tenant(TenantItem.get(TENANT, tenant_id, consistent_read=True))
        except DoesNotExist:
            return None

    def tenant_by_name(self, name: str) -> Tenant | None:
        """Two GetItems: the name claim, then its tenant (a rename in between finds the name gone: None)."""
        try:
            claim = TenantItem.get(NAME, name, consistent_read=True)
        except DoesNotExist:
            return None
        tenant = self.get_tenant(claim.tenant_id or "")
        return tenant if tenant is not None and tenant.name == name else None

    def add_tenant(self, tenant: Tenant) -> None:
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(TenantItem(NAME, tenant.name, tenant_id=tenant.id), condition=TenantItem.pk.does_not_exist())
                tx.save(_tenant_item(tenant), condition=TenantItem.pk.does_not_exist())
        except TransactWriteError as exc:
            if any(cancelled_by_condition(exc)):
                raise TenantNameTaken(tenant.name) from exc
            raise

    def update_tenant(self, tenant: Tenant, *, previous: Tenant) -> None:
        """One transaction: the tenant (still named as `previous` was), and on a rename the name claim moved."""
        unchanged = TenantItem.pk.exists() & (TenantItem.name == previous.name)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(_tenant_item(tenant), condition=unchanged)
                if tenant.name != previous.name:
                    claim = TenantItem(NAME, tenant.name, tenant_id=tenant.id)
                    tx.save(claim, condition=TenantItem.pk.does_not_exist())
                    tx.delete(TenantItem(NAME, previous.name), condition=TenantItem.tenant_id == tenant.id)
        except TransactWriteError as exc:
            # PynamoDB sends deletes before puts: [old claim], tenant, [new claim].
            failed = cancelled_by_condition(exc)
            if tenant.name != previous.name and failed[2:3] == [True]:
                raise TenantNameTaken(tenant.name) from exc
            if any(failed):
                raise TenantGone(tenant.id) from exc
            raise

    def delete_tenant(self, tenant: Tenant) -> None:
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.delete(TenantItem(TENANT, tenant.id), condition=TenantItem.pk.exists())
                tx.delete(TenantItem(NAME, tenant.name), condition=TenantItem.tenant_id == tenant.id)
        except TransactWriteError as exc:
            if any(cancelled_by_condition(exc)):
                raise TenantGone(tenant.id) from exc
            raise

    def list_settings(self, tenant_id: str | None = None) -> list[TenantSetting]:
        found = (_setting(i) for i in TenantItem.query(SETTING, consistent_read=True))
        return [x for x in found if tenant_id is None or x.tenant_id == tenant_id]

    def add_setting(self, setting: TenantSetting) -> None:
        item = TenantItem(
            SETTING,
            setting.id,
            tenant_id=setting.tenant_id,
            param=setting.param,
            value=setting.value,
            mode=setting.mode.value,
        )
        item.save()  # setting ids are random (uuid4): no collision to guard against

    def delete_setting(self, setting_id: str) -> TenantSetting | None:
        try:
            item = TenantItem.get(SETTING, setting_id, consistent_read=True)
        except DoesNotExist:
            return None
        item.delete()
        return _setting(item)
