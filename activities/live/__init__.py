"""The live call's engine: the calls this process holds (session.py), the caller's turns
(turns.py: VAD, pauses, keys, speculative transcription), the work of a turn run in threads
(work.py) and the dialogue run over a call's media (runner.py). The activity itself is
declared in activities/live_call.py."""
