"""A real HTTP server in a thread answering like The Odds API v4 (and NBA.com's commonallplayers) from the recorded
bodies in fixtures/the_odds_api, with scripted replies per path for errors, postponements and changed boards."""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pandas as pd

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "the_odds_api"
ERRORS = json.loads((FIXTURES / "errors.json").read_text())


class OddsServer:
    """`events` and `odds[event_id]` are the recorded bodies (edit them to change the board); `script[path suffix]`
    is a list of (status, body) replies given in turn before the recorded answer. Every request is in `seen`."""

    def __init__(self):
        self.events = json.loads((FIXTURES / "events.json").read_text())
        self.odds = {p.stem.removeprefix("event_odds_"): json.loads(p.read_text()) for p in FIXTURES.glob("event_odds_*.json")}
        self.players = json.loads((FIXTURES / "CommonAllPlayers_2023-24.json").read_text())
        self.script: dict[str, list[tuple[int, object]]] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.used = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                server.seen.append((url.path, params))
                status, body = server.answer(url.path, params)
                text = json.dumps(body).encode() if not isinstance(body, bytes) else body
                self.send_response(status)
                if url.path.startswith("/v4/") and status != 401:
                    cost = 1 if url.path.endswith("/odds") and status == 200 else 0
                    server.used += cost
                    self.send_header("x-requests-used", str(server.used))
                    self.send_header("x-requests-remaining", str(500 - server.used))
                    self.send_header("x-requests-last", str(cost))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, object]:
        for suffix, replies in self.script.items():
            if path.endswith(suffix) and replies:
                return replies.pop(0)
        if path.endswith("/commonallplayers"):
            return 200, self.players
        if params.get("apiKey") != "test-key":
            return 401, ERRORS["401_invalid_key"]
        if path.endswith("/events"):
            when = pd.to_datetime([e["commence_time"] for e in self.events], utc=True)
            low, high = pd.Timestamp(params["commenceTimeFrom"]), pd.Timestamp(params["commenceTimeTo"])
            return 200, [e for e, t in zip(self.events, when) if low <= t <= high]
        event_id = path.split("/")[-2]
        event = next((e for e in self.events if e["id"] == event_id), None)
        if event is None:
            return 404, ERRORS["404_event"]
        # an event without a recording: listed, with no props posted yet (the vendor's shape: no bookmakers)
        recorded = self.odds.get(event_id) or {**{k: event[k] for k in ("id", "sport_key", "sport_title", "commence_time", "home_team", "away_team")}, "bookmakers": []}
        return 200, copy.deepcopy(recorded)

    def __enter__(self) -> OddsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def paths(self, suffix: str) -> list[str]:
        return [p for p, _ in self.seen if p.endswith(suffix)]
