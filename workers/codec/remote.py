"""A payload codec that asks the codec server (`encombot codec-server`) to encode and decode:
what `encombot agent …` uses on an agent's machine, which holds no encryption key. Same wire
format as the Temporal UI's (`POST /encode`, `POST /decode`, `X-Namespace`, optional bearer
token), so the agent's CLI reads and writes exactly what the UI does, and the keys stay on the
codec server."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import httpx
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import DataConverter, PayloadCodec

from workers.codec.payload import EncodedFailureConverter


class CodecServerError(RuntimeError):
    """The codec server could not be reached or refused (the message says which, in French)."""


class RemoteCodec(PayloadCodec):
    def __init__(
        self, endpoint: str, namespace: str, token: str = "", timeout_s: float = 10.0
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.namespace = namespace
        self._headers = {"X-Namespace": namespace, "Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self._call("encode", payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self._call("decode", payloads)

    async def _call(self, what: str, payloads: Sequence[Payload]) -> list[Payload]:
        if not payloads:
            return []
        body = json_format.MessageToJson(Payloads(payloads=list(payloads)))
        url = f"{self.endpoint}/{what}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as http:
                response = await http.post(url, content=body, headers=self._headers)
        except httpx.HTTPError as exc:
            raise CodecServerError(
                f"serveur de chiffrement injoignable ({self.endpoint}) : {type(exc).__name__}"
            ) from None
        if response.status_code == 401:
            raise CodecServerError(
                "serveur de chiffrement : jeton refusé (ENCOMBOT_CODEC__SERVER__TOKEN)"
            )
        if response.status_code == 404 and what == "encode":
            raise CodecServerError(
                "serveur de chiffrement : /encode désactivé "
                "(ENCOMBOT_CODEC__SERVER__ENABLE_ENCODE=true pour les agents sans clé)"
            )
        if response.status_code != 200:
            raise CodecServerError(
                f"serveur de chiffrement : réponse {response.status_code} à /{what}"
            )
        out = json_format.Parse(response.text, Payloads())
        return list(out.payloads)


def remote_data_converter(endpoint: str, namespace: str, token: str = "") -> DataConverter:
    """The workers' data converter, with the codec server in place of the keys."""
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=RemoteCodec(endpoint, namespace, token),
        failure_converter_class=EncodedFailureConverter,
    )
