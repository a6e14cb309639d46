"""The speech engine: the one Whisper model of a process (model.py, engine.py), the audio it
reads (audio.py), transcription (transcriber.py), forced scoring of what may have been said
(scoring.py, address.py, items.py, second_pass.py) and speech synthesis for live calls
(tts.py). The activities that use it are declared in activities/transcribe.py,
activities/address_scoring.py and activities/item_refinement.py."""
