"""The remote client against a real server: the embedded API's methods, results and errors, server-side policies."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pyarrow as pa
import pytest

import glashaus
from glashaus.errors import InvalidArgumentError, NotFoundError, PermissionDeniedError
from glashaus.operations import OPERATIONS, client_operations
from glashaus.server import wire
from glashaus.server.app import ServerThread, create_app
from glashaus.server.client import RemoteLakehouse

ORDERS = pa.table(
    {
        "order_id": pa.array([1, 2, 3, 4], pa.int64()),
        "region": ["north", "south", "north", "east"],
        "email": ["a@x.org", "b@x.org", "c@x.org", "d@x.org"],
        "qty": pa.array([1, 2, 3, 4], pa.int32()),
    }
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("remote") / "lh", user="alice")
    lh.create_user("bob")
    lh.create_schema("main.shop")
    try:
        yield lh
    finally:
        lh.close()


@pytest.fixture(scope="module")
def server(lake):
    with ServerThread(create_app(lake)) as running:
        yield running


@pytest.fixture(scope="module")
def alice(lake, server):
    with glashaus.connect(server.url, token=lake.create_token()) as remote:
        yield remote


@pytest.fixture(scope="module")
def bob(lake, server):
    with glashaus.connect(server.url, token=lake.create_token("bob")) as remote:
        yield remote


@pytest.fixture(scope="module")
def orders(lake, alice):
    alice.create_table(
        "main.shop.orders", schema=ORDERS.schema, primary_key=["order_id"], comment="orders", tags={"domain": "shop"}
    )
    alice.write("main.shop.orders", ORDERS)
    return "main.shop.orders"


def test_connect_dispatches_on_the_address(server, alice):
    assert isinstance(alice, RemoteLakehouse) and alice.user == "alice"
    with pytest.raises(InvalidArgumentError, match="token"):
        glashaus.connect(server.url, token="ghs_x", user="alice")
    with pytest.raises(InvalidArgumentError, match="token"):
        glashaus.connect("./somewhere", token="ghs_x")


def test_the_client_covers_every_declared_operation_that_crosses_the_wire(alice):
    # Signatures and docstrings: tests/test_declarations.py (which also calls each one both ways).
    for qualname, op in client_operations().items():
        assert callable(getattr(getattr(alice, op.facade) if op.facade else alice, op.name)), qualname
    assert {op.qualname for op in OPERATIONS if not op.embedded_only} == set(client_operations())


def test_create_write_read_sql_describe_history_match_embedded(lake, alice, orders):
    assert alice.read(orders).sort_by("order_id") == lake.read(orders).sort_by("order_id")
    assert alice.read(orders, version=0).num_rows == 0
    assert alice.read(orders, columns=["order_id"]).column_names == ["order_id"]
    assert alice.describe(orders) == lake.describe(orders)
    assert alice.get(orders) == lake.get(orders)
    assert alice.history(orders) == lake.history(orders)
    query = "SELECT region, sum(qty) AS qty FROM main.shop.orders GROUP BY region ORDER BY region"
    remote, embedded = alice.sql(query), lake.sql(query)
    assert isinstance(remote, glashaus.Result)
    assert remote.to_arrow() == embedded.to_arrow() and remote.statement == embedded.statement
    assert alice.list("main.shop") == lake.list("main.shop")
    assert alice.list() == lake.list()


def test_writes_accept_what_the_embedded_api_accepts(lake, alice, orders):
    pandas = pytest.importorskip("pandas")
    alice.create_table("main.shop.events", schema=pa.schema([("id", pa.int64()), ("kind", pa.string())]))
    commit = alice.write("main.shop.events", pandas.DataFrame({"id": [1, 2], "kind": ["a", "b"]}))
    assert commit.version == 1 and commit.rows == 2
    alice.write("main.shop.events", [{"id": 2, "kind": "B"}, {"id": 3, "kind": "c"}], mode="merge", on=["id"])
    assert sorted(lake.read("main.shop.events").to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "kind": "a"},
        {"id": 2, "kind": "B"},
        {"id": 3, "kind": "c"},
    ]
    status = alice.sql("INSERT INTO main.shop.events VALUES (4, 'd')")
    assert status.statement == "INSERT" and status.to_pylist()[0]["rows"] == 1


def test_lineage_through_the_server(lake, alice, orders):
    alice.sql("CREATE TABLE main.shop.by_region AS SELECT region, count(*) AS n FROM main.shop.orders GROUP BY region")
    edges = alice.lineage("main.shop.by_region")
    assert edges == lake.lineage("main.shop.by_region")
    assert [(e.source, e.target) for e in edges] == [("main.shop.orders", "main.shop.by_region")]
    assert alice.column_lineage("main.shop.by_region") == lake.column_lineage("main.shop.by_region")


def test_grants_revokes_and_errors_are_the_embedded_ones(lake, alice, bob, orders):
    with pytest.raises(PermissionDeniedError):
        bob.read(orders)
    with pytest.raises(NotFoundError):
        alice.read("main.shop.nope")
    assert alice.grant("USE SCHEMA", on="main.shop", to="bob") is True
    assert alice.grant("SELECT", on=orders, to="bob") is True
    assert bob.read(orders).num_rows == 4
    assert alice.show_grants(orders) == lake.show_grants(orders)
    assert any(g.principal == "bob" and g.privilege == "SELECT" for g in alice.show_grants(orders))
    assert alice.revoke("SELECT", on=orders, from_="bob") is True
    with pytest.raises(PermissionDeniedError):
        bob.sql("SELECT * FROM main.shop.orders")
    assert alice.show_grants(None) == lake.show_grants(None)
    denied = lake.sql("SELECT client FROM system.access.audit WHERE principal = 'bob' AND decision = 'deny'")
    assert set(denied.to_arrow().column("client").to_pylist()) == {"127.0.0.1"}


@pytest.fixture(scope="module")
def customers(alice):
    """main.shop.customers, readable by bob, who sees north rows only and '***' for email."""
    alice.create_table("main.shop.customers", data=ORDERS.select(["order_id", "region", "email"]))
    alice.grant("USE SCHEMA", on="main.shop", to="bob")
    alice.grant("SELECT", on="main.shop.customers", to="bob")
    alice.set_column_mask("main.shop.customers", "email", "CASE WHEN is_member('admins') THEN email ELSE '***' END")
    alice.set_row_filter("main.shop.customers", "region = 'north' OR is_member('admins')")
    return "main.shop.customers"


def test_masks_and_filters_hold_through_the_remote_client(alice, bob, customers):
    seen = bob.read("main.shop.customers").sort_by("order_id").to_pylist()
    assert seen == [
        {"order_id": 1, "region": "north", "email": "***"},
        {"order_id": 3, "region": "north", "email": "***"},
    ]
    assert bob.sql("SELECT DISTINCT email FROM main.shop.customers").fetchall() == [("***",)]
    assert sorted(alice.read("main.shop.customers").column("email").to_pylist()) == ORDERS["email"].to_pylist()
    with pytest.raises(PermissionDeniedError):  # a masked writer may only append
        bob.write("main.shop.customers", ORDERS.select(["order_id", "region", "email"]), mode="overwrite")


def test_principals_tokens_and_volumes(lake, server, alice, bob):
    assert alice.principals() == lake.principals()
    with pytest.raises(PermissionDeniedError):
        bob.create_user("mallory")
    token = alice.create_token("bob", comment="remote")
    with glashaus.connect(server.url, token=token) as again:
        assert again.user == "bob"
        token_id = next(t.id for t in alice.tokens("bob") if t.comment == "remote")
        assert alice.revoke_token(token_id).revoked_at is not None
        with pytest.raises(glashaus.errors.AuthenticationError):
            again.list()
    alice.create_volume("main.shop.files")
    alice.put_file("main.shop.files", "a/b c.txt", b"hello")
    assert alice.get_file("main.shop.files", "a/b c.txt") == b"hello"
    assert alice.list_files("main.shop.files") == lake.list_files("main.shop.files")
    alice.delete_file("main.shop.files", "a/b c.txt")
    assert alice.list_files("main.shop.files") == []


def test_large_reads_stream_in_record_batches(lake, alice, server):
    n = 2_000_000
    lake.create_table(
        "main.shop.big", data=pa.table({"id": pa.array(range(n), pa.int64()), "x": pa.array(range(n), pa.float64())})
    )
    token = lake.create_token()
    with httpx.stream(
        "GET", server.url + "/api/tables/main.shop.big/rows", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as response:
        assert response.status_code == 200
        assert response.headers.get("transfer-encoding") == "chunked" and "content-length" not in response.headers
        chunks = sum(1 for _ in response.iter_raw())
    assert chunks > 10
    table = alice.read("main.shop.big")
    assert table.num_rows == n and len(table.to_batches()) >= n // wire.BATCH_ROWS > 1
    assert alice.sql("SELECT sum(id) FROM main.shop.big").scalar() == n * (n - 1) // 2


def test_concurrent_requests_keep_each_callers_identity(alice, bob, customers):
    def who_sees(i: int) -> tuple[str, list]:
        remote = alice if i % 2 else bob
        emails = remote.sql("SELECT email FROM main.shop.customers ORDER BY order_id").to_arrow()
        return remote.user, emails.column("email").to_pylist()

    with ThreadPoolExecutor(8) as pool:
        seen = list(pool.map(who_sees, range(40)))
    assert {tuple(emails) for user, emails in seen if user == "bob"} == {("***", "***")}
    assert {tuple(emails) for user, emails in seen if user == "alice"} == {tuple(ORDERS["email"].to_pylist())}


# -- query results streamed batch by batch ---------------------------------------------------------------


def test_a_large_query_streams_through_the_server_and_matches_embedded(lake, alice):
    n = 500_000
    lake.create_table(
        "main.shop.streamed",
        data=pa.table({"id": pa.array(range(n), pa.int64()), "half": pa.array([i // 2 for i in range(n)], pa.int64())}),
    )
    query = "SELECT id, half FROM main.shop.streamed WHERE id % 3 <> 0 ORDER BY id"
    remote = alice.sql(query)
    embedded = lake.sql(query)
    assert remote.statement == "SELECT" and remote.columns == embedded.columns == ["id", "half"]
    assert remote.to_arrow().equals(embedded.to_arrow())
    assert len(remote.to_arrow().to_batches()) > 1


def test_an_unread_result_holds_no_connection_and_reads_once(lake, orders):
    first = lake.sql("SELECT * FROM main.shop.orders ORDER BY order_id")  # rows not read yet
    assert "not read yet" in repr(first) and first.columns == list(ORDERS.column_names)
    assert lake.sql("SELECT count(*) FROM main.shop.orders").scalar() == 4  # same thread, same connection
    streamed = lake.sql("SELECT order_id FROM main.shop.orders ORDER BY order_id")
    assert [b.num_rows for b in streamed.batches()] == [4]
    with pytest.raises(InvalidArgumentError, match="batches"):
        streamed.to_arrow()
    assert first.to_arrow().column("order_id").to_pylist() == [1, 2, 3, 4]
    assert first.fetchall() == first.fetchall() and len(first) == 4  # read once, kept
    assert [b.num_rows for b in first.batches()] == [4]  # kept rows can be handed out again
    for _ in range(50):  # results dropped unread free their cursors
        lake.sql("SELECT * FROM main.shop.orders")
    assert lake.sql("SELECT 1 AS one").scalar() == 1


def test_a_query_failing_after_its_first_batch_raises_where_rows_are_read(lake, orders):
    with pytest.raises(glashaus.errors.SqlError, match="Conversion Error"):
        lake.sql("SELECT CAST('x' AS INT)")  # the first batch is read by lh.sql itself
    from glashaus.sql.result import Result

    schema = pa.schema([("n", pa.int64())])

    def batches():
        yield pa.record_batch({"n": [1]}, schema=schema)
        raise glashaus.errors.SqlError("SQL error: Conversion Error: later")

    result = Result.lazy(schema, batches())
    with pytest.raises(glashaus.errors.SqlError, match="later"):
        result.to_arrow()
    with pytest.raises(glashaus.errors.SqlError, match="failed earlier"):
        result.fetchall()


# -- streamed bodies over kept connections (server/streams.py) -----------------------------------------


def test_streamed_reads_share_one_kept_connection_and_errors_keep_it_usable(lake, server, orders):
    with glashaus.connect(server.url, token=lake.create_token()) as remote:
        assert remote.read(orders).equals(lake.read(orders))
        first = remote._streams._idle[0]
        with pytest.raises(NotFoundError, match=r"main.shop.nowhere"):
            remote.read("main.shop.nowhere")  # a JSON error on a streamed call: the embedded error class
        assert remote.sql(f"SELECT count(*) AS n FROM {orders}").scalar() == 4
        assert remote._streams._idle == [first]  # the same connection carried all three


def test_a_connection_the_server_closed_while_idle_is_replaced_not_used(lake, server, orders):
    import socket
    import time

    from glashaus.server import streams

    with glashaus.connect(server.url, token=lake.create_token()) as remote:
        remote.read(orders)
        (stale,) = remote._streams._idle
        stale.sock.shutdown(
            socket.SHUT_WR
        )  # the server sees the end and closes its side, as after a keep-alive timeout
        deadline = time.monotonic() + 10
        while not streams._dropped(stale) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert remote.read(orders).num_rows == 4
        assert remote._streams._idle and remote._streams._idle[0] is not stale


def test_unreachable_servers_and_broken_bodies_are_named_errors(lake, server, orders, monkeypatch):
    from glashaus.server import streams

    with glashaus.connect(server.url, token=lake.create_token()) as remote:
        remote.read(orders)
        with glashaus.connect("http://127.0.0.1:1", token="ghs_x") as nowhere:
            with pytest.raises(glashaus.errors.GlashausError, match="cannot reach the lakehouse server"):
                nowhere.read(orders)

        def truncated(self, size=-1):  # the body ends in the middle of a message
            return b"" if size and size > 8 else original(self, size)

        original = streams.BodyReader.read
        monkeypatch.setattr(streams.BodyReader, "read", truncated)
        with pytest.raises(glashaus.errors.GlashausError, match="broke off the response"):
            remote.read(orders)
        monkeypatch.undo()
        assert remote.read(orders).num_rows == 4  # the broken connection was not kept


def test_an_http_proxy_in_the_environment_sends_streams_through_httpx(lake, server, orders, monkeypatch):
    from glashaus.server import streams

    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "")
    assert streams.proxied("http://10.1.2.3:8080") and not streams.proxied("https://10.1.2.3:8443")
    monkeypatch.setenv("NO_PROXY", "10.1.2.3")
    assert not streams.proxied("http://10.1.2.3:8080")
    monkeypatch.delenv("HTTP_PROXY")
    assert not streams.proxied("http://10.1.2.3:8080")
    with glashaus.connect(server.url, token=lake.create_token()) as remote:
        remote._streams = None  # what a proxied address gets: the httpx path, same results and errors
        assert remote.read(orders).equals(lake.read(orders))
        with pytest.raises(NotFoundError):
            remote.read("main.shop.nowhere")
