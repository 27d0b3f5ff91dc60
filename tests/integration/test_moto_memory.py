"""The local stack's moto patches (scalelite_local.aws): moto stops keeping every model instance it ever created,
and TransactWriteItems stops deep-copying whole tables for its rollback, with moto's rollback semantics kept.

Both patches are process-wide and stay applied after these tests (as after the e2e stack): every later moto test
in this worker runs with them, which is what the tests below hold them to."""

from __future__ import annotations

import gc
import itertools
import urllib.request
import uuid
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from scalelite_local.aws import MotoServer, cheap_transaction_rollback, client, untrack_moto_models

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture(scope="module")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer("127.0.0.1", 0)
    server.start()  # applies both patches
    yield server
    reset = urllib.request.Request(f"{server.endpoint}/moto-api/reset", method="POST")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(reset, timeout=10):
        pass
    server.stop()


@pytest.fixture(scope="module")
def ddb(moto_server: MotoServer) -> Any:
    return client("dynamodb", moto_server.endpoint)


def _backend() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION]


def _make_table(ddb: Any, *, ranged: bool, stream: bool = False) -> str:
    name = f"t-{uuid.uuid4().hex[:12]}"
    keys = [("pk", "HASH")] + ([("sk", "RANGE")] if ranged else [])
    extra: dict[str, Any] = {"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
        AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
        BillingMode="PAY_PER_REQUEST",
        **(extra if stream else {}),
    )
    return name


class Table:
    """A table of the test (hash-only or hash+range) and its items by a short name: key "a" is pk=a (and sk=1)."""

    def __init__(self, ddb: Any, *, ranged: bool, stream: bool = False) -> None:
        self.ddb, self.ranged = ddb, ranged
        self.name = _make_table(ddb, ranged=ranged, stream=stream)

    def key(self, pk: str, sk: str = "1") -> dict[str, Any]:
        return {"pk": {"S": pk}, **({"sk": {"S": sk}} if self.ranged else {})}

    def put(self, pk: str, n: int, sk: str = "1", **attrs: str) -> None:
        item = {**self.key(pk, sk), "n": {"N": str(n)}, **{k: {"S": v} for k, v in attrs.items()}}
        self.ddb.put_item(TableName=self.name, Item=item)

    def get(self, pk: str, sk: str = "1") -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.ddb.get_item(
            TableName=self.name, Key=self.key(pk, sk), ConsistentRead=True
        ).get("Item")
        return item

    def everything(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.ddb.scan(TableName=self.name, ConsistentRead=True)["Items"]
        return sorted(items, key=repr)

    # transaction entries
    def update(self, pk: str, sk: str = "1", *, expect: int | None = None) -> dict[str, Any]:
        op: dict[str, Any] = {
            "TableName": self.name,
            "Key": self.key(pk, sk),
            "UpdateExpression": "SET n = n + :one, touched = :yes",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":yes": {"S": "yes"}},
        }
        if expect is not None:
            op["ConditionExpression"] = "n = :expect"
            op["ExpressionAttributeValues"][":expect"] = {"N": str(expect)}
        return {"Update": op}

    def put_op(self, pk: str, n: int, sk: str = "1", *, new: bool = False) -> dict[str, Any]:
        op: dict[str, Any] = {"TableName": self.name, "Item": {**self.key(pk, sk), "n": {"N": str(n)}}}
        if new:
            op["ConditionExpression"] = "attribute_not_exists(pk)"
        return {"Put": op}

    def delete_op(self, pk: str, sk: str = "1") -> dict[str, Any]:
        return {"Delete": {"TableName": self.name, "Key": self.key(pk, sk)}}

    def check(self, pk: str, sk: str = "1", *, expect: int) -> dict[str, Any]:
        return {
            "ConditionCheck": {
                "TableName": self.name,
                "Key": self.key(pk, sk),
                "ConditionExpression": "n = :expect",
                "ExpressionAttributeValues": {":expect": {"N": str(expect)}},
            }
        }


@pytest.fixture(params=["hash", "hash+range"])
def table(request: pytest.FixtureRequest, ddb: Any) -> Iterator[Table]:
    t = Table(ddb, ranged=request.param == "hash+range")
    t.put("a", 1)
    t.put("b", 2)
    t.put("c", 3)
    if t.ranged:
        t.put("a", 10, sk="2")  # a second item under the same hash key
    yield t
    ddb.delete_table(TableName=t.name)


def _cancelled(ddb: Any, items: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=items)
    assert err.value.response["Error"]["Code"] == "TransactionCanceledException"
    return [r.get("Code", "None") for r in err.value.response.get("CancellationReasons", [])]


# ----------------------------------------------------------------------------------------- rollback semantics
def test_a_failed_condition_leaves_every_item_as_before(table: Table) -> None:
    before = table.everything()
    reasons = _cancelled(table.ddb, [table.update("a"), table.update("b", expect=99), table.update("c")])
    assert reasons == ["None", "ConditionalCheckFailed", "None"]
    assert table.everything() == before  # "a" was updated, then rolled back; "c" too
    assert table.get("a") == {**table.key("a"), "n": {"N": "1"}}


def test_a_successful_transaction_applies_every_write(table: Table) -> None:
    table.ddb.transact_write_items(
        TransactItems=[
            table.update("a", expect=1),
            table.put_op("d", 4, new=True),
            table.delete_op("c"),
            table.check("b", expect=2),
        ]
    )
    assert table.get("a") == {**table.key("a"), "n": {"N": "2"}, "touched": {"S": "yes"}}
    assert table.get("d") == {**table.key("d"), "n": {"N": "4"}}
    assert table.get("c") is None
    assert table.get("b") == {**table.key("b"), "n": {"N": "2"}}
    if table.ranged:
        assert table.get("a", "2") == {**table.key("a", "2"), "n": {"N": "10"}}


def test_a_rolled_back_put_of_a_new_item_leaves_no_item(table: Table) -> None:
    before = table.everything()
    ops = [table.put_op("new", 7, new=True)]
    if table.ranged:
        ops.append(table.put_op("a", 7, sk="3", new=True))  # a new range key under an existing hash key
    reasons = _cancelled(table.ddb, [*ops, table.check("b", expect=99)])
    assert reasons[-1] == "ConditionalCheckFailed"
    assert table.get("new") is None
    if table.ranged:
        assert table.get("a", "3") is None
    assert table.everything() == before


def test_a_rolled_back_delete_and_upsert_restore_the_table(table: Table) -> None:
    before = table.everything()
    upsert = {  # Update of a missing item creates it
        "Update": {
            "TableName": table.name,
            "Key": table.key("z"),
            "UpdateExpression": "SET n = :n",
            "ExpressionAttributeValues": {":n": {"N": "5"}},
        }
    }
    _cancelled(table.ddb, [table.delete_op("a"), upsert, table.put_op("c", 30), table.check("b", expect=99)])
    assert table.get("z") is None
    assert table.everything() == before


def test_a_validation_error_mid_transaction_rolls_back(table: Table) -> None:
    before = table.everything()
    with pytest.raises(ClientError) as err:  # two operations on one item: moto applies the first, then refuses
        table.ddb.transact_write_items(TransactItems=[table.update("a"), table.update("b"), table.update("a")])
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert table.everything() == before


def test_a_transaction_over_two_tables_rolls_back_both(ddb: Any) -> None:
    plain, ranged = Table(ddb, ranged=False), Table(ddb, ranged=True)
    plain.put("a", 1)
    plain.put("b", 1)
    ranged.put("a", 1)
    ranged.put("a", 2, sk="2")
    before = plain.everything(), ranged.everything()
    _cancelled(ddb, [plain.update("a"), ranged.update("a"), ranged.put_op("n", 1), plain.check("b", expect=5)])
    assert (plain.everything(), ranged.everything()) == before
    ddb.transact_write_items(TransactItems=[plain.update("a"), ranged.delete_op("a", "2")])
    assert plain.get("a") == {**plain.key("a"), "n": {"N": "2"}, "touched": {"S": "yes"}}
    assert ranged.everything() == [{**ranged.key("a"), "n": {"N": "1"}}]


def test_a_table_with_a_stream_rolls_back_too(ddb: Any) -> None:
    t = Table(ddb, ranged=True, stream=True)  # keeps moto's full copy: its stream records roll back with it
    t.put("a", 1)
    before = t.everything()
    _cancelled(ddb, [t.update("a"), t.put_op("b", 1), t.check("a", "9", expect=1)])
    assert t.everything() == before


def test_the_rollback_copies_only_the_items_written(table: Table) -> None:
    """What makes it cheap: items the transaction does not name are not copied (moto's deep copy replaced every
    item object of the table, so this fails without the patch), and those it names are restored from copies."""
    items = _backend().tables[table.name].items

    def stored(pk: str, sk: str = "1") -> Any:
        from moto.dynamodb.models.dynamo_type import DynamoType

        entry = items[DynamoType({"S": pk})]
        return entry[DynamoType({"S": sk})] if table.ranged else entry

    def others() -> list[Any]:
        return [stored("c")] + ([stored("a", "2")] if table.ranged else [])

    untouched, written = others(), stored("a")
    _cancelled(table.ddb, [table.update("a"), table.check("b", expect=99)])
    items = _backend().tables[table.name].items  # the table restored from the rollback copy
    assert all(now is then for now, then in zip(others(), untouched, strict=True))
    assert stored("a") is not written  # updated in place by moto, so it came back from a copy
    assert stored("a").to_json() == {"Attributes": {**table.key("a"), "n": {"N": "1"}}}


def test_the_patches_are_idempotent() -> None:
    from moto.core.common_models import BaseModel
    from moto.dynamodb.models import DynamoDBBackend

    new, transact = BaseModel.__dict__["__new__"], DynamoDBBackend.transact_write_items
    untrack_moto_models()
    cheap_transaction_rollback()
    assert BaseModel.__dict__["__new__"] is new
    assert DynamoDBBackend.transact_write_items is transact


# --------------------------------------------------------------------------------------------- model tracking
def test_moto_no_longer_tracks_the_models_it_creates(ddb: Any) -> None:
    from moto.core.model_instances import model_data
    from moto.dynamodb.models.dynamo_type import Item

    t = Table(ddb, ranged=False)
    for i in range(20):
        t.put(f"k{i}", i)
        t.put(f"k{i}", i + 1)  # replaces the first version
    assert Item in model_data["dynamodb"].values()
    assert Item.instances_tracked == []  # type: ignore[attr-defined]
    tracked = {
        f"{service}.{name}": len(getattr(cls, "instances_tracked", []))
        for service, models in model_data.items()
        for name, cls in models.items()
    }
    assert {name: n for name, n in tracked.items() if n} == {}  # nothing of any service


def test_a_replaced_item_and_an_overwritten_s3_object_are_freed(moto_server: MotoServer, ddb: Any) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.s3.models import s3_backends

    t = Table(ddb, ranged=False)
    t.put("a", 1)
    item = weakref.ref(_backend().tables[t.name].items[DynamoType({"S": "a"})])
    t.put("a", 2)

    s3 = client("s3", moto_server.endpoint)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000)
    key = weakref.ref(s3_backends[ACCOUNT]["aws"].buckets[bucket].keys["k"])
    s3.put_object(Bucket=bucket, Key="k", Body=b"y" * 100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # moto's FakeKey.__del__ says it was not disposed of
        gc.collect()
    assert item() is None
    assert key() is None
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"y" * 100_000


def test_many_transactions_keep_no_more_items_alive_than_the_tables_hold(ddb: Any) -> None:
    """Live moto items in the whole process, before and after 200 transactions (half rolled back) on a 100-item
    table: what grows is the items the transactions added, not one copy of the table per transaction."""
    from moto.dynamodb.models.dynamo_type import Item

    def live_items() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, Item))

    t = Table(ddb, ranged=True)
    for i in range(100):
        t.put("seed", i, sk=str(i))
    before = live_items()
    for i in itertools.islice(itertools.count(), 200):
        ops = [t.update("seed", str(i % 100)), t.put_op(f"new{i}", i, new=True)]
        if i % 2:
            ops.append(t.check("seed", str((i + 1) % 100), expect=-1))  # fails: the whole transaction rolls back
            _cancelled(ddb, ops)
        else:
            ddb.transact_write_items(TransactItems=ops)
    added = 100  # the Puts of the 100 successful transactions
    assert live_items() - before <= added + 10


@pytest.mark.parametrize("bad", [{"N": "abc"}, {"L": [{"S": "x"}]}], ids=["non-numeric N", "list"])
def test_a_key_moto_cannot_hash_gets_motos_own_answer(moto_server: MotoServer, bad: dict[str, Any]) -> None:
    import boto3
    from botocore.config import Config

    ddb = boto3.session.Session().client(
        "dynamodb",
        endpoint_url=moto_server.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    t = Table(ddb, ranged=False)
    t.put("a", 1)
    bad_check = {
        "ConditionCheck": {"TableName": t.name, "Key": {"pk": bad}, "ConditionExpression": "attribute_exists(pk)"}
    }
    assert _cancelled(ddb, [t.update("a"), bad_check])[0] == "None"
    assert t.get("a") == {**t.key("a"), "n": {"N": "1"}}
