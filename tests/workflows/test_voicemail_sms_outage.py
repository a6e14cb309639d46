"""A case for a person reaches the agent queue during an SMS outage, whatever path it took
(issue 22), on Temporal's time-skipping test server: the SMS provider fails on every attempt
for as long as the test runs, and the case may wait neither on the address-choice SMS nor on
its acknowledgement.

The activities are stand-ins under the real names: the words are understood as a booking, and
the address resolution is uncertain enough for the bot to offer the caller a choice by SMS
(the path demo05 takes on some machines: its street is not in the demo territory, and the
nearest-sounding streets may score just above the confirmation threshold).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain import names
from domain.address_models import AddressCandidates, AddressSearchInput, ResolveAddressInput
from domain.case_state import WorkflowState
from domain.models import (
    AddressMatch,
    GeocodeResult,
    GeocodeStatus,
    ItemCount,
    NotifyInput,
    NotifyResult,
    SpokenAddress,
    TerritoryReference,
    TerritoryReferenceInput,
    Understanding,
    UnderstandInput,
    VoicemailInput,
)
from tests.workflows.test_booking_follow_up_timeskip import _test_server_path
from workers.client import _SA_TYPES
from workflows.voicemail import VoicemailWorkflow

CALLER = "+33612345678"


def candidate(number: str, street: str, score: float) -> AddressMatch:
    return AddressMatch(number, street, "13005", "13205", "Marseille", 5.39, 43.29, score, "13205")


@dataclass
class Provider:
    """An SMS provider that answers 5xx to everything: every attempt is recorded."""

    attempts: list[str] = field(default_factory=list)

    def activities(self) -> list[Any]:
        @activity.defn(name=names.UNDERSTAND)
        async def understand(inp: UnderstandInput) -> Understanding:
            return Understanding(
                intent="booking",
                address=SpokenAddress("7", "impasse des tilleuls", "13005", "13205", "Marseille"),
                items=[ItemCount("table", 1)],
                confidence=0.9,
            )

        @activity.defn(name=names.PROPOSE_ADDRESSES)
        async def propose(inp: AddressSearchInput) -> AddressCandidates:
            return AddressCandidates()

        @activity.defn(name=names.RESOLVE_ADDRESS)
        async def resolve(inp: ResolveAddressInput) -> GeocodeResult:
            best = candidate("7", "Impasse Dupré", 0.4)
            return GeocodeResult(
                GeocodeStatus.MATCHED, best, [best, candidate("7", "Rue Tilsit", 0.3)]
            )

        @activity.defn(name=names.TERRITORY_REFERENCE)
        async def reference(inp: TerritoryReferenceInput) -> TerritoryReference:
            return TerritoryReference(postcodes=["13005"], citycodes=["13205"])

        @activity.defn(name=names.SEND_SMS)
        async def send_sms(inp: NotifyInput) -> NotifyResult:
            self.attempts.append(inp.template)
            raise ApplicationError("OVH 500", type="SmsNotSent")

        return [understand, propose, resolve, reference, send_sms]


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(_test_server_path())
    ) as env:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={k: _SA_TYPES[v] for k, v in names.SEARCH_ATTRIBUTES.items()},
            )
        )
        yield env


async def test_address_choice_sms_outage_hands_the_case_to_a_person(
    env: WorkflowEnvironment,
) -> None:
    provider = Provider()
    queue = f"outage-{uuid.uuid4().hex[:6]}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[VoicemailWorkflow],
        activities=provider.activities(),
        activity_executor=ThreadPoolExecutor(4),
    ):
        handle: WorkflowHandle[Any, Any] = await env.client.start_workflow(
            names.VOICEMAIL_WORKFLOW,
            VoicemailInput(
                call_id="outage-1",
                audio_path="",
                caller_number=CALLER,
                text="Bonjour, une table à enlever au 7 impasse des Tilleuls 13005 Marseille.",
                channel="sms",
            ),
            id=f"voicemail-outage-{uuid.uuid4().hex[:6]}",
            task_queue=queue,
        )
        # Ten minutes of outage, skipped: well past the address-choice bound and the
        # acknowledgement's wait, far short of the provider coming back.
        await env.sleep(timedelta(minutes=10))
        state = await handle.query(names.STATE_QUERY, result_type=WorkflowState)
        desc = await handle.describe()

    assert state.status == "waiting_agent", state.status
    assert state.escalation is not None and state.escalation.reason == "low_confidence"
    # The candidates the caller could not be asked about are the agent's to choose from.
    assert [c.street for c in state.escalation.candidates] == ["Impasse Dupré", "Rue Tilsit"]
    assert desc.search_attributes.get(names.SA_NEEDS_AGENT) == [True]
    # The address choice was tried, then given up within its bound; the acknowledgement that
    # a person takes over keeps trying in the background.
    assert "address_choice" in provider.attempts and "callback" in provider.attempts
    first_callback = provider.attempts.index("callback")
    assert all(t == "address_choice" for t in provider.attempts[:first_callback])
