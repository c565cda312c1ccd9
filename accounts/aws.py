"""boto3 clients for an AWS connection: the one place credentials are turned into clients.

Role connections call STS AssumeRole with the account's external id and reuse the temporary credentials until
five minutes before they expire; clients are cached per connection, service and credentials.
"""

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, HTTPClientError
from botocore.hooks import first_non_none_response
from botocore.parsers import create_parser
from django.conf import settings
from urllib3.util.retry import Retry

from accounts.models import AwsConnection

_REFRESH_MARGIN = timedelta(minutes=5)
_CLIENT_CONFIG = Config(
    retries={"max_attempts": 2, "mode": "standard"},
    connect_timeout=5,
    read_timeout=30,
    max_pool_connections=64,
    # Every call's parameters are built by our own transport modules (typed, and tested against moto), so
    # botocore's schema walk over each request only costs CPU: 0.32 ms of the 1.75 ms a SendRawEmail takes here
    # (measured against bench/fake_ses.py).
    parameter_validation=False,
)


@dataclass(frozen=True)
class _Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    expires_at: datetime | None

    def fresh(self) -> bool:
        return self.expires_at is None or datetime.now(UTC) < self.expires_at - _REFRESH_MARGIN


_lock = threading.Lock()
_credentials: dict[str, _Credentials] = {}
_clients: dict[tuple[str, str, str], Any] = {}
_lean: dict[tuple[str, str, str], "_LeanCaller"] = {}  # keyed like the client it was derived from


def _endpoint() -> str | None:
    return settings.SESAME_AWS_ENDPOINT_URL or None


def _assume_role(connection: AwsConnection) -> _Credentials:
    sts = boto3.client("sts", region_name=connection.region, endpoint_url=_endpoint(), config=_CLIENT_CONFIG)
    response = sts.assume_role(
        RoleArn=connection.role_arn,
        RoleSessionName=f"sesame-{str(connection.pk)[:8]}",
        ExternalId=connection.account.aws_external_id,
        DurationSeconds=3600,
    )
    creds = response["Credentials"]
    return _Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], creds["Expiration"])


def _credentials_for(connection: AwsConnection) -> _Credentials:
    key = str(connection.pk)
    cached = _credentials.get(key)
    if cached is not None and cached.fresh():
        return cached
    if connection.uses_role:
        fresh = _assume_role(connection)
    else:
        fresh = _Credentials(connection.access_key_id, connection.secret_access_key, None, None)
    _credentials[key] = fresh
    return fresh


def client(connection: AwsConnection, service: str) -> Any:
    """A boto3 client for `service` ("ses", "sns", "cloudwatch", ...) acting as this connection."""
    with _lock:
        creds = _credentials_for(connection)
        key = (str(connection.pk), service, creds.access_key_id)
        cached = _clients.get(key)
        if cached is None:
            for stale in [k for k in _clients if k[:2] == key[:2]]:  # clients of expired role credentials
                del _clients[stale]
                _lean.pop(stale, None)
            cached = boto3.client(  # type: ignore[call-overload]
                service,
                region_name=connection.region,
                aws_access_key_id=creds.access_key_id,
                aws_secret_access_key=creds.secret_access_key,
                aws_session_token=creds.session_token,
                endpoint_url=_endpoint(),
                config=_CLIENT_CONFIG,
            )
            cached.meta.events.register("before-send", _request_leaving)
            _clients[key] = cached
        return cached


_sending = threading.local()


@contextmanager
def on_request_sent(callback: Callable[[], None]) -> Iterator[None]:
    """Call `callback` (once) at the moment the HTTP request of the next AWS call made by this thread leaves: the
    delivery engine's send bucket records that moment, not the earlier one when the message was built."""
    _sending.callback = callback
    try:
        yield
    finally:
        _sending.callback = None


def _request_leaving(**kwargs: Any) -> None:
    callback = getattr(_sending, "callback", None)
    if callback is not None:
        _sending.callback = None
        callback()


class AwsError(Exception):
    """Any botocore failure of a call, with AWS's own error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code


def call(connection: AwsConnection, service: str, action: str, **params: Any) -> dict[str, Any]:
    """One AWS call as this connection; every botocore failure comes out as AwsError."""
    try:
        result: dict[str, Any] = getattr(client(connection, service), action)(**params)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsError(str(error.get("Code", "")), str(error.get("Message", "")) or str(exc)) from exc
    except BotoCoreError as exc:
        raise AwsError(type(exc).__name__, str(exc)) from exc
    return result


def forget(connection: AwsConnection) -> None:
    """Drop cached credentials and clients, e.g. after the connection's keys or role change."""
    with _lock:
        _credentials.pop(str(connection.pk), None)
        for key in [k for k in _clients if k[0] == str(connection.pk)]:
            del _clients[key]
            _lean.pop(key, None)


def forget_all() -> None:
    """Drop every cached credential and client (tests switch AWS mocks between cases)."""
    with _lock:
        _credentials.clear()
        _clients.clear()
        _lean.clear()


# -- the lean call --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LeanCaller:
    """What a REST-JSON call needs, taken once from a boto3 client: where, as whom, its event hooks, and the
    urllib3 pool its HTTP session sends through."""

    endpoint: str
    service_id: str
    signer: SigV4Auth
    events: Any
    service_model: Any
    pool: Any  # the client's own urllib3 pool for the endpoint: its proxies, certificates, timeouts and size
    absolute_target: bool  # through an HTTP proxy the request line names the whole URL


def _pool_of(http: Any, url: str) -> tuple[Any, bool]:
    """The pool botocore's session (URLLib3Session.send) picks for `url`, chosen once rather than per call: its
    proxy lookup, pool-key hashing and response wrapping were a quarter of a send's HTTP cost (bench/README.md)."""
    proxy_url = http._proxy_config.proxy_url_for(url)
    pool = http._get_connection_manager(url, proxy_url).connection_from_url(url)
    http._setup_ssl_cert(pool, url, http._verify)
    return pool, http._get_request_target(url, proxy_url) == url


def _lean_for(connection: AwsConnection, service: str) -> _LeanCaller:
    boto_client = client(connection, service)  # refreshes role credentials when they near their end
    with _lock:
        creds = _credentials_for(connection)
        key = (str(connection.pk), service, creds.access_key_id)
        lean = _lean.get(key)
        if lean is None:
            meta = boto_client.meta
            pool, absolute_target = _pool_of(boto_client._endpoint.http_session, meta.endpoint_url)
            lean = _lean[key] = _LeanCaller(
                endpoint=meta.endpoint_url,
                service_id=meta.service_model.service_id.hyphenize(),
                signer=SigV4Auth(
                    Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token),
                    meta.service_model.signing_name,
                    meta.region_name,
                ),
                events=meta.events,
                service_model=meta.service_model,
                pool=pool,
                absolute_target=absolute_target,
            )
    return lean


def json_post(connection: AwsConnection, service: str, operation: str, path: str, body: dict[str, Any]) -> Any:
    """One REST-JSON POST (SES v2's SendEmail) as this connection, through botocore's own signer, HTTP pool,
    `before-send` hooks (moto's mock, the send bucket's stamp) and error parser, but without the client's per-call
    machinery: serialising by walking the model, resolving the endpoint's rule set and a dozen events cost 0.5 ms
    of CPU per send at the dispatcher's rates, more than the rest of a send (bench/README.md). No retry: the
    delivery engine retries with its own back-off. Raises ClientError or BotoCoreError as the client would."""
    lean = _lean_for(connection, service)
    url = lean.endpoint + path
    request = AWSRequest(
        method="POST", url=url, data=json.dumps(body, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    lean.signer.add_auth(request)
    prepared = request.prepare()
    mocked = first_non_none_response(lean.events.emit(f"before-send.{lean.service_id}.{operation}", request=prepared))
    if mocked is not None:
        status, headers, content = mocked.status_code, mocked.headers, mocked.content
    else:
        try:
            reply = lean.pool.urlopen(
                "POST", url if lean.absolute_target else path, body=prepared.body, headers=prepared.headers,
                retries=Retry(False), assert_same_host=False, decode_content=False,
            )  # fmt: skip
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
            raise EndpointConnectionError(endpoint_url=url, error=exc) from exc  # as botocore's session says it
        except urllib3.exceptions.HTTPError as exc:  # reset, timed out reading, a broken reply
            raise HTTPClientError(error=exc) from exc
        status, headers, content = reply.status, reply.headers, reply.data
    if status < 300:
        return json.loads(content or b"{}")
    operation_model = lean.service_model.operation_model(operation)
    parsed = create_parser(lean.service_model.protocol).parse(
        {"status_code": status, "headers": headers, "body": content}, operation_model.output_shape
    )
    raise ClientError(parsed, operation)
