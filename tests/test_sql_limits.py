"""Limits on what one SQL statement may cost: nesting, time, memory, spill space, one value's size;
and a query stops when its client goes away (issue 10, findings 3 and 9).

Before: 5,000 nested parentheses raised a raw RecursionError (a 500 on /api/sql and the
web page); ``SELECT count(*) FROM range(100000000000)`` and ``repeat('x', 2000000000)``
ran for minutes and allocated gigabytes, and a query kept running after its client left.
"""

from __future__ import annotations

import json
import re
import socket
import time

import duckdb
import httpx
import pyarrow as pa
import pytest

import glashaus
from glashaus.access.sqltext import MAX_NESTING
from glashaus.errors import InvalidArgumentError, QueryLimitError, SqlError
from glashaus.lakehouse import services
from glashaus.server.app import ServerThread, create_app
from glashaus.sql.limits import SERVER_LIMITS, QueryLimits

DEEP = "SELECT " + "(" * 5000 + "1" + ")" * 5000


def wait_for(condition, *, within: float = 30.0) -> bool:
    """Poll ``condition`` until it holds (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


# -- nesting ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        DEEP,
        "SELECT " + "[" * 3000 + "1" + "]" * 3000,
        "SELECT " + "CASE WHEN true THEN " * 2000 + "1" + " END" * 2000,
        "SELECT " + "abs(" * 3000 + "1" + ")" * 3000,
        "SELECT * FROM main.default.t WHERE id IN "
        + "(SELECT id FROM main.default.t WHERE id IN " * 500
        + "(1)"
        + ")" * 500,
        "CREATE VIEW main.default.deep AS " + DEEP,
        "INSERT INTO main.default.t " + DEEP,
        "GRANT SELECT ON TABLE " + "(" * 3000 + "main.default.t" + ")" * 3000 + " TO bob",
        "ALTER TABLE main.default.t SET ROW FILTER " + "(" * 3000 + "id > 0" + ")" * 3000,
    ],
)
def test_deep_nesting_is_a_clear_error_naming_the_limit(lh, sql):
    lh.create_table("main.default.t", data=pa.table({"id": [1]}))
    with pytest.raises(glashaus.errors.GlashausError) as err:
        lh.sql(sql)
    assert f"at most {MAX_NESTING} levels" in str(err.value), str(err.value)
    assert lh.sql("SELECT count(*) FROM main.default.t").scalar() == 1


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT " + "NOT " * 5000 + "true",  # deep without brackets: sqlglot recursion
        "SELECT " + "- " * 5000 + "1",
        "SELECT " + " + ".join(["1"] * 20000),  # long chains: DuckDB's expression depth
    ],
)
def test_deep_trees_without_brackets_are_a_clear_error_too(lh, sql):
    with pytest.raises(SqlError, match="nested too deeply"):
        lh.sql(sql)


def test_long_flat_conditions_still_work(lh):
    assert lh.sql("SELECT 1 WHERE " + " OR ".join(["false"] * 20000 + ["true"])).scalar() == 1
    assert lh.sql("SELECT 1 WHERE 1 IN (" + ", ".join(str(i) for i in range(20000)) + ")").scalar() == 1


def test_nesting_up_to_the_limit_works(lh):
    inner = MAX_NESTING - 1  # one level is the SELECT's own parentheses below
    assert lh.sql("SELECT " + "(" * MAX_NESTING + "1" + ")" * MAX_NESTING).scalar() == 1
    assert lh.sql("SELECT " + "abs(" * MAX_NESTING + "-1" + ")" * MAX_NESTING).scalar() == 1
    assert lh.sql("SELECT " + "(SELECT " * inner + "1" + ")" * inner).scalar() == 1
    assert lh.sql("SELECT " + "CASE WHEN true THEN " * MAX_NESTING + "1" + " END" * MAX_NESTING).scalar() == 1


def test_deep_row_filters_masks_and_views_are_refused_from_python_too(lh):
    lh.create_table("main.default.t", data=pa.table({"id": [1], "email": ["a@b"]}))
    deep = "(" * 3000 + "id > 0" + ")" * 3000
    for call in (
        lambda: lh.set_row_filter("main.default.t", deep),
        lambda: lh.set_column_mask("main.default.t", "email", "(" * 3000 + "email" + ")" * 3000),
        lambda: lh.create_tag_policy("deep", tag="pii", mask="(" * 3000 + "value" + ")" * 3000, except_groups=[]),
        lambda: lh.create_view("main.default.v", DEEP),
    ):
        with pytest.raises(glashaus.errors.GlashausError, match=f"at most {MAX_NESTING} levels"):
            call()
    with pytest.raises(InvalidArgumentError, match="nested too deeply"):
        lh.set_row_filter("main.default.t", "NOT " * 5000 + "id > 0")
    assert lh.sql("SELECT count(*) FROM main.default.t").scalar() == 1


# -- time, memory, spill ---------------------------------------------------------------------------------


def test_a_query_past_the_time_limit_stops_with_an_error_naming_it(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice", query_timeout_s=0.5) as lh:
        with pytest.raises(QueryLimitError) as err:
            lh.sql("SELECT count(*) FROM range(100000000000)")
        message = str(err.value)
        assert "0.5 s" in message and "query time limit" in message and "--query-timeout-s" in message
        assert err.value.code == "QUERY_LIMIT_EXCEEDED"
        lh.create_table("main.default.t", data=pa.table({"id": [1]}))
        with pytest.raises(QueryLimitError):  # the input of a write is limited the same way
            lh.sql("INSERT INTO main.default.t SELECT count(*) FROM range(100000000000)")
        assert lh.sql("SELECT count(*) FROM main.default.t").scalar() == 1


def test_a_query_past_the_memory_or_spill_limit_stops_with_an_error_naming_it(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice", query_memory_mib=64, query_spill_mib=1) as lh:
        with pytest.raises(QueryLimitError) as err:
            lh.sql("SELECT length(string_agg(repeat('x', 10000), '')) FROM range(30000)")
        assert "query memory limit of 64 MiB" in str(err.value) and "--query-memory-mib" in str(err.value)
        with pytest.raises(QueryLimitError) as err:
            lh.sql(
                "SELECT count(*) FROM (SELECT DISTINCT range::VARCHAR || 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' "
                "FROM range(5000000))"
            )
        assert "query spill limit of 1 MiB" in str(err.value) and "--query-spill-mib" in str(err.value)
        assert lh.sql("SELECT count(*) FROM range(1000)").scalar() == 1000  # and the next query runs


@pytest.mark.parametrize(
    ("sql", "name"),
    [
        ("SELECT repeat('x', 2000000000)", "repeat()"),
        ("SELECT length(repeat(repeat('x', 1000), 1000000))", "repeat()"),
        ("SELECT repeat('x', (random() * 0 + 2000000000)::INT)", "repeat()"),
        ("SELECT space(2000000000)", "space()"),
        ("SELECT lpad('x', 2000000000, '-')", "lpad()"),
        ("SELECT len(range(300000000))", "range()"),
        (
            "SELECT len(generate_series(TIMESTAMP '2000-01-01', TIMESTAMP '2030-01-01', INTERVAL 1 SECOND))",
            "generate_series()",
        ),
        ("SELECT * FROM unnest(range(0, -300000000, -1))", "range()"),
        ("SELECT len(list_resize([1], 300000000))", "list_resize()"),
        ("SELECT format('{:>2000000000}', 1)", "format()"),
        ("SELECT printf('%2000000000d', 1)", "printf()"),
        ("SELECT list_transform([2000000000], lambda n: repeat('x', n))", "repeat()"),
    ],
)
def test_a_value_larger_than_the_memory_limit_allows_is_refused_before_it_is_built(lh, sql, name):
    # DuckDB's memory limit does not see one value: repeat('x', 2e9) allocated 2 GB under a 500 MB limit.
    with pytest.raises(QueryLimitError) as err:
        lh.sql(sql)
    assert name in str(err.value) and "--query-memory-mib" in str(err.value)


def test_values_within_the_bound_are_built_as_before(lh):
    row = lh.sql(
        "SELECT repeat('ab', 3), space(2), lpad('7', 3, '0'), range(3), generate_series(1, 3), "
        "range(DATE '2026-01-01', DATE '2026-01-03', INTERVAL 1 DAY), list_resize([1], 2), "
        "format('{:>4}', 'x'), printf('%03d', 7), bar(5, 0, 10, 4)"
    ).fetchone()
    assert row[:5] == ("ababab", "  ", "007", [0, 1, 2], [1, 2, 3])
    assert len(row[5]) == 2 and row[6] == [1, None] and row[7:9] == ("   x", "007") and len(row[9]) == 4
    assert lh.sql("SELECT count(*) FROM range(1000000)").scalar() == 1_000_000  # the table function streams


def test_a_size_check_reaches_views_and_masks(lh):
    lh.create_table("main.default.t", data=pa.table({"id": [2000000000]}))
    lh.create_view("main.default.v", "SELECT repeat('x', id::INT) AS big FROM main.default.t")
    with pytest.raises(QueryLimitError, match="repeat"):
        lh.sql("SELECT length(big) FROM main.default.v")
    lh.create_table("main.default.m", data=pa.table({"n": [2000000000]}))
    lh.set_column_mask("main.default.m", "n", "length(repeat('x', n::INT))")
    with pytest.raises(QueryLimitError, match="repeat"):
        lh.sql("SELECT * FROM main.default.m")


def test_sql_cannot_lift_a_limit(tmp_path):
    with glashaus.connect(tmp_path / "lh", user="alice", query_timeout_s=60, query_memory_mib=256) as lh:
        for sql in [
            "SET max_execution_time = 0",
            "SET GLOBAL memory_limit = '100GB'",
            "RESET memory_limit",
            "PRAGMA memory_limit = '100GB'",
        ]:
            with pytest.raises(glashaus.errors.UngovernedAccessError):
                lh.sql(sql)
        con = services(lh).engine.sandbox.connection()  # the second wall: DuckDB's locked configuration
        for sql in [
            "SET GLOBAL max_execution_time = 0",
            "SET memory_limit = '100GB'",
            "SET max_temp_directory_size = '1TB'",
        ]:
            with pytest.raises(duckdb.Error, match="locked"):
                con.execute(sql)
        assert con.execute("SELECT current_setting('max_execution_time')").fetchone()[0] == 60000


def test_limits_are_checked_and_belong_to_the_server_in_server_mode(tmp_path):
    for bad in ({"query_timeout_s": -1}, {"query_memory_mib": 0}, {"query_spill_mib": "lots"}, {"query_memory_mib": 8}):
        with pytest.raises(InvalidArgumentError, match="query_"):
            glashaus.connect(tmp_path / "lh", user="alice", **bad)
    with pytest.raises(InvalidArgumentError, match="query limits"):
        glashaus.connect("http://127.0.0.1:9", token="ghs_x", query_timeout_s=10)
    assert QueryLimits().settings() == []  # embedded: DuckDB's defaults, no time limit
    assert dict(SERVER_LIMITS.settings()) == {
        "max_execution_time": 300000,
        "memory_limit": "2048MiB",
        "max_temp_directory_size": "8192MiB",
    }


def test_glashaus_serve_states_its_limits_and_their_defaults():
    from typer.testing import CliRunner

    from glashaus.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    text = re.sub(r"\s+", " ", re.sub(r"\x1b\[[0-9;]*m", "", result.output))
    assert result.exit_code == 0
    for option, default in (
        ("--query-timeout-s", "300"),
        ("--query-memory-mib", "2048"),
        ("--query-spill-mib", "8192"),
    ):
        assert option in text and f"default: {default}" in text.split(option, 1)[1][:400], option


# -- over HTTP: the limit's error, and a client that goes away ---------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    lh = glashaus.connect(tmp_path_factory.mktemp("limits") / "lh", user="alice", query_timeout_s=120)
    lh.create_table("main.default.t", data=pa.table({"id": [1, 2, 3]}))
    with ServerThread(create_app(lh)) as server:
        yield lh, server, lh.create_token()
    lh.close()


def post_sql(server, token, query):
    return httpx.post(
        server.url + "/api/sql", json={"query": query}, timeout=60, headers={"Authorization": f"Bearer {token}"}
    )


def test_rest_and_web_pages_answer_deep_sql_and_limits_with_400(served):
    _lh, server, token = served
    for query, code, fragment in (
        (DEEP, "SQL_ERROR", f"at most {MAX_NESTING} levels"),
        ("SELECT " + "NOT " * 5000 + "true", "SQL_ERROR", "nested too deeply"),
        ("SELECT repeat('x', 2000000000)", "QUERY_LIMIT_EXCEEDED", "repeat()"),
    ):
        response = post_sql(server, token, query)
        assert response.status_code == 400, response.text
        assert response.json()["error_code"] == code and fragment in response.json()["message"]
        assert "RecursionError" not in response.text and "Traceback" not in response.text
    remote = glashaus.connect(server.url, token=token)
    with pytest.raises(QueryLimitError, match="repeat"):
        remote.sql("SELECT repeat('x', 2000000000)")
    remote.close()
    # the web shell's SQL page: sign in, then post the form with its CSRF token
    with httpx.Client(base_url=server.url, timeout=60) as browser:
        nonce = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text).group(1)
        assert browser.post("/login", data={"token": token, "csrf": nonce}).status_code in (200, 303)
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/sql").text).group(1)
        page = browser.post("/sql", data={"query": DEEP, "csrf": csrf})
        assert page.status_code == 400 and f"at most {MAX_NESTING} levels" in page.text
        assert "RecursionError" not in page.text and "Traceback" not in page.text


def _raw_sql(server, token: str, query: str) -> socket.socket:
    """Send POST /api/sql on a plain socket, so that the test can hang up whenever it likes."""
    body = json.dumps({"query": query}).encode()
    sock = socket.create_connection((server.host, server.port))
    sock.sendall(
        b"POST /api/sql HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer "
        + token.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    return sock


def test_a_client_that_disconnects_while_its_query_runs_stops_it(served):
    lh, server, token = served
    sock = _raw_sql(server, token, "SELECT count(*) FROM range(1000000000000)")  # minutes of work
    assert wait_for(lambda: services(lh).engine.open_queries == 1)
    sock.close()
    assert wait_for(lambda: services(lh).engine.open_queries == 0), "the query kept running after its client left"
    assert post_sql(server, token, "SELECT count(*) FROM main.default.t").status_code == 200


def test_a_client_that_disconnects_mid_stream_stops_its_query(served):
    lh, server, token = served
    sock = _raw_sql(server, token, "SELECT range, repeat('x', 100) AS pad FROM range(1000000000000)")
    received = 0
    while received < 2_000_000:  # several record batches are out: the stream is under way
        chunk = sock.recv(1 << 16)
        assert chunk, "the server closed the stream"
        received += len(chunk)
    assert services(lh).engine.open_queries == 1
    sock.close()
    assert wait_for(lambda: services(lh).engine.open_queries == 0), "the query kept running after its client left"
    assert post_sql(server, token, "SELECT count(*) FROM main.default.t").json is not None


def test_the_web_sql_page_stops_its_query_when_the_browser_goes_away(served):
    # Before the one request layer, only /api/sql watched its client: the page's query ran on.
    lh, server, token = served
    with httpx.Client(base_url=server.url, timeout=60, cookies={"glashaus_session": token}) as browser:
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/sql").text).group(1)
    form = f"query=SELECT+count(*)+FROM+range(1000000000000)&csrf={csrf}".encode()
    sock = socket.create_connection((server.host, server.port))
    sock.sendall(
        b"POST /sql HTTP/1.1\r\nHost: test\r\nCookie: glashaus_session="
        + token.encode()
        + b"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
        + str(len(form)).encode()
        + b"\r\n\r\n"
        + form
    )
    assert wait_for(lambda: services(lh).engine.open_queries == 1)
    sock.close()
    assert wait_for(lambda: services(lh).engine.open_queries == 0), (
        "the page's query kept running after the browser left"
    )
    assert post_sql(server, token, "SELECT count(*) FROM main.default.t").status_code == 200


def test_a_finished_stream_leaves_no_query_open(served):
    lh, server, token = served
    response = post_sql(server, token, "SELECT * FROM range(300000)")
    assert response.status_code == 200 and pa.ipc.open_stream(response.content).read_all().num_rows == 300_000
    assert wait_for(lambda: services(lh).engine.open_queries == 0)
