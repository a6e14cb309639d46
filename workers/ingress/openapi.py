"""The hand-written parts of the OpenAPI spec. The routes read their bodies raw (the signature
covers the exact bytes), so FastAPI cannot derive the request bodies: they are declared here,
with the error answers and the two signature headers as security schemes."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from domain.webhook_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER
from workers.ingress.schemas import (
    ErrorResponse,
    IncomingSmsRequest,
    MissedCallRequest,
    VoicemailFields,
    VoicemailUrlRequest,
)

API_DESCRIPTION = f"""Webhooks de la téléphonie vers encombot (Temporal).

**Signature** (toutes les requêtes POST ; GET /calls pour le détail) : en-têtes
`{TIMESTAMP_HEADER}` (secondes Unix) et `{SIGNATURE_HEADER}: v2=<hex>` où `<hex>` est
HMAC-SHA256(secret partagé, "<horodatage>\\n<MÉTHODE>\\n<chemin>\\n" + corps brut).
Hors de la fenêtre de rejeu : 401 ; une signature déjà reçue (POST) : 409.

**Idempotence** : par `call_id` (et `message_id` pour les SMS) ; un webhook rejoué renvoie le
même workflow.
"""

_WHY = {
    401: "Signature absente, invalide ou périmée",
    404: "Appel inconnu",
    408: "Corps reçu trop lentement",
    409: "Requête déjà reçue (signature rejouée)",
    429: "Trop de requêtes de ce client",
    413: "Corps trop volumineux",
    415: "Type de contenu non pris en charge",
    422: "Contenu invalide (raisons dans `detail`)",
    502: "Audio distant injoignable",
    503: "Temporal indisponible, ou trop d'envois simultanés",
}


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")


def voicemail_multipart_schema() -> dict[str, Any]:
    fields = json_schema(VoicemailFields)
    return {
        "type": "object",
        "required": [*fields.get("required", []), "audio"],
        "properties": {
            **fields["properties"],
            "audio": {
                "type": "string",
                "format": "binary",
                "description": "L'enregistrement (WAV, MP3, OGG, FLAC, AMR, M4A ou WebM).",
            },
        },
    }


def signed_body(*content: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """`openapi_extra` of a signed POST: its request body by media type, and the signature."""
    return {
        "requestBody": {
            "required": True,
            "content": {media: {"schema": schema} for media, schema in content},
        },
        "security": [{"timestamp": [], "signature": []}],
    }


def responses(ok: int, model: type[BaseModel], *errors: int) -> dict[int | str, Any]:
    out: dict[int | str, Any] = {ok: {"model": model, "description": "Accepté"}}
    for code in errors:
        out[code] = {"model": ErrorResponse, "description": _WHY[code]}
    return out


def install_openapi(app: FastAPI) -> None:
    """The app's spec: FastAPI's, plus the request models and the security schemes."""

    def custom_openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for model in (MissedCallRequest, VoicemailUrlRequest, IncomingSmsRequest):
            schemas.setdefault(model.__name__, json_schema(model))
        components["securitySchemes"] = {
            "timestamp": {
                "type": "apiKey",
                "in": "header",
                "name": TIMESTAMP_HEADER,
                "description": "Heure de la requête, secondes Unix.",
            },
            "signature": {
                "type": "apiKey",
                "in": "header",
                "name": SIGNATURE_HEADER,
                "description": 'v1=hex(HMAC-SHA256(secret, "<horodatage>." + corps)).',
            },
        }
        app.openapi_schema = schema
        return schema

    app.openapi = custom_openapi  # type: ignore[method-assign]
