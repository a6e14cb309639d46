"""The OVH backend against a fake OVH API driven by the real `ovh` client (requests signed and
verified): sending, errors and retries, delivery reports, callers' replies."""

from __future__ import annotations

from pathlib import Path

import ovh
import pytest
from pydantic import SecretStr

from activities.messaging.errors import (
    SmsInFlightError,
    SmsNotFoundError,
    SmsNotSentError,
    SmsRejectedError,
    SmsUncertainError,
)
from activities.messaging.ovh import OvhBackend, ovh_delivery_status, ovh_tag
from domain.errors import (
    SMS_LOOKUP_REJECTED,
    SMS_REJECTED,
)
from domain.sms_models import SmsDeliveryStatus
from tests.activities.messaging.common import (
    MOBILE,
    check,
    confirmation,
    expect_application_error,
    make_activities,
    run,
    run_with_retries,
)
from tests.fakes.fake_ovh import FakeOvhApi


def test_ovh_request_is_signed_and_complete(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    result = run(activities, confirmation())
    assert fake_ovh.rejected == []
    [job] = fake_ovh.jobs
    assert result.message_id == str(job.id) and result.backend == "ovh"
    assert job.body == {
        "message": result.text,
        "receivers": [MOBILE],
        "charset": "UTF-8",
        "coding": "7bit",
        "noStopClause": True,
        "priority": "high",
        "senderForResponse": True,
        "tag": ovh_tag("voicemail-42:confirmation"),
    }
    assert job.credits == result.segments == 2
    # The client fetched the server time once, then signed the job.
    assert fake_ovh.requests[:2] == [
        ("GET", "/auth/time"),
        ("POST", f"/sms/{fake_ovh.service_name}/jobs"),
    ]


def test_ovh_sender_and_unicode_coding(fake_ovh: FakeOvhApi) -> None:
    backend = OvhBackend(fake_ovh.settings(endpoint="fake-ovh-sender", sender="AMPMETRO"))
    backend.send(MOBILE, "Votre demande est bien reçue.", "k-sender")
    [job] = fake_ovh.jobs
    assert job.body["sender"] == "AMPMETRO"
    assert "senderForResponse" not in job.body
    assert job.body["coding"] == "8bit"


def test_ovh_client_follows_server_clock() -> None:
    with FakeOvhApi(clock_offset_s=-3600) as fake:
        OvhBackend(fake.settings(endpoint="fake-ovh-clock")).send(MOBILE, "Bonjour", "k-clock")
        assert len(fake.jobs) == 1
        # A client that ignores the server clock is refused, like on the real API.
        client = ovh.Client(
            endpoint="fake-ovh-clock",
            application_key=fake.application_key,
            application_secret=fake.application_secret,
            consumer_key=fake.consumer_key,
        )
        client._time_delta = 0
        with pytest.raises(ovh.exceptions.APIError, match="Query out of time"):
            client.get("/sms")


def test_ovh_wrong_secret_is_rejected_not_retried(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    secret = "not-the-secret-at-all"
    settings = fake_ovh.settings(endpoint="fake-ovh-bad", application_secret=SecretStr(secret))
    activities = make_activities(OvhBackend(settings), tmp_path)
    err = expect_application_error(lambda: run(activities, confirmation()), SMS_REJECTED)
    assert "403" in str(err) and "Invalid signature" in str(err)
    assert secret not in str(err) and "612345678" not in str(err)
    assert fake_ovh.rejected == [(403, "Invalid signature")]
    assert fake_ovh.jobs == []
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "failed"  # type: ignore[index]


def test_ovh_unknown_consumer_key_is_rejected(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    settings = fake_ovh.settings(endpoint="fake-ovh-ck", consumer_key=SecretStr("revoked"))
    activities = make_activities(OvhBackend(settings), tmp_path)
    err = expect_application_error(lambda: run(activities, confirmation()), SMS_REJECTED)
    assert "INVALID_CREDENTIAL" in str(err)


def test_ovh_503_twice_then_ok_sends_exactly_once(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.fail_next(503, times=2)
    result, errors = run_with_retries(activities, confirmation())
    # A 5xx during the send is ambiguous: each retry looks the job up first, finds nothing,
    # and only then sends.
    assert [type(e) for e in errors] == [SmsUncertainError, SmsUncertainError]
    assert "503" in str(errors[0])
    tag = ovh_tag("voicemail-42:confirmation")
    lookups = [r for r in fake_ovh.requests if r[1].endswith(f"/outgoing?tag={tag}")]
    assert len(lookups) == 2
    assert not result.duplicate
    assert len(fake_ovh.jobs) == 1 and result.message_id == str(fake_ovh.jobs[0].id)
    row = activities.ledger.get("voicemail-42:confirmation")
    assert row is not None and row["state"] == "sent" and row["attempts"] == 3
    # A later replay of the same step (workflow reset, duplicate task) sends nothing.
    again = run(activities, confirmation())
    assert again.duplicate and again.message_id == result.message_id
    assert len(fake_ovh.jobs) == 1
    posts = [r for r in fake_ovh.requests if r[0] == "POST"]
    assert len(posts) == 3


def test_ovh_400_is_not_retried(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.fail_next(400, message="Invalid receiver +33612345678", error_code="INVALID_RECEIVER")
    err = expect_application_error(
        lambda: run_with_retries(activities, confirmation()), SMS_REJECTED
    )
    assert "HTTP 400" in str(err)
    assert "612345678" not in str(err)  # numbers in provider messages are redacted
    assert fake_ovh.jobs == []


def test_ovh_invalid_receiver_is_a_rejection(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.invalid_receivers.add(MOBILE)
    err = expect_application_error(lambda: run(activities, confirmation()), SMS_REJECTED)
    assert "destinataire" in str(err)


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, SmsUncertainError), (502, SmsUncertainError), (429, SmsNotSentError)],
)
def test_ovh_transient_statuses_are_retried(
    fake_ovh: FakeOvhApi, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.fail_next(status)
    result, errors = run_with_retries(activities, confirmation())
    assert len(errors) == 1 and isinstance(errors[0], error)
    assert len(fake_ovh.jobs) == 1 and not result.duplicate


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_ovh_5xx_after_accepting_is_looked_up_not_resent(
    fake_ovh: FakeOvhApi, tmp_path: Path, status: int
) -> None:
    """OVH accepted the job, then the gateway answered 5xx: the retry finds the job by its tag
    and sends nothing (issue 18, point 5)."""
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.accept_then_fail(status)
    result, errors = run_with_retries(activities, confirmation())
    assert [type(e) for e in errors] == [SmsUncertainError]
    assert len(fake_ovh.jobs) == 1
    assert result.duplicate and result.message_id == str(fake_ovh.jobs[0].id)
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "sent"  # type: ignore[index]


def test_ovh_job_recorded_late_is_not_resent_before_settling(
    fake_ovh: FakeOvhApi, tmp_path: Path
) -> None:
    """Right after an ambiguous failure the provider gets `settle_s` to record the job: an
    attempt before then backs off (retryable) instead of looking up and sending again."""
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path, settle_s=3600)
    fake_ovh.fail_next(504)
    with pytest.raises(SmsUncertainError):
        run(activities, confirmation())
    with pytest.raises(SmsInFlightError):
        run(activities, confirmation())
    assert fake_ovh.jobs == []
    assert [r for r in fake_ovh.requests if r[0] == "POST"] == [
        ("POST", f"/sms/{fake_ovh.service_name}/jobs")
    ]


def test_ovh_clock_step_reads_the_offset_again_and_retries_once(
    fake_ovh: FakeOvhApi, tmp_path: Path
) -> None:
    """After a step of the host's clock OVH answers 400 "Query out of time": the backend reads
    /auth/time again and retries, instead of taking every SMS as rejected until a restart
    (issue 18, point 6)."""
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    assert not run(activities, confirmation()).duplicate
    fake_ovh.step_clock(900)
    second = run(activities, confirmation(key="voicemail-43:confirmation"))
    assert not second.duplicate
    assert len(fake_ovh.jobs) == 2
    assert [status for status, _ in fake_ovh.rejected] == [400]
    times = [r for r in fake_ovh.requests if r == ("GET", "/auth/time")]
    assert len(times) == 2
    # Lookups and replies are signed the same way: they survive a step too.
    fake_ovh.step_clock(-1800)
    assert OvhBackend(fake_ovh.settings()).list_incoming() == []
    assert check(activities, second.message_id).status in {"pending", "delivered"}


def test_ovh_clock_still_refused_is_transient_not_a_rejection(tmp_path: Path) -> None:
    """A timestamp refused again after the offset was re-read (the clock is still moving) is
    worth a later retry; nothing was sent."""
    with FakeOvhApi() as fake:
        activities = make_activities(OvhBackend(fake.settings(endpoint="fake-ovh-skew")), tmp_path)
        fake.max_skew_s = -1  # every timestamp is out of time
        with pytest.raises(SmsNotSentError, match="horloge"):
            run(activities, confirmation())
        assert fake.jobs == []
        assert activities.ledger.get("voicemail-42:confirmation")["state"] == "failed"  # type: ignore[index]


@pytest.mark.parametrize("pending", [False, True])
def test_ovh_lost_answer_is_reconciled_not_resent(
    fake_ovh: FakeOvhApi, tmp_path: Path, pending: bool
) -> None:
    """The job went through but the answer was lost: the retry finds it (outgoing by tag, or
    the pending jobs) and sends nothing."""
    fake_ovh.keep_pending = pending
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    fake_ovh.drop_next()
    result, errors = run_with_retries(activities, confirmation())
    assert [type(e) for e in errors] == [SmsUncertainError]
    assert len(fake_ovh.jobs) == 1
    assert result.duplicate and result.message_id == str(fake_ovh.jobs[0].id)
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "sent"  # type: ignore[index]


def test_ovh_unreachable_is_retryable_and_not_sent(tmp_path: Path) -> None:
    fake = FakeOvhApi().start()
    settings = fake.settings(endpoint="fake-ovh-down")
    fake.stop()
    activities = make_activities(OvhBackend(settings), tmp_path)
    with pytest.raises(SmsNotSentError):
        run(activities, confirmation())
    assert activities.ledger.get("voicemail-42:confirmation")["state"] == "failed"  # type: ignore[index]


def test_ovh_incoming_and_delivery_routes(fake_ovh: FakeOvhApi) -> None:
    backend = OvhBackend(fake_ovh.settings())
    job_id = backend.send(MOBILE, "Bonjour", "k-routes")
    fake_ovh.set_delivery_receipt(int(job_id), 1)
    incoming_id = fake_ovh.add_incoming(MOBILE, "ANNULER")
    client = ovh.Client(
        endpoint="fake-ovh",
        application_key=fake_ovh.application_key,
        application_secret=fake_ovh.application_secret,
        consumer_key=fake_ovh.consumer_key,
    )
    base = f"/sms/{fake_ovh.service_name}"
    assert client.get(f"{base}/outgoing/{job_id}")["deliveryReceipt"] == 1
    assert client.get(f"{base}/incoming", sender=MOBILE) == [incoming_id]
    assert client.get(f"{base}/incoming/{incoming_id}")["message"] == "ANNULER"
    client.delete(f"{base}/incoming/{incoming_id}")
    assert client.get(f"{base}/incoming") == []
    with pytest.raises(ovh.exceptions.ResourceNotFoundError):
        client.get("/sms/sms-other-1/jobs")


# --------------------------------------------------------------------------- delivery


@pytest.mark.parametrize(
    ("receipt", "ptt", "status"),
    [
        (0, 0, SmsDeliveryStatus.PENDING),
        (4, 0, SmsDeliveryStatus.PENDING),
        (8, 0, SmsDeliveryStatus.PENDING),
        (1, 0, SmsDeliveryStatus.DELIVERED),
        (2, 13, SmsDeliveryStatus.FAILED),
        (16, 2, SmsDeliveryStatus.FAILED),
    ],
)
def test_ovh_delivery_report(
    fake_ovh: FakeOvhApi, tmp_path: Path, receipt: int, ptt: int, status: str
) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    sent = run(activities, confirmation())
    fake_ovh.set_delivery(sent.message_id, receipt, ptt)
    result = check(activities, sent.message_id, "ovh")
    assert (result.status, result.message_id) == (status, sent.message_id)
    assert f"accusé de réception {receipt}" in result.detail
    assert (f"code PTT {ptt}" in result.detail) == bool(ptt)
    assert "612345678" not in result.detail
    path = f"/sms/{fake_ovh.service_name}/outgoing/{sent.message_id}"
    assert ("GET", path) in fake_ovh.requests and fake_ovh.rejected == []


def test_ovh_job_still_queued_is_pending(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    fake_ovh.keep_pending = True
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    sent = run(activities, confirmation())
    result = check(activities, sent.message_id)
    assert result.status == SmsDeliveryStatus.PENDING and "file d'attente" in result.detail
    fake_ovh.flush_pending()
    fake_ovh.set_delivery(sent.message_id, 1)
    assert check(activities, sent.message_id).status == SmsDeliveryStatus.DELIVERED


def test_ovh_message_unknown_everywhere_is_failed(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    sent = run(activities, confirmation())
    fake_ovh.forget_job(sent.message_id)
    result = check(activities, sent.message_id)
    assert result.status == SmsDeliveryStatus.FAILED and "inconnu" in result.detail


def test_ovh_delivery_4xx_is_permanent_5xx_retried(fake_ovh: FakeOvhApi, tmp_path: Path) -> None:
    activities = make_activities(OvhBackend(fake_ovh.settings()), tmp_path)
    sent = run(activities, confirmation())
    fake_ovh.set_delivery(sent.message_id, 1)
    fake_ovh.fail_next(503, times=2, method="GET", path=r"/outgoing/")
    for _ in range(2):
        with pytest.raises(SmsNotSentError, match="503"):
            check(activities, sent.message_id)
    assert check(activities, sent.message_id).status == SmsDeliveryStatus.DELIVERED
    fake_ovh.fail_next(403, method="GET", path=r"/outgoing/", error_code="NOT_GRANTED_CALL")
    err = expect_application_error(lambda: check(activities, sent.message_id), SMS_LOOKUP_REJECTED)
    assert "403" in str(err)


def test_ovh_delivery_unreachable_is_retryable(tmp_path: Path) -> None:
    fake = FakeOvhApi().start()
    settings = fake.settings(endpoint="fake-ovh-down-dlr")
    fake.stop()
    activities = make_activities(OvhBackend(settings), tmp_path)
    with pytest.raises(SmsNotSentError):
        check(activities, "100001")


def test_ovh_delivery_status_fields() -> None:
    assert ovh_delivery_status({"deliveryReceipt": None})[0] == SmsDeliveryStatus.PENDING
    assert ovh_delivery_status({"deliveryReceipt": "2"})[0] == SmsDeliveryStatus.FAILED
    delivered_at = {"deliveryReceipt": 0, "deliveredAt": "2026-11-25T10:00:00+01:00"}
    assert ovh_delivery_status(delivered_at)[0] == SmsDeliveryStatus.DELIVERED


# --------------------------------------------------------------------------- incoming


def test_ovh_incoming_list_get_delete(fake_ovh: FakeOvhApi) -> None:
    backend = OvhBackend(fake_ovh.settings())
    first = fake_ovh.add_incoming(MOBILE, "ANNULER")
    second = fake_ovh.add_incoming("+33700000000", "2")
    assert backend.list_incoming() == [first, second]
    record = backend.get_incoming(first)
    assert record["id"] == str(first) and record["sender"] == MOBILE
    assert record["message"] == "ANNULER" and record["creationDatetime"]
    backend.delete_incoming(first)
    backend.delete_incoming(first)  # already gone: fine
    assert backend.list_incoming() == [second]
    with pytest.raises(SmsNotFoundError):
        backend.get_incoming(first)
    assert fake_ovh.rejected == []
    fake_ovh.fail_next(403, method="GET", path=r"/incoming$")
    with pytest.raises(SmsRejectedError):
        backend.list_incoming()
