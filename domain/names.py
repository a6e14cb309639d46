"""Stable names shared by workflows, workers and clients.

Workflows call activities by these names (not by importing the activity modules) so that a
workflow module never pulls whisper, shapely, SQL or HTTP code into the sandbox."""

# Activities (each matches an `@activity.defn(name=...)`).
TRANSCRIBE = "transcribe_voicemail"
UNDERSTAND = "understand_message"
GEOCODE = "geocode_address"
TERRITORY_REFERENCE = "territory_reference"
BOOK = "book_pickup"
SEND_SMS = "send_sms"
ANSWER_QUESTION = "answer_question"

ALL_ACTIVITIES = (
    TRANSCRIBE,
    UNDERSTAND,
    GEOCODE,
    TERRITORY_REFERENCE,
    BOOK,
    SEND_SMS,
    ANSWER_QUESTION,
)

# Workflows.
VOICEMAIL_WORKFLOW = "VoicemailWorkflow"


def voicemail_workflow_id(call_id: str) -> str:
    return f"voicemail-{call_id}"


# Updates, queries.
RESOLVE_UPDATE = "resolve"
SMS_REPLY_SIGNAL = "sms_reply"
STATE_QUERY = "state"

# Search attributes (never personal data in them), with their Temporal types.
SA_STATUS = "EncombotStatus"
SA_REASON = "EscalationReason"
SA_SECTOR = "Sector"
SA_NEEDS_AGENT = "NeedsAgent"
SA_WAITING_SINCE = "WaitingSince"

SEARCH_ATTRIBUTES: dict[str, str] = {
    SA_STATUS: "Keyword",
    SA_REASON: "Keyword",
    SA_SECTOR: "Keyword",
    SA_NEEDS_AGENT: "Bool",
    SA_WAITING_SINCE: "Datetime",
}
