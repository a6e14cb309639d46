"""A minimal SIP user agent server (UDP) with G.711 RTP: real SIP phones call the bot directly.

Enough SIP for a softphone or a SIP trunk to reach the dialogue without Asterisk, and for tests
to drive it with real peers (baresip, sipp): every call is answered (100 Trying, then 200 OK
with an SDP answer: PCMU/PCMA, payloads 0/8, and RFC 4733 telephone-event), the media starts on
the ACK, BYE/CANCEL/OPTIONS/re-INVITE/INFO are answered, and the bot's hangup sends a BYE. An
INVITE without SDP gets our offer in the 200 OK (PCMU, PCMA, telephone-event 101) and the answer
is read from the ACK. No registration, authentication, TCP/TLS, forking or route sets: behind a
trunk or a PBX those are the far end's business. Responses go back to where requests came from
(and rport is honoured), so NAT and a sloppy Via do not matter; in-dialog requests are taken
only from that same address, with the dialog's tags and CSeq order.

Reliability over UDP: the 200 OK is retransmitted (T1 doubling to T2) until the ACK, retransmitted
requests get the same response again, and our BYE is retransmitted until answered.

The package: message.py (parsing and rendering SIP messages), sdp.py (SDP offer/answer, G.711
negotiation, address checks), dialog.py (a call's dialog, which requests are its peer's, and its
media session), policy.py and guard.py (what the network may do: media networks, ACK timeout,
per-source rates, symmetric RTP), transactions.py (retransmissions of our 200 OK and BYE),
server.py (the UAS: requests, call cap), listen.py (`serve_sip`).
"""
