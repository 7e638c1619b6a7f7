"""The official OpenAI Python SDK against Rampart, unmodified but for base_url."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import openai
import pytest

import fake_upstream

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("RAMPART_BIN", str(ROOT / "target" / "debug" / "rampart"))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def gateway():
    upstream = fake_upstream.start()
    upstream_url = f"http://127.0.0.1:{upstream.server_address[1]}/v1"
    workdir = tempfile.TemporaryDirectory()
    addr = f"127.0.0.1:{free_port()}"
    config = Path(workdir.name) / "rampart.toml"
    config.write_text(f"""
[server]
listen = "{addr}"
[storage]
data_dir = "{workdir.name}"
[[backends]]
name = "up"
kind = "openai"
base_url = "{upstream_url}"
[[models]]
name = "chat"
backend = "up"
upstream_model = "up-chat"
aliases = ["default"]
[[models]]
name = "embedder"
backend = "up"
kind = "embedding"
[[models]]
name = "limited"
backend = "up"
upstream_model = "rate-limited"
[[models]]
name = "broken"
backend = "up"
upstream_model = "fail-500"
""")
    log = open(Path(workdir.name) / "rampart.log", "w")
    process = subprocess.Popen([BIN, "serve", "--config", str(config)], stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://{addr}/healthz", timeout=1)
            break
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("rampart did not start:\n" + (Path(workdir.name) / "rampart.log").read_text())
            time.sleep(0.05)
    yield {"addr": addr, "upstream": upstream}
    process.terminate()
    process.wait(timeout=15)
    upstream.shutdown()
    workdir.cleanup()


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=f"http://{gateway['addr']}/v1", api_key="unused", max_retries=0)


def test_chat_completion_through_name_and_alias(client):
    for model in ("chat", "default"):
        completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        assert completion.choices[0].message.content == "echo: hi"
        assert completion.choices[0].finish_reason == "stop"
        assert completion.model == "chat"
        assert completion.usage.prompt_tokens == 10 and completion.usage.completion_tokens == 5
        assert completion.usage.total_tokens == 15


def test_streaming_with_and_without_usage(client):
    stream = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "a b c"}], stream=True,
        stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: a b c"
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 10
    assert all(c.usage is None for c in chunks[:-1])

    chunks = list(client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}], stream=True))
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "echo: x"


TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}}}]


def test_tool_calls_plain_streamed_and_the_follow_up_turn(client, gateway):
    completion = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "weather in Paris?"}], tools=TOOLS, tool_choice="auto")
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "c"}

    stream = client.chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "weather?"}], tools=TOOLS, stream=True)
    arguments, name = "", None
    for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name = name or (delta.function.name if delta.function else None)
            arguments += (delta.function.arguments or "") if delta.function else ""
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris", "unit": "c"}

    follow_up = client.chat.completions.create(model="chat", tools=TOOLS, tool_choice="none", messages=[
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "18 degrees"},
    ])
    assert follow_up.choices[0].message.content == "echo: 18 degrees"
    path, forwarded = gateway["upstream"].requests[-1]
    assert forwarded["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "18 degrees"}


def test_embeddings_float_and_sdk_default_base64_agree(client):
    as_float = client.embeddings.create(model="embedder", input=["one", "two"], encoding_format="float")
    as_default = client.embeddings.create(model="embedder", input=["one", "two"])  # the SDK asks for base64
    assert [d.embedding for d in as_float.data] == [[0.25, -0.5, 1.5], [1.25, -0.5, 1.5]]
    assert [d.embedding for d in as_default.data] == [d.embedding for d in as_float.data]
    assert as_float.usage.prompt_tokens == 4
    single = client.embeddings.create(model="embedder", input="one")
    assert len(single.data) == 1 and single.model == "embedder"


def test_errors_raise_the_sdk_exception_types(client):
    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(model="chta", messages=[{"role": "user", "content": "x"}])
    assert "'chat'" in str(not_found.value)
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "x"}], temperature=5)
    assert bad.value.body["param"] == "temperature"
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(openai.InternalServerError) as broken:
        client.chat.completions.create(model="broken", messages=[{"role": "user", "content": "x"}])
    assert broken.value.status_code == 502
    assert "upstream broke" in str(broken.value)


def test_models_list_and_retrieve(client):
    ids = [model.id for model in client.models.list()]
    assert {"chat", "default", "embedder"} <= set(ids)
    assert client.models.retrieve("default").id == "default"


def test_request_id_header(client):
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "x"}])
    assert raw.headers.get("x-request-id")
    assert raw.parse().choices[0].message.content == "echo: x"


def test_the_readme_quick_start_runs_as_written(gateway, capsys):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'base_url="http://127.0.0.1:8080/v1"' in block
    code = block.replace("http://127.0.0.1:8080/v1", f"http://{gateway['addr']}/v1")
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "echo: Say hello" in out
    assert "[10 in," in out
