"""Telephony adapters: what carries a live call's audio to the dialogue.

Both implement domain.media.MediaSession: Asterisk AudioSocket (audiosocket.py, production) and a
minimal SIP UAS with G.711 RTP (sip/, rtp.py, g711.py: real SIP clients in tests, small
deployments). playout.py is the paced-playout and inbound-event core they share.
"""
