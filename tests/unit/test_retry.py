"""Retry policies and the transient-error classifier: every rule with a real exception object.

Tenacity is driven with fabricated ``RetryCallState``s or a recording ``sleep``: nothing sleeps.
"""

from __future__ import annotations

import email.message
import http.server
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from tenacity import RetryCallState, Retrying, wait_none

from fmd_runtime.engine.spark import DELTA_SPARK_CONFLICTS
from fmd_runtime.errors import (
    ConcurrentWriteError,
    ConfigError,
    ContractViolation,
    EngineError,
    InvalidIdentifierError,
    StoreError,
)
from fmd_runtime.retry import (
    POLICIES,
    RetryEvent,
    RetryStats,
    is_transient,
    retry_after_seconds,
    retryer,
    retrying,
    status_of,
    wait_retry_after,
)


def http_error(
    code: int, reason: str, headers: dict[str, str] | None = None
) -> urllib.error.HTTPError:
    msg = email.message.Message()
    for k, v in (headers or {}).items():
        msg[k] = v
    return urllib.error.HTTPError("https://127.0.0.1/x", code, reason, msg, None)


def state_for(exc: BaseException, attempt: int = 1) -> RetryCallState:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    state.set_exception((type(exc), exc, None))
    return state


# -- delta-spark ---------------------------------------------------------------------------


# delta-spark's Python exception classes can only be built with a live JVM (pyspark asserts
# it), so these tests use the shared local Spark session; the classes are the real ones.


@pytest.mark.spark
@pytest.mark.parametrize("name", sorted(DELTA_SPARK_CONFLICTS))
def test_delta_spark_conflict_classes_are_transient(spark, name: str) -> None:
    exceptions = pytest.importorskip("delta.exceptions")
    cls = getattr(exceptions, name)
    # built as delta-spark's _convert_delta_exception builds it from the Java error
    exc = cls("Files were added to the root of the table by a concurrent update.", "stack", None)
    assert is_transient(exc)


@pytest.mark.spark
def test_delta_spark_conflict_matched_by_name_along_the_mro(spark) -> None:
    exceptions = pytest.importorskip("delta.exceptions")

    class TableConflict(exceptions.ConcurrentDeleteReadException):
        """A wrapper class with its own name: the MRO still names the conflict."""

    assert is_transient(TableConflict("conflict", "stack", None))


def test_delta_spark_conflicts_do_not_share_a_base_class() -> None:
    pytest.importorskip("pyspark")
    exceptions = pytest.importorskip("delta.exceptions")
    base = exceptions.DeltaConcurrentModificationException
    # why the classifier matches names: the siblings are not subclasses of the "base"
    assert not issubclass(exceptions.ConcurrentAppendException, base)
    assert not issubclass(exceptions.MetadataChangedException, base)


@pytest.mark.parametrize(
    "message",
    [
        "[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added to partition [] by "
        "a concurrent update. Please try the operation again.",
        "[DELTA_CONCURRENT_DELETE_READ] This transaction attempted to read one or more files that "
        "were deleted by a concurrent update.",
        "[DELTA_CONCURRENT_DELETE_DELETE] This transaction attempted to delete one or more files "
        "that were deleted by a concurrent update.",
        "[DELTA_METADATA_CHANGED] MetadataChangedException: The metadata of the Delta table has "
        "been changed by a concurrent update.",
        "[DELTA_PROTOCOL_CHANGED] ProtocolChangedException: The protocol version of the Delta "
        "table has been changed by a concurrent update.",
        "[DELTA_CONCURRENT_TRANSACTION] ConcurrentTransactionException: This error occurs when "
        "multiple streaming queries are using the same checkpoint.",
        "An error occurred while calling o123.execute.\n: io.delta.exceptions.ConcurrentAppendException: "
        "Files were added to the root of the table by a concurrent update.",
    ],
)
def test_delta_error_classes_in_messages_are_transient(message: str) -> None:
    # before `import delta`, pyspark surfaces these as generic errors: the message decides
    assert is_transient(RuntimeError(message))


@pytest.mark.spark
def test_a_real_spark_analysis_error_is_not_transient(spark) -> None:
    from pyspark.errors.exceptions.captured import AnalysisException

    with pytest.raises(AnalysisException) as info:
        spark.sql("SELECT * FROM fmd_no_such_db.no_such_table")
    assert not is_transient(info.value)


# -- delta-rs ------------------------------------------------------------------------------


def test_deltars_commit_failed_error_is_transient() -> None:
    from deltalake.exceptions import CommitFailedError, DeltaError

    assert is_transient(CommitFailedError("Transaction failed: version already exists: 4"))
    assert not is_transient(DeltaError("Generic DeltaTable error: missing column"))


def test_engine_translation_of_a_commit_conflict_is_transient() -> None:
    from deltalake.exceptions import CommitFailedError

    try:
        try:
            raise CommitFailedError("version already exists")
        except CommitFailedError as native:
            raise ConcurrentWriteError("write: commit conflicted", table="bronze.a") from native
    except ConcurrentWriteError as exc:
        wrapped = exc
    assert is_transient(wrapped)
    # a store error around it is transient through the cause chain
    try:
        raise StoreError("could not append") from wrapped
    except StoreError as outer:
        assert is_transient(outer)


def test_engine_error_around_a_terminal_error_is_terminal() -> None:
    try:
        raise EngineError("write failed") from ValueError("schema mismatch")
    except EngineError as exc:
        assert not is_transient(exc)


# -- HTTP and storage ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [408, 429, 500, 502, 503, 504])
def test_transient_http_statuses(code: int) -> None:
    assert is_transient(http_error(code, "status"))


def test_storage_server_busy_message_is_transient() -> None:
    exc = OSError(
        'Operation failed: "The server is busy.", 503, PUT, https://acct.dfs.core.windows.net/x, '
        "ServerBusy"
    )
    assert is_transient(exc)
    assert status_of(RuntimeError("HTTP status code 503 ServerBusy")) == 503


def test_azure_error_code_attribute_counts() -> None:
    class HttpResponseError(Exception):
        """The shape of azure-core's error: status_code and error_code attributes."""

        def __init__(self, message: str, status_code: int, error_code: str) -> None:
            super().__init__(message)
            self.status_code = status_code
            self.error_code = error_code

    assert is_transient(HttpResponseError("busy", 503, "ServerBusy"))
    assert not is_transient(HttpResponseError("throttled", 429, "CapacityLimitExceeded"))


def test_429_honours_retry_after_seconds_and_dates() -> None:
    exc = http_error(429, "Too Many Requests", {"Retry-After": "7"})
    assert is_transient(exc)
    assert retry_after_seconds(exc) == 7.0
    now = datetime(2025, 1, 1, 12, 0, tzinfo=timezone.utc)
    dated = http_error(
        429,
        "Too Many Requests",
        {"Retry-After": format_datetime(now + timedelta(seconds=30), usegmt=True)},
    )
    assert retry_after_seconds(dated, now=now) == 30.0
    ms = http_error(503, "busy", {"retry-after-ms": "1500"})
    assert retry_after_seconds(ms) == 1.5
    assert retry_after_seconds(http_error(503, "busy")) is None


def test_wait_strategy_reads_retry_after_and_caps_it() -> None:
    wait = wait_retry_after(wait_none(), cap=60)
    assert wait(state_for(http_error(429, "Too Many Requests", {"Retry-After": "12"}))) == 12
    assert wait(state_for(http_error(429, "Too Many Requests", {"Retry-After": "3600"}))) == 60
    assert wait(state_for(TimeoutError("timed out"))) == 0  # falls back (wait_none here)


def test_backoff_is_exponential_with_jitter() -> None:
    policy = POLICIES["table_operation"]
    r = retryer("table_operation")
    waits = [r.wait(state_for(TimeoutError(), attempt=n)) for n in (1, 2, 3)]
    for n, w in enumerate(waits, start=1):
        low = policy.initial * 2 ** (n - 1)
        assert min(policy.max_wait, low) <= w <= min(policy.max_wait, low) + policy.jitter


def test_timeouts_and_connection_errors_are_transient() -> None:
    assert is_transient(TimeoutError("timed out"))
    assert is_transient(OSError(110, "Connection timed out"))  # ETIMEDOUT from a socket
    assert is_transient(urllib.error.URLError(TimeoutError("timed out")))


@pytest.fixture
def slow_server() -> Iterator[str]:
    release = threading.Event()

    class Slow(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            release.wait(5)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    release.set()
    server.shutdown()
    server.server_close()


def test_a_real_socket_timeout_is_transient(slow_server: str) -> None:
    with pytest.raises(Exception) as info:
        urllib.request.urlopen(slow_server, timeout=0.2)
    assert is_transient(info.value)


def test_a_real_refused_connection_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(urllib.error.URLError) as info:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
    assert is_transient(info.value)


# -- never retried -------------------------------------------------------------------------


def test_fabric_capacity_throttling_is_never_retried() -> None:
    body = (
        '{"requestId":"1","errorCode":"CapacityLimitExceeded","message":"Capacity limit exceeded"}'
    )
    assert not is_transient(RuntimeError(f"Request failed with status code 429: {body}"))
    assert not is_transient(http_error(429, "CapacityLimitExceeded", {"Retry-After": "5"}))
    spark_430 = (
        "[TooManyRequestsForCapacity] This spark job can't be run because you have hit a spark "
        "compute or API rate limit. HTTP status code: 430"
    )
    assert not is_transient(RuntimeError(spark_430))

    class LivyError(Exception):
        status_code = 430

    assert not is_transient(LivyError("Too many requests"))


@pytest.mark.parametrize("code", [401, 403])
def test_authorization_errors_are_never_retried(code: int) -> None:
    assert not is_transient(http_error(code, "Forbidden"))


def test_permission_error_is_never_retried() -> None:
    assert not is_transient(PermissionError(13, "Permission denied"))


@pytest.mark.parametrize(
    "exc",
    [
        ContractViolation("2 parameter problems"),
        ConfigError("bad setting"),
        InvalidIdentifierError("bad name"),
        ValueError("invalid literal for int()"),
        TypeError("unsupported operand"),
    ],
)
def test_validation_errors_are_never_retried(exc: Exception) -> None:
    assert not is_transient(exc)


def test_a_validation_error_mentioning_a_timeout_is_still_terminal() -> None:
    assert not is_transient(ValueError("timeout must be positive"))


def test_bad_request_is_not_retried() -> None:
    assert not is_transient(http_error(400, "Bad Request"))
    assert not is_transient(KeyError("x"))


def test_classifier_survives_exceptions_whose_str_raises() -> None:
    class Broken(Exception):
        desc = "[DELTA_CONCURRENT_APPEND] conflict"

        def __str__(self) -> str:
            raise AssertionError("no JVM")

    assert is_transient(Broken())


# -- the decorator -------------------------------------------------------------------------


def test_retrying_counts_logs_and_reports_each_retry(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    seen: list[RetryEvent] = []
    stats = RetryStats()

    @retrying("table_operation", wait_seconds=0, stats=stats, on_retry=seen.append)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise http_error(503, "Server Busy ServerBusy sig=SECRETSIG")
        return "ok"

    with caplog.at_level("WARNING", logger="fmd_runtime.retry"):
        assert flaky() == "ok"
    assert len(calls) == 3
    assert stats.as_details() == {
        "attempts": 3,
        "retries": 2,
        "waited_seconds": 0.0,
        "retry_errors": ["HTTPError", "HTTPError"],
    }
    assert [e.attempt for e in seen] == [1, 2]
    assert all(e.policy == "table_operation" for e in seen)
    assert "SECRETSIG" not in caplog.text
    assert caplog.text.count("retrying in") == 2


def test_retrying_gives_up_after_the_policy_attempts_and_reraises_the_last_error() -> None:
    calls: list[int] = []

    @retrying("http", wait_seconds=0)
    def always_busy() -> None:
        calls.append(1)
        raise TimeoutError(f"attempt {len(calls)} timed out")

    with pytest.raises(TimeoutError, match="attempt 4"):
        always_busy()
    assert len(calls) == POLICIES["http"].attempts


def test_terminal_errors_are_raised_at_once() -> None:
    calls: list[int] = []

    @retrying("metadata_write", wait_seconds=0)
    def invalid() -> None:
        calls.append(1)
        raise ContractViolation("bad")

    with pytest.raises(ContractViolation):
        invalid()
    assert calls == [1]


def test_retry_after_drives_the_sleep() -> None:
    slept: list[float] = []
    calls: list[int] = []

    @retrying("http", sleep=slept.append)
    def throttled() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise http_error(429, "Too Many Requests", {"Retry-After": "9"})
        return "ok"

    assert throttled() == "ok"
    assert slept == [9.0]


def test_retries_are_counted_in_the_enclosing_audit_activity(rt) -> None:
    calls: list[int] = []

    @retrying("table_operation", wait_seconds=0)
    def restore() -> None:
        calls.append(1)
        if len(calls) < 2:
            raise ConcurrentWriteError("commit conflicted", table="bronze.a")

    with rt.audit.activity("Restore", entity="account") as act:
        restore()
    assert act.details["retries"] == 1
    rows = rt.store.read("SyncAuditLog", {"Operation": "End"})
    assert '"retries":1' in rows[0]["Details"]


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown retry policy"):
        retrying("nope")(lambda: None)()


def test_engine_conflicts_classified_without_importing_an_adapter() -> None:
    """retry asks the engine port; the port knows both engines' conflicts without their engine
    libraries being imported (the adapters' own modules load them only when an engine is used)."""
    code = (
        "import sys\n"
        "from fmd_runtime.retry import is_transient\n"
        "spark = type('ConcurrentAppendException', (Exception,), {})('files were added')\n"
        "rs = type('CommitFailedError', (Exception,), {})('version 3 exists')\n"
        "py4j = RuntimeError(': io.delta.exceptions.MetadataChangedException: changed')\n"
        "print(is_transient(spark), is_transient(rs), is_transient(py4j), is_transient(ValueError()))\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in "
        "('pyspark', 'py4j', 'deltalake', 'delta')]\n"
        "print(loaded)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["True True True False", "[]"]
