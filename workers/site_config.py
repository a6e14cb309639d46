"""A métropole's own values, mounted as a folder (`ENCOMBOT_CONFIG_DIR`) rather than baked
into the image, and the checks of production mode (`ENCOMBOT_PRODUCTION=true`).

The folder may hold any of (`encombot config init DIR` copies the packaged examples there):

    calendar.yaml      collection days, places, call-centre hours (BookingSettings.calendar_file)
    items.yaml         the item catalogue (BookingSettings.items_file)
    faq/               the FAQ entries and their values (FaqSettings.corpus_dir)
    templates/         the messages: sms/*.j2, voice/*.j2 (Settings.templates_dir)

What it holds replaces the packaged file for every setting left at its default; a setting given
explicitly (environment) wins over the folder. Production mode refuses to start on the
packaged examples and on the placeholders a demo runs with, each named with what to do."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from activities.config import BookingSettings, FaqSettings, SmsSettings
from corpus import CORPUS_DIR, TEMPLATES_DIR

if TYPE_CHECKING:
    from workers.settings import Settings

# What a config folder may hold, and where the packaged example of each is.
SITE_FILES = {
    "calendar.yaml": CORPUS_DIR / "calendar.yaml",
    "items.yaml": CORPUS_DIR / "items.yaml",
    "faq": CORPUS_DIR / "faq",
    "templates": TEMPLATES_DIR,
}
_PLACEHOLDER_SERVICE = SmsSettings().service_name
_PLACEHOLDER_PHONE = SmsSettings().agent_phone
# The key of the SmsPhoneKey search attribute (an HMAC key): what a token_urlsafe(32) gives.
MIN_PHONE_KEY_CHARS = 32


def apply_config_dir(settings: Settings) -> None:
    """Point the settings still at their packaged default to the folder's files (in place)."""
    folder = settings.config_dir
    if folder is None:
        return
    if not folder.is_dir():
        raise ValueError(f"ENCOMBOT_CONFIG_DIR : le dossier {folder} n'existe pas")
    booking, faq = settings.booking, settings.faq
    if (folder / "calendar.yaml").is_file() and booking.calendar_file == _default_calendar():
        booking.calendar_file = folder / "calendar.yaml"
    if (folder / "items.yaml").is_file() and booking.items_file == _default_items():
        booking.items_file = folder / "items.yaml"
    if (folder / "faq").is_dir() and faq.corpus_dir == FaqSettings().corpus_dir:
        faq.corpus_dir = folder / "faq"
    if (folder / "templates").is_dir() and settings.templates_dir == TEMPLATES_DIR:
        settings.templates_dir = folder / "templates"


def _default_calendar() -> Path:
    return BookingSettings().calendar_file


def _default_items() -> Path:
    return BookingSettings().items_file


def production_problems(settings: Settings) -> list[str]:
    """Why these settings must not serve callers (empty: fine). Production mode only."""
    problems: list[str] = []
    sms = settings.sms
    service = sms.service_name.strip()
    if not service or service == _PLACEHOLDER_SERVICE or _placeholder(service):
        problems.append(
            f"ENCOMBOT_SMS__SERVICE_NAME vaut « {service} » : le nom du service que les "
            "appelants connaissent"
        )
    phone = sms.agent_phone.strip()
    if phone == _PLACEHOLDER_PHONE or not _french_number(phone):
        problems.append(
            f"ENCOMBOT_SMS__AGENT_PHONE vaut « {phone} » : le numéro du centre d'appels cité "
            "aux appelants (un numéro français valide)"
        )
    key = sms.phone_key_secret.get_secret_value()
    if len(key) < MIN_PHONE_KEY_CHARS or _placeholder(key):
        problems.append(
            "ENCOMBOT_SMS__PHONE_KEY_SECRET est vide, trop court ou un exemple : un secret "
            "généré dans le dossier d'un hôte casse le routage des réponses SMS entre hôtes "
            '(python -c "import secrets; print(secrets.token_urlsafe(32))")'
        )
    if not settings.codec.keys or settings.codec.allow_dev_key:
        problems.append(
            "chiffrement des historiques : définissez ENCOMBOT_CODEC__KEYS (encombot codec-key) "
            "et ENCOMBOT_CODEC__ALLOW_DEV_KEY=false"
        )
    packaged = {
        "ENCOMBOT_BOOKING__CALENDAR_FILE (calendar.yaml)": settings.booking.calendar_file
        == SITE_FILES["calendar.yaml"],
        "ENCOMBOT_BOOKING__ITEMS_FILE (items.yaml)": settings.booking.items_file
        == SITE_FILES["items.yaml"],
        "ENCOMBOT_FAQ__CORPUS_DIR (faq/)": settings.faq.corpus_dir == SITE_FILES["faq"],
    }
    for name, is_example in packaged.items():
        if is_example:
            problems.append(
                f"{name} est l'exemple livré avec encombot : placez le vôtre dans "
                "ENCOMBOT_CONFIG_DIR (encombot config init DOSSIER en copie un point de départ)"
            )
    return problems


def require_shared_database(settings: Settings, url: str, what: str) -> None:
    """Production mode: `what` (the send ledger and bookings, the webhook replay cache, the
    call routes) must live in the service database every host reaches, never in a SQLite file
    on one host's disk, where another replica or host would not see it. Checked by the roles
    that use the database only (the speech workers and the codec server have none)."""
    if settings.production and url.strip().lower().startswith("sqlite"):
        raise ValueError(
            f"{what} : base SQLite locale refusée en production (un fichier sur le disque d'un "
            "hôte) ; ENCOMBOT_BOOKING__DATABASE_URL doit désigner la base PostgreSQL commune"
        )


def _placeholder(value: str) -> bool:
    return value.strip().lower().startswith(("change-me", "changeme", "xxx"))


def _french_number(value: str) -> bool:
    import phonenumbers

    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def init_config_dir(folder: Path) -> list[Path]:
    """Copy the packaged examples into `folder` (created); refuses to overwrite anything."""
    clashes = [folder / name for name in SITE_FILES if (folder / name).exists()]
    if clashes:
        raise FileExistsError(", ".join(str(p) for p in clashes))
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, source in SITE_FILES.items():
        target = folder / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("eval_*", "README.md"))
        else:
            shutil.copy2(source, target)
        written.append(target)
    return written
