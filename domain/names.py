"""Stable names shared by workflows, workers and clients.

Workflows call activities by these names (not by importing the activity modules) so that a
workflow module never pulls whisper, shapely, SQL or HTTP code into the sandbox; the list of
those they call is `workflows.calls.ALL_CALLS`."""

# Activities (each matches an `@activity.defn(name=...)`).
TRANSCRIBE = "transcribe_voicemail"
UNDERSTAND = "understand_message"
GEOCODE = "geocode_address"
TERRITORY_REFERENCE = "territory_reference"
BOOK = "book_pickup"
SEND_SMS = "send_sms"
ANSWER_QUESTION = "answer_question"
# Address resolution (issue 3): gazetteer candidates, audio scoring, calibrated decision.
PROPOSE_ADDRESSES = "propose_addresses"
SCORE_ADDRESS_CANDIDATES = "score_address_candidates"
RESOLVE_ADDRESS = "resolve_address"
REFINE_ITEMS = "refine_items"
# SMS lifecycle: delivery reports, incoming replies, cancellation.
CHECK_SMS_DELIVERY = "check_sms_delivery"
POLL_INCOMING_SMS = "poll_incoming_sms"
# A case that takes over a number another case texted (the booking follow-up) listens to its
# replies: the routes table row that `send_sms` writes for the case that sends.
LISTEN_FOR_SMS_REPLIES = "listen_for_sms_replies"
CANCEL_BOOKING = "cancel_booking"
BOOKING_STATUS = "booking_status"
CALL_CENTRE_OPENING = "call_centre_opening"
# Missed calls: does the caller already have a pickup booked?
FIND_UPCOMING_BOOKING = "find_upcoming_booking"
# Live calls: the dialogue itself, run by the telephony process that holds the call's media.
RUN_LIVE_CALL = "run_live_call"
# Agents act on bookings (move, cancel, items) and read a case's voicemail (issue 20).
DESCRIBE_BOOKING = "describe_booking"
MOVE_BOOKING = "move_booking"
CHANGE_BOOKING_ITEMS = "change_booking_items"
AUDIO_LINK = "audio_link"
# The crews' route sheets, written daily at the cut-off.
EXPORT_ROUTE_SHEETS = "export_route_sheets"

# Workflows.
VOICEMAIL_WORKFLOW = "VoicemailWorkflow"
# An SMS that no running case is waiting for: kept for an agent, never dropped.
INCOMING_SMS_WORKFLOW = "IncomingSmsWorkflow"
SMS_POLL_WORKFLOW = "SmsPollWorkflow"
# After a booking is confirmed: delivery report, replies (ANNULER), the eve reminder.
BOOKING_FOLLOW_UP_WORKFLOW = "BookingFollowUpWorkflow"
# One case per calling number; further missed calls join it by signal-with-start.
MISSED_CALL_WORKFLOW = "MissedCallWorkflow"
MISSED_CALL_SIGNAL = "missed_call"
# A call the bot answers itself (dialogue), one per call.
LIVE_CALL_WORKFLOW = "LiveCallWorkflow"
# The daily route sheets of the crews (Schedule `encombot-route-sheets`).
ROUTE_SHEETS_WORKFLOW = "RouteSheetExportWorkflow"


def voicemail_workflow_id(call_id: str) -> str:
    return f"voicemail-{call_id}"


def live_call_workflow_id(call_id: str) -> str:
    return f"live-call-{call_id}"


def booking_follow_up_workflow_id(call_id: str) -> str:
    # The call that made the booking, not its reference: workflow ids are stored in clear,
    # and the reference is the caller's (it is in their SMS).
    return f"booking-{call_id}"


def incoming_sms_workflow_id(message_id: str) -> str:
    return f"sms-{message_id}"


# Updates, queries.
RESOLVE_UPDATE = "resolve"
# An agent takes a queued case (and gives it back): two agents never call the same person.
CLAIM_UPDATE = "claim"
RELEASE_UPDATE = "release"
# An agent moves, cancels or changes the items of a booking (its follow-up workflow).
CHANGE_BOOKING_UPDATE = "change_booking"
SMS_REPLY_SIGNAL = "sms_reply"
STATE_QUERY = "state"

# Search attributes (never personal data in them), with their Temporal types.
SA_STATUS = "EncombotStatus"
SA_REASON = "EscalationReason"
SA_SECTOR = "Sector"
SA_NEEDS_AGENT = "NeedsAgent"
SA_WAITING_SINCE = "WaitingSince"
# Keyed hash of the phone numbers a case has texted (never the number itself): how an
# incoming SMS finds the workflow waiting for it.
SA_SMS_PHONE_KEY = "SmsPhoneKey"
# The telephony call ids a missed-call case gathers (opaque ids, never a number).
SA_CALL_IDS = "CallIds"
# The agent id holding a queued case (an id, not personal data); unset when nobody holds it.
SA_ASSIGNED_TO = "AssignedTo"
# Keyed hashes (domain.phone.phone_key) of a booking's reference and of its caller's numbers:
# how an agent finds the follow-up of a booking, the server never seeing either in clear.
SA_BOOKING_KEYS = "BookingKeys"

SEARCH_ATTRIBUTES: dict[str, str] = {
    SA_STATUS: "Keyword",
    SA_REASON: "Keyword",
    SA_SECTOR: "Keyword",
    SA_NEEDS_AGENT: "Bool",
    SA_WAITING_SINCE: "Datetime",
    SA_SMS_PHONE_KEY: "KeywordList",
    SA_CALL_IDS: "KeywordList",
    SA_ASSIGNED_TO: "Keyword",
    SA_BOOKING_KEYS: "KeywordList",
}
