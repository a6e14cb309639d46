"""Development corpus of issue 16 (point 2): seeded synthetic French voicemails with ground truth.

`python -m scripts.corpus --seed 16 --count 400 --out var/corpus/dev` (in the throw-away TTS
venv, see README.md) plans every message from the seed, writes `voicemails.json` in the schema
of `../shared/voicemails` (plus `speaker`, `condition`, `phrasing`, ... ), the synthetic BAN
extension and the audio. The planning modules (spoken, lexicon, places, templates, plan) are
pure Python (standard library only); numpy, sox, espeak-ng and Kokoro are needed only to
synthesise (synth, conditions).
"""
