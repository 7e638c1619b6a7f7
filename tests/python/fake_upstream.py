"""A tiny OpenAI-compatible model server for the SDK compatibility tests (stdlib only).

Behaviour is chosen by the upstream model name, so one server covers every case:

* any name: chat completions answer ``echo: <last user text>``; with ``tools`` (and
  ``tool_choice`` other than ``"none"``) they answer one ``get_weather`` tool call instead.
  ``stream: true`` sends SSE chunks, each flushed on its own, a usage-only chunk with
  ``choices: []`` when ``stream_options.include_usage`` is set, then ``data: [DONE]``.
* ``rate-limited``: 429 with ``Retry-After`` and an OpenAI error body.
* ``fail-500``: 500 with an OpenAI error body.
* ``error-mid-stream``: a streamed answer that sends two chunks, then an OpenAI error object
  as a ``data:`` event (as vLLM and others do when generation fails after the status line).
* ``slow-stream``: the streamed echo with ``SLOW_STREAM_DELAY_SECS`` between chunks, as a
  model generating tokens would, so a client sees (and can stop) a partial answer.

It records every request body it receives in ``FakeUpstream.requests``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROMPT_TOKENS = 11
COMPLETION_TOKENS = 7
STREAM_PROMPT_TOKENS = 5
STREAM_COMPLETION_TOKENS = 9
EMBEDDING_DIMENSIONS = 4
TOOL_NAME = "get_weather"
TOOL_ARGUMENTS = {"city": "Paris", "unit": "celsius"}
# The streamed arguments arrive in these pieces; joined they are json.dumps(TOOL_ARGUMENTS).
TOOL_ARGUMENT_PIECES = ['{"city": ', '"Paris", ', '"unit": "cel', 'sius"}']
TOOL_CALL_ID = "call_fake_1"
SLOW_STREAM_DELAY_SECS = 0.15


def reply_text(prompt: str) -> str:
    return f"echo: {prompt}"


def embedding_for(index: int, text: str) -> list[float]:
    """Deterministic floats exactly representable as f32, so base64 round-trips are exact."""
    return [float(index * 10 + d) * 0.5 + (len(text) % 7) * 0.25 for d in range(EMBEDDING_DIMENSIONS)]


def _last_user_text(body: dict[str, Any]) -> str:
    for message in reversed(body.get("messages") or []):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "".join(part.get("text", "") for part in content if isinstance(part, dict))
            return json.dumps(content)
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    # --- helpers -----------------------------------------------------------------------

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw or b"{}")
        with self.server.lock:
            self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        return body

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_error(self, status: int, message: str, kind: str, code: str | None = None,
                    headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers)

    # --- routes --------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [
                {"id": "up-chat", "object": "model", "created": 0, "owned_by": "fake"},
                {"id": "up-embed", "object": "model", "created": 0, "owned_by": "fake"},
            ]})
        else:
            self._send_error(404, f"no route GET {self.path}", "invalid_request_error", "not_found")

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        try:
            body = self._read_json()
        except (ValueError, json.JSONDecodeError):
            self._send_error(400, "body is not JSON", "invalid_request_error")
            return
        if self.path == "/v1/chat/completions":
            self._chat(body)
        elif self.path == "/v1/embeddings":
            self._embeddings(body)
        else:
            self._send_error(404, f"no route POST {self.path}", "invalid_request_error", "not_found")

    def _chat(self, body: dict[str, Any]) -> None:
        model = str(body.get("model", ""))
        if model == "rate-limited":
            self._send_error(429, "Rate limit reached for requests; slow down", "requests",
                             "rate_limit_exceeded", {"retry-after": "7"})
            return
        if model == "fail-500":
            self._send_error(500, "The upstream server had an error while processing your request.",
                             "server_error")
            return
        prompt = _last_user_text(body)
        wants_tool = isinstance(body.get("tools"), list) and body.get("tool_choice") != "none"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._chat_stream(model, prompt, wants_tool, include_usage)
            return
        if wants_tool:
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [{
                "id": TOOL_CALL_ID, "type": "function",
                "function": {"name": TOOL_NAME, "arguments": json.dumps(TOOL_ARGUMENTS)},
            }]}
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": reply_text(prompt)}
            finish = "stop"
        self._send_json(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS,
                      "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS},
        })

    def _chat_stream(self, model: str, prompt: str, wants_tool: bool, include_usage: bool) -> None:
        def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
            return {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}

        events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""}, None)]
        if wants_tool:
            events.append(chunk({"tool_calls": [{"index": 0, "id": TOOL_CALL_ID, "type": "function",
                                                 "function": {"name": TOOL_NAME, "arguments": ""}}]}, None))
            for piece in TOOL_ARGUMENT_PIECES:
                events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}, None))
            events.append(chunk({}, "tool_calls"))
        else:
            text = reply_text(prompt)
            # Split after each space, keeping the spaces, so joined pieces equal the text.
            pieces, start = [], 0
            for i, char in enumerate(text):
                if char == " ":
                    pieces.append(text[start:i + 1])
                    start = i + 1
            if start < len(text):
                pieces.append(text[start:])
            events.extend(chunk({"content": piece}, None) for piece in pieces)
            events.append(chunk({}, "stop"))
        if include_usage:
            events.append({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": model,
                           "choices": [], "usage": {"prompt_tokens": STREAM_PROMPT_TOKENS,
                                                    "completion_tokens": STREAM_COMPLETION_TOKENS,
                                                    "total_tokens": STREAM_PROMPT_TOKENS + STREAM_COMPLETION_TOKENS}})

        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = True
        if model == "error-mid-stream":
            error = {"error": {"message": "model crashed mid-generation", "type": "server_error",
                               "param": None, "code": None}}
            events = events[:2] + [error]
        delay = SLOW_STREAM_DELAY_SECS if model == "slow-stream" else 0.0
        try:
            for event in events:
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
            if model == "error-mid-stream":
                return
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client (the gateway, for its own client) hung up mid-stream

    def _embeddings(self, body: dict[str, Any]) -> None:
        raw = body.get("input")
        inputs = raw if isinstance(raw, list) else [raw]
        if body.get("encoding_format", "float") != "float":
            self._send_error(400, "this fake upstream only sends float embeddings", "invalid_request_error")
            return
        data = [{"object": "embedding", "index": i, "embedding": embedding_for(i, str(text))}
                for i, text in enumerate(inputs)]
        data.reverse()  # out of order on purpose: the gateway must sort by index
        self._send_json(200, {"object": "list", "data": data, "model": body.get("model"),
                              "usage": {"prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []


class FakeUpstream:
    """Starts on a free port in a background thread; ``stop()`` shuts it down."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-upstream", daemon=True)
        self._thread.start()

    @property
    def addr(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def url(self, path: str = "") -> str:
        return f"http://{self.addr}{path}"

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._server.lock:
            return list(self._server.requests)

    def last_body(self, path: str | None = None) -> dict[str, Any]:
        for request in reversed(self.requests):
            if path is None or request["path"] == path:
                return request["body"]
        raise AssertionError(f"the fake upstream received no request for {path}")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


if __name__ == "__main__":  # manual use: python3 fake_upstream.py
    upstream = FakeUpstream()
    print(f"fake upstream on {upstream.url('/v1')}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        upstream.stop()
