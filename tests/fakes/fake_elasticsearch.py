"""A fake Elasticsearch 8 on 127.0.0.1, for the real `elasticsearch` client and haystack's
`ElasticsearchDocumentStore`: enough of the REST API to create an index, bulk-write documents
and search them, recording every request so tests can assert what was sent.

Routes: GET / (cluster info, with the X-Elastic-Product header the client checks), HEAD/PUT/
DELETE /{index}, POST /_bulk and /{index}/_bulk (NDJSON), GET|POST /{index}/_count,
POST /{index}/_refresh, POST /{index}/_search with `knn` (cosine, scored (1 + cos) / 2 as
Elasticsearch does) or a `multi_match` query (scored by shared terms, weighted by rarity: a
stand-in for BM25, not a copy of it).

    with FakeElasticsearch() as es:
        settings = FaqSettings(backend="elasticsearch", elasticsearch_url=es.url)
        ...
        assert es.requests_to("PUT", "/encombot-faq")[0].body["settings"]["analysis"]
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

_WORD = re.compile(r"[^\W_]+")
CONTENT_TYPE = "application/vnd.elasticsearch+json;compatible-with=8"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeIndex:
    settings: dict[str, Any]
    mappings: dict[str, Any]
    docs: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeElasticsearch:
    def __init__(self) -> None:
        self.indices: dict[str, FakeIndex] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                status, payload = fake.handle(self.command, parts.path, parse_qs(parts.query), raw)
                body = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeElasticsearch:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # ------------------------------------------------------------------ routes

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], raw: str
    ) -> tuple[int, Any]:
        body: Any = raw
        if raw and not path.endswith("/_bulk"):
            body = json.loads(raw)
        with self._lock:
            self.requests.append(Recorded(method, path, query, body))
            parts = [p for p in path.split("/") if p]
            if not parts:
                return 200, {
                    "name": "fake",
                    "cluster_name": "fake",
                    "version": {"number": "8.15.0", "build_flavor": "default"},
                    "tagline": "You Know, for Search",
                }
            if parts[-1] == "_bulk":
                return self._bulk(parts[0] if len(parts) == 2 else "", raw)
            name = parts[0]
            if len(parts) == 1:
                return self._index_op(method, name, query, body)
            index = self.indices.get(name)
            if index is None:
                return 404, _error("index_not_found_exception", name)
            action = parts[1]
            if action == "_count":
                return 200, {"count": len(index.docs)}
            if action == "_refresh":
                return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
            if action == "_search":
                return 200, self._search(name, index, body or {})
            return 400, _error("unsupported", path)

    def _index_op(
        self, method: str, name: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if method == "HEAD":
            return (200 if name in self.indices else 404), None
        if method == "PUT":
            if name in self.indices:
                return 400, _error("resource_already_exists_exception", name)
            body = body or {}
            self.indices[name] = FakeIndex(body.get("settings", {}), body.get("mappings", {}))
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": name}
        if method == "DELETE":
            if name not in self.indices:
                if query.get("ignore_unavailable") == ["true"]:
                    return 200, {"acknowledged": True}
                return 404, _error("index_not_found_exception", name)
            del self.indices[name]
            return 200, {"acknowledged": True}
        if method == "GET" and name in self.indices:
            index = self.indices[name]
            return 200, {name: {"settings": index.settings, "mappings": index.mappings}}
        return 404, _error("index_not_found_exception", name)

    def _bulk(self, default_index: str, raw: str) -> tuple[int, Any]:
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        items = []
        i = 0
        while i < len(lines):
            ((op, meta),) = lines[i].items()
            name = meta.get("_index", default_index)
            doc_id = meta["_id"]
            index = self.indices.get(name)
            if op == "delete":
                if index:
                    index.docs.pop(doc_id, None)
                items.append({op: {"_index": name, "_id": doc_id, "status": 200}})
                i += 1
                continue
            source = lines[i + 1]
            i += 2
            if index is None:
                items.append(
                    {
                        op: {
                            "_id": doc_id,
                            "status": 404,
                            "error": {"type": "index_not_found_exception"},
                        }
                    }
                )
                continue
            if op == "create" and doc_id in index.docs:
                items.append(
                    {
                        op: {
                            "_index": name,
                            "_id": doc_id,
                            "status": 409,
                            "error": {"type": "version_conflict_engine_exception"},
                        }
                    }
                )
                continue
            index.docs[doc_id] = source
            items.append({op: {"_index": name, "_id": doc_id, "status": 201, "result": "created"}})
        errors = any("error" in next(iter(item.values())) for item in items)
        return 200, {"took": 1, "errors": errors, "items": items}

    def _search(self, name: str, index: FakeIndex, body: dict[str, Any]) -> dict[str, Any]:
        scored: list[tuple[float, str]] = []
        if "knn" in body:
            knn = body["knn"]
            q = knn["query_vector"]
            qn = math.sqrt(sum(x * x for x in q)) or 1.0
            for doc_id, doc in index.docs.items():
                emb = doc.get(knn["field"])
                if not emb:
                    continue
                dn = math.sqrt(sum(x * x for x in emb)) or 1.0
                cos = sum(a * b for a, b in zip(q, emb, strict=True)) / (qn * dn)
                scored.append(((1 + cos) / 2, doc_id))
            scored.sort(reverse=True)
            scored = scored[: knn["k"]]
        else:
            text = _find_query_text(body.get("query", {}))
            terms = set(_WORD.findall(text.lower()))
            docs = {
                i: Counter(_WORD.findall(str(d.get("content") or "").lower()))
                for i, d in index.docs.items()
            }
            df = Counter(t for c in docs.values() for t in c)
            for doc_id, counts in docs.items():
                score = sum(math.log(1 + len(docs) / df[t]) for t in terms if t in counts)
                if score > 0:
                    scored.append((score, doc_id))
            scored.sort(reverse=True)
        start = int(body.get("from", 0))
        size = int(body.get("size", 10))  # as Elasticsearch: 10 hits a page unless told
        page = scored[start : start + size]
        return {
            "took": 1,
            "timed_out": False,
            "hits": {
                "total": {"value": len(scored), "relation": "eq"},
                "max_score": page[0][0] if page else None,
                "hits": [
                    {"_index": name, "_id": i, "_score": s, "_source": index.docs[i]}
                    for s, i in page
                ],
            },
        }


def _find_query_text(query: Any) -> str:
    if isinstance(query, dict):
        if "multi_match" in query:
            return str(query["multi_match"].get("query", ""))
        for value in query.values():
            found = _find_query_text(value)
            if found:
                return found
    if isinstance(query, list):
        for value in query:
            found = _find_query_text(value)
            if found:
                return found
    return ""


def _error(kind: str, what: str) -> dict[str, Any]:
    return {"error": {"type": kind, "reason": f"{kind}: {what}"}, "status": 400}
