"""What may be read in clear in the Temporal server's data.

Every payload and every failure message is encrypted by the workers' data converter
(workers/codec/payload.py). One exception: an `ApplicationError` whose type is listed below keeps
its *message* readable, because the Temporal Web UI shows an Update's rejection without asking the
codec server to decode it (UI 2.54: an encrypted message would read "Encoded failure"). Its
stack trace and details stay encrypted.

Rule for the code that raises these types: the message names the rule that was broken, never
the value that broke it (no address, number, name, item list: "Numéro de voie manquant", not
"Numéro de voie invalide « 12 rue X »"); anything specific goes into the error's details,
which are encrypted payloads."""

# The `resolve` Update's validator refused an agent's correction (the workflow keeps waiting).
CORRECTION_REJECTED = "CorrectionRejected"

PUBLIC_MESSAGE_TYPES = frozenset({CORRECTION_REJECTED})
