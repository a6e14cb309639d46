"""Property-based run of the ingress against its own OpenAPI spec (schemathesis): for every
generated input, signed with the shared secret (so it reaches validation, storage and
Temporal) and unsigned, the server never answers 5xx, and its answers match the spec
(status codes, content types, response schemas).

The ingress runs in a thread over real HTTP (uvicorn) on the session's Temporal dev server; no
worker polls its task queue, so the workflows it starts just wait.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError

from domain.missed_call_models import SEARCH_ATTRIBUTES as MISSED_CALL_SEARCH_ATTRIBUTES
from domain.webhook_signature import signed_headers
from workers.client import _SA_TYPES
from workers.dev.devserver import DevServer
from workers.ingress.app import make_app
from workers.ingress.serving import RunningIngress
from workers.settings import Settings

SECRET = b"schemathesis-ingress-secret"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The spec does not depend on settings: load it once, at collection.
schema = schemathesis.openapi.from_dict(make_app(Settings(_env_file=None)).openapi())  # type: ignore[call-arg]


class SigningSession(requests.Session):
    """Signs the exact bytes that go out, whatever schemathesis generated."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body
        raw = body.encode("utf-8") if isinstance(body, str) else body
        assert raw is None or isinstance(raw, bytes), "streamed bodies are not generated"
        request.headers.update(
            signed_headers(
                SECRET,
                raw or b"",
                time.time(),
                method=request.method or "GET",
                path=request.path_url,
            )
        )
        return super().send(request, **kwargs)


async def register_missed_call_search_attributes(address: str) -> None:
    client = await Client.connect(address)
    for name, kind in MISSED_CALL_SEARCH_ATTRIBUTES.items():
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(
                    namespace=client.namespace, search_attributes={name: _SA_TYPES[kind]}
                )
            )
        except RPCError as err:
            if "already" not in str(err).lower():
                raise


@pytest.fixture(scope="module")
def ingress_url(
    dev_server: DevServer, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("ingress-fuzz")
    queue = f"fuzz-{uuid.uuid4().hex[:8]}"
    cfg = base_settings.model_copy(
        update={
            "data_dir": tmp,
            "audio_dir": tmp / "audio",
            "temporal": base_settings.temporal.model_copy(
                update={
                    "address": dev_server.address,
                    "task_queue": queue,
                    "stt_task_queue": f"{queue}-stt",
                }
            ),
            "sms": base_settings.sms.model_copy(
                update={"phone_key_secret": SecretStr("fuzz-phone-key-secret")}
            ),
            "ingress": base_settings.ingress.model_copy(
                update={
                    "secret": SecretStr(SECRET.decode()),
                    "max_body_bytes": 512 * 1024,
                    "audio_fetch_timeout_s": 2.0,
                }
            ),
        }
    )
    asyncio.run(register_missed_call_search_attributes(dev_server.address))
    with RunningIngress(cfg) as running:
        yield running.url


@pytest.fixture(scope="module")
def sessions() -> Iterator[tuple[requests.Session, requests.Session]]:
    with SigningSession() as signing, requests.Session() as plain:
        yield signing, plain


@schema.parametrize()
@settings(
    max_examples=50,
    database=None,  # nothing written into the work tree
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_error_for_any_input(
    case: schemathesis.Case,
    ingress_url: str,
    sessions: tuple[requests.Session, requests.Session],
) -> None:
    signing, plain = sessions
    signed = case.call(base_url=ingress_url, session=signing, timeout=30)
    case.validate_response(signed, checks=CHECKS)
    unsigned = case.call(base_url=ingress_url, session=plain, timeout=30)
    case.validate_response(unsigned, checks=CHECKS)
    if case.method == "POST":
        assert unsigned.status_code in (401, 405, 413), unsigned.text
