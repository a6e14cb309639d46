"""Serving the ingress: the settings checked at start, uvicorn in the foreground (`encombot
serve`), or in a thread for tests and the demo."""

from __future__ import annotations

import threading
import time

from temporalio.runtime import Runtime

from workers.ingress.app import make_app
from workers.metrics import Metrics
from workers.secret_check import check_secret
from workers.settings import Settings


def check_settings(settings: Settings) -> None:
    """Refuse to serve without a shared secret (every POST would be refused anyway), or with a
    placeholder or weak one (anyone could sign)."""
    secret = settings.ingress.secret.get_secret_value()
    if not secret:
        raise ValueError(
            "ENCOMBOT_INGRESS__SECRET est vide : définissez le secret partagé avec la téléphonie"
        )
    check_secret("ENCOMBOT_INGRESS__SECRET", secret)
    for previous in settings.ingress.previous_secrets:
        check_secret("ENCOMBOT_INGRESS__PREVIOUS_SECRETS", previous.get_secret_value())


def run_ingress(
    settings: Settings,
    host: str,
    port: int,
    *,
    metrics: Metrics | None = None,
    runtime: Runtime | None = None,
) -> None:
    import uvicorn

    check_settings(settings)
    uvicorn.run(
        make_app(settings, metrics=metrics, runtime=runtime),
        host=host,
        port=port,
        log_level="info",
        access_log=False,  # the access log would hold GET /calls/<id> only; our log says more
        proxy_headers=True,
    )


class RunningIngress:
    """The ingress on 127.0.0.1 in a thread with its own event loop (tests, demo); its
    Temporal client is created in that loop on first use."""

    def __init__(self, settings: Settings, *, port: int = 0) -> None:
        import uvicorn

        self.app = make_app(settings)
        self._config = uvicorn.Config(
            self.app, host="127.0.0.1", port=port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(self._config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> RunningIngress:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("ingress did not start")
            time.sleep(0.02)
        sockets = self.server.servers[0].sockets
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
