"""An OpenAI-compatible upstream for the SDK tests: JSON and SSE chat, tool calls,
embeddings, models, and error statuses chosen by model name. Standard library only."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOL_ARGS = '{"city": "Paris", "unit": "c"}'


def completion(model, message, finish):
    return {
        "id": "chatcmpl-up", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def chunk(model, delta, finish=None):
    return {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/v1/models":
            self.send_json(200, {"object": "list", "data": [{"id": "up", "object": "model", "created": 0, "owned_by": "fake"}]})
        else:
            self.send_json(404, {"error": {"message": "no such route", "type": "invalid_request_error"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
        self.server.requests.append((self.path, body))
        if self.path == "/v1/embeddings":
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [{"object": "embedding", "index": i, "embedding": [i + 0.25, -0.5, 1.5]} for i in range(len(inputs))]
            self.send_json(200, {"object": "list", "data": data, "model": body["model"],
                                 "usage": {"prompt_tokens": 2 * len(inputs), "total_tokens": 2 * len(inputs)}})
            return
        model = body.get("model")
        if model == "rate-limited":
            self.send_json(429, {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}},
                           headers=[("retry-after", "3")])
            return
        if model == "fail-500":
            self.send_json(500, {"error": {"message": "upstream broke", "type": "server_error"}})
            return
        wants_tool = bool(body.get("tools")) and body.get("tool_choice") != "none"
        prompt = body["messages"][-1].get("content")
        text = f"echo: {prompt}"
        if body.get("stream"):
            self.stream(model, text, wants_tool, body)
            return
        if wants_tool:
            message = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": TOOL_ARGS}}]}
            self.send_json(200, completion(model, message, "tool_calls"))
        else:
            self.send_json(200, completion(model, {"role": "assistant", "content": text}, "stop"))

    def stream(self, model, text, wants_tool, body):
        events = [chunk(model, {"role": "assistant", "content": ""})]
        if wants_tool:
            events.append(chunk(model, {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                        "function": {"name": "get_weather", "arguments": ""}}]}))
            for piece in (TOOL_ARGS[:10], TOOL_ARGS[10:]):
                events.append(chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            events.append(chunk(model, {}, "tool_calls"))
        else:
            events += [chunk(model, {"content": word}) for word in text.split(" ") for word in [word + " "]]
            events[-1]["choices"][0]["delta"]["content"] = events[-1]["choices"][0]["delta"]["content"].rstrip()
            events.append(chunk(model, {}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": model,
                           "choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": len(events), "total_tokens": 10 + len(events)}})
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]:
            data = event.encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def start():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.requests = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
