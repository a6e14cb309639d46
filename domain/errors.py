"""Error types carried by `ApplicationError(type=...)`. Stable names: the workflow branches on
them and ops filter on them."""

AUDIO_UNUSABLE = "AudioUnusable"
MODEL_UNAVAILABLE = "ModelUnavailable"
UNDERSTAND_FAILED = "UnderstandFailed"
GAZETTEER_UNAVAILABLE = "GazetteerUnavailable"
INVALID_ADDRESS = "InvalidAddress"
BOOKING_REJECTED = "BookingRejected"
SMS_REJECTED = "SmsRejected"  # the provider refused the message (4xx): never retried
SMS_NOT_MOBILE = "SmsNotMobile"  # the number cannot receive SMS (landline, special number)
SMS_TOO_LONG = "SmsTooLong"
# The provider may or may not have sent it and cannot tell: a person checks, no resend.
SMS_UNCERTAIN = "SmsUncertain"
TEMPLATE_ERROR = "TemplateError"
CONFIG_ERROR = "ConfigError"
# The provider refused a lookup for good (4xx on a delivery report or an incoming message: the
# consumer key lacks the right, another service's id): retrying cannot help, a person checks.
SMS_LOOKUP_REJECTED = "SmsLookupRejected"
