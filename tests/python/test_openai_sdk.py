"""The official OpenAI Python SDK, unmodified but for base_url, against the real rampart binary.

A session fixture starts a fake OpenAI-compatible upstream (fake_upstream.py), writes a config
pointing one `openai` backend at it, starts `rampart serve` on a free port and waits for
/healthz (gateway_process.py). The binary is $RAMPART_BIN, else <repo>/target/debug/rampart.
"""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import sys
from pathlib import Path
from typing import Any, Iterator

import openai
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_upstream  # noqa: E402
from fake_upstream import FakeUpstream  # noqa: E402
from gateway_process import REPO_ROOT, Gateway, running_gateway  # noqa: E402

CHAT_MODEL = "gpt-fake"
CHAT_UPSTREAM = "up-chat"
CHAT_ALIASES = ["default", "gpt-fake-latest"]
EMBED_MODEL = "embedder"
EMBED_UPSTREAM = "up-embed"
RATE_LIMITED_MODEL = "limited"
FAILING_MODEL = "broken"
MID_STREAM_ERROR_MODEL = "crashy"

WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": fake_upstream.TOOL_NAME,
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}


def write_config(path: Path, listen: str, upstream: FakeUpstream, data_dir: Path) -> None:
    aliases = ", ".join(json.dumps(alias) for alias in CHAT_ALIASES)
    path.write_text(f"""
[server]
listen = "{listen}"
request_timeout_secs = 20

[storage]
data_dir = {json.dumps(str(data_dir))}

[logging]
level = "info"

# One fake backend serves failing and healthy models alike: its circuit must not open, and
# retries would only slow the error-mapping tests (routing has its own tests in Rust).
[router]
max_retries = 0
[router.breaker]
consecutive_failures = 100000
min_calls = 100000
open_on_failed_health_check = false

[[backends]]
name = "fake-openai"
kind = "openai"
base_url = "{upstream.url('/v1')}"
api_key = "sk-upstream-secret"
timeout_secs = 20

[[models]]
name = "{CHAT_MODEL}"
backend = "fake-openai"
upstream_model = "{CHAT_UPSTREAM}"
aliases = [{aliases}]
context_window = 32768

[[models]]
name = "{EMBED_MODEL}"
backend = "fake-openai"
upstream_model = "{EMBED_UPSTREAM}"
kind = "embedding"

[[models]]
name = "{RATE_LIMITED_MODEL}"
backend = "fake-openai"
upstream_model = "rate-limited"

[[models]]
name = "{FAILING_MODEL}"
backend = "fake-openai"
upstream_model = "fail-500"

[[models]]
name = "{MID_STREAM_ERROR_MODEL}"
backend = "fake-openai"
upstream_model = "error-mid-stream"
""")


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("rampart"), write_config) as running:
        yield running


@pytest.fixture
def client(gateway: Gateway) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0, timeout=20) as sdk:
        yield sdk


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


# --- chat completions ----------------------------------------------------------------------


def test_chat_completion(client: openai.OpenAI, gateway: Gateway) -> None:
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=user("hello there"))

    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.object == "chat.completion"
    assert completion.model == CHAT_MODEL
    assert len(completion.choices) == 1
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "echo: hello there"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == fake_upstream.PROMPT_TOKENS
    assert completion.usage.completion_tokens == fake_upstream.COMPLETION_TOKENS
    assert completion.usage.total_tokens == fake_upstream.PROMPT_TOKENS + fake_upstream.COMPLETION_TOKENS
    assert gateway.upstream.last_body("/v1/chat/completions")["model"] == CHAT_UPSTREAM


@pytest.mark.parametrize("alias", CHAT_ALIASES)
def test_chat_completion_via_alias(client: openai.OpenAI, gateway: Gateway, alias: str) -> None:
    completion = client.chat.completions.create(
        model=alias, messages=user(f"via {alias}"), temperature=0.2, max_tokens=50, seed=1
    )

    assert completion.choices[0].message.content == f"echo: via {alias}"
    # Like OpenAI answering `gpt-4o` with its dated snapshot: the model that served it.
    assert completion.model == CHAT_MODEL
    forwarded = gateway.upstream.last_body("/v1/chat/completions")
    assert forwarded["model"] == CHAT_UPSTREAM
    assert forwarded["temperature"] == 0.2, "sampling values reach the upstream exactly as sent"


def test_stream_with_usage(client: openai.OpenAI, gateway: Gateway) -> None:
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=user("stream me some words"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert len(chunks) > 2, "expected one chunk per upstream event"
    assert all(isinstance(chunk, openai.types.chat.ChatCompletionChunk) for chunk in chunks)
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
    assert all(chunk.model == CHAT_MODEL for chunk in chunks)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "echo: stream me some words"
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert finishes == ["stop"]

    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.prompt_tokens == fake_upstream.STREAM_PROMPT_TOKENS
    assert last.usage.completion_tokens == fake_upstream.STREAM_COMPLETION_TOKENS
    assert last.usage.total_tokens == fake_upstream.STREAM_PROMPT_TOKENS + fake_upstream.STREAM_COMPLETION_TOKENS
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert gateway.upstream.last_body("/v1/chat/completions")["stream"] is True


def test_stream_without_usage(client: openai.OpenAI, gateway: Gateway) -> None:
    stream = client.chat.completions.create(model="default", messages=user("no usage please"), stream=True)
    chunks = list(stream)

    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert text == "echo: no usage please"
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks), "a usage-only chunk leaked to a client that did not ask"
    # The gateway asks the upstream for usage anyway (for its own accounting) and drops it.
    forwarded = gateway.upstream.last_body("/v1/chat/completions")
    assert forwarded["stream_options"]["include_usage"] is True


def test_stream_closes_cleanly_when_client_stops_early(client: openai.OpenAI) -> None:
    with client.chat.completions.create(model=CHAT_MODEL, messages=user("a b c d e f"), stream=True) as stream:
        first = next(iter(stream))
        assert first.choices[0].delta.role == "assistant"
    # The gateway keeps serving after a client hung up mid-stream.
    again = client.chat.completions.create(model=CHAT_MODEL, messages=user("still here?"))
    assert again.choices[0].message.content == "echo: still here?"


def test_error_mid_stream_raises_api_error(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model=MID_STREAM_ERROR_MODEL, messages=user("boom"), stream=True)
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert received, "the chunks before the error should reach the client"
    assert "model crashed mid-generation" in caught.value.message


# --- tool calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tool_choice",
    ["auto", "required", {"type": "function", "function": {"name": fake_upstream.TOOL_NAME}}],
    ids=["auto", "required", "named"],
)
def test_tool_call(client: openai.OpenAI, gateway: Gateway, tool_choice: Any) -> None:
    completion = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=user("What is the weather in Paris?"),
        tools=[WEATHER_TOOL],
        tool_choice=tool_choice,
    )

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None and len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.id == fake_upstream.TOOL_CALL_ID
    assert call.type == "function"
    assert call.function.name == fake_upstream.TOOL_NAME
    assert json.loads(call.function.arguments) == fake_upstream.TOOL_ARGUMENTS

    forwarded = gateway.upstream.last_body("/v1/chat/completions")
    assert forwarded["tools"][0]["function"]["name"] == fake_upstream.TOOL_NAME
    assert forwarded["tools"][0]["function"]["parameters"] == WEATHER_TOOL["function"]["parameters"]
    assert forwarded["tool_choice"] == tool_choice


def test_tool_call_streamed(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=CHAT_MODEL,
        messages=user("What is the weather in Paris?"),
        tools=[WEATHER_TOOL],
        tool_choice="auto",
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    finish_reasons = []
    for chunk in stream:
        for choice in chunk.choices:
            if choice.finish_reason:
                finish_reasons.append(choice.finish_reason)
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                if delta.id:
                    call["id"] = delta.id
                if delta.function and delta.function.name:
                    call["name"] += delta.function.name
                if delta.function and delta.function.arguments:
                    call["arguments"] += delta.function.arguments

    assert finish_reasons == ["tool_calls"]
    assert list(calls) == [0]
    assert calls[0]["id"] == fake_upstream.TOOL_CALL_ID
    assert calls[0]["name"] == fake_upstream.TOOL_NAME
    assert calls[0]["arguments"] == "".join(fake_upstream.TOOL_ARGUMENT_PIECES)
    assert json.loads(calls[0]["arguments"]) == fake_upstream.TOOL_ARGUMENTS


def test_tool_call_stream_helper(client: openai.OpenAI) -> None:
    """The SDK's own accumulator (`chat.completions.stream`) rebuilds the same call."""
    with client.chat.completions.stream(
        model=CHAT_MODEL, messages=user("weather?"), tools=[WEATHER_TOOL]
    ) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_completion()

    assert "tool_calls.function.arguments.done" in events
    call = final.choices[0].message.tool_calls[0]
    assert call.function.name == fake_upstream.TOOL_NAME
    assert json.loads(call.function.arguments) == fake_upstream.TOOL_ARGUMENTS
    assert final.choices[0].finish_reason == "tool_calls"


def test_tool_result_follow_up_turn(client: openai.OpenAI, gateway: Gateway) -> None:
    question = user("What is the weather in Paris?")
    first = client.chat.completions.create(model=CHAT_MODEL, messages=question, tools=[WEATHER_TOOL])
    assistant = first.choices[0].message
    call = assistant.tool_calls[0]

    messages: list[Any] = [
        {"role": "system", "content": "You are terse."},
        *question,
        # The SDK's own message object, as SDK examples pass it back.
        assistant,
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature_c": 21})},
    ]
    second = client.chat.completions.create(model=CHAT_MODEL, messages=messages, tools=[WEATHER_TOOL],
                                            tool_choice="none")

    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "echo: What is the weather in Paris?"
    forwarded = gateway.upstream.last_body("/v1/chat/completions")["messages"]
    assert [message["role"] for message in forwarded] == ["system", "user", "assistant", "tool"]
    assert forwarded[2]["tool_calls"][0]["id"] == call.id
    assert forwarded[2]["tool_calls"][0]["function"]["name"] == fake_upstream.TOOL_NAME
    assert json.loads(forwarded[2]["tool_calls"][0]["function"]["arguments"]) == fake_upstream.TOOL_ARGUMENTS
    assert forwarded[3]["tool_call_id"] == call.id
    assert json.loads(forwarded[3]["content"]) == {"temperature_c": 21}


def test_tool_result_follow_up_turn_as_dicts(client: openai.OpenAI) -> None:
    """The same turn written out by hand, assistant content null, as most client code does."""
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_abc", "type": "function",
            "function": {"name": fake_upstream.TOOL_NAME, "arguments": '{"city": "Paris"}'},
        }]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "21C and sunny"},
    ]
    completion = client.chat.completions.create(model=CHAT_MODEL, messages=messages)
    assert completion.choices[0].message.content == "echo: weather in Paris?"


# --- embeddings ----------------------------------------------------------------------------


def test_embedding_single_string(client: openai.OpenAI, gateway: Gateway) -> None:
    text = "hello"
    response = client.embeddings.create(model=EMBED_MODEL, input=text, encoding_format="float")

    assert response.object == "list"
    assert response.model == EMBED_MODEL
    assert len(response.data) == 1
    assert response.data[0].object == "embedding"
    assert response.data[0].index == 0
    assert response.data[0].embedding == fake_upstream.embedding_for(0, text)
    assert response.usage.prompt_tokens == 3
    assert response.usage.total_tokens == 3
    forwarded = gateway.upstream.last_body("/v1/embeddings")
    assert forwarded["model"] == EMBED_UPSTREAM
    assert forwarded.get("encoding_format", "float") == "float"


def test_embedding_list(client: openai.OpenAI) -> None:
    texts = ["one", "three", "seventeen"]
    response = client.embeddings.create(model=EMBED_MODEL, input=texts, encoding_format="float")

    assert [item.index for item in response.data] == [0, 1, 2]
    for i, text in enumerate(texts):
        assert response.data[i].embedding == fake_upstream.embedding_for(i, text)
    assert response.usage.prompt_tokens == 3 * len(texts)


def test_embedding_sdk_default_base64_matches_float(client: openai.OpenAI, gateway: Gateway) -> None:
    texts = ["alpha", "beta gamma"]
    as_float = client.embeddings.create(model=EMBED_MODEL, input=texts, encoding_format="float")
    # With no encoding_format the SDK asks for base64 and decodes it to floats itself.
    by_default = client.embeddings.create(model=EMBED_MODEL, input=texts)

    assert [item.embedding for item in by_default.data] == [item.embedding for item in as_float.data]
    assert all(isinstance(value, float) for value in by_default.data[0].embedding)
    # The gateway asks the upstream for floats whatever the client asked for.
    assert gateway.upstream.last_body("/v1/embeddings").get("encoding_format", "float") == "float"


def test_embedding_explicit_base64(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model=EMBED_MODEL, input="raw", encoding_format="base64")
    encoded = response.data[0].embedding
    assert isinstance(encoded, str), "explicit base64 is returned to the caller undecoded"
    raw = base64.b64decode(encoded)
    values = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    assert values == fake_upstream.embedding_for(0, "raw")


def test_embedding_model_with_chat_endpoint_is_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=EMBED_MODEL, messages=user("hi"))
    assert "/v1/embeddings" in caught.value.message


# --- errors --------------------------------------------------------------------------------


def test_unknown_model_is_not_found_with_suggestion(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-fak", messages=user("hi"))
    error = caught.value
    assert error.status_code == 404
    assert error.code == "model_not_found"
    assert error.param == "model"
    assert error.type == "invalid_request_error"
    assert f"'{CHAT_MODEL}'" in error.message, error.message
    assert error.request_id, "errors carry x-request-id too"


def test_bad_parameter_is_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=CHAT_MODEL, messages=user("hi"), temperature=5)
    error = caught.value
    assert error.status_code == 400
    assert error.param == "temperature"
    assert error.type == "invalid_request_error"
    assert "temperature" in error.message


def test_upstream_rate_limit_is_rate_limit_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=RATE_LIMITED_MODEL, messages=user("hi"))
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers.get("retry-after") == "7"
    assert error.code == "rate_limit_exceeded"


def test_upstream_rate_limit_when_streaming(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=RATE_LIMITED_MODEL, messages=user("hi"), stream=True)


def test_upstream_500_is_502(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=FAILING_MODEL, messages=user("hi"))
    error = caught.value
    assert error.status_code == 502
    # The SDK maps every status >= 500 to InternalServerError, 502 included.
    assert type(error) is openai.InternalServerError
    assert "sk-upstream-secret" not in error.message


# --- models --------------------------------------------------------------------------------


def test_models_list_includes_names_and_aliases(client: openai.OpenAI) -> None:
    models = client.models.list()
    ids = [model.id for model in models]
    for expected in [CHAT_MODEL, *CHAT_ALIASES, EMBED_MODEL, RATE_LIMITED_MODEL, FAILING_MODEL]:
        assert expected in ids
    assert len(ids) == len(set(ids))
    assert all(model.object == "model" for model in models)
    assert all(isinstance(model.created, int) for model in models)


def test_models_retrieve_alias(client: openai.OpenAI) -> None:
    model = client.models.retrieve("default")
    assert model.id == "default"
    assert model.object == "model"
    assert model.owned_by == "fake-openai"
    canonical = client.models.retrieve(CHAT_MODEL)
    assert canonical.id == CHAT_MODEL


def test_models_retrieve_unknown(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


# --- raw responses, request ids, async client ---------------------------------------------


def test_raw_response_has_request_id(client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(model=CHAT_MODEL, messages=user("raw"))
    request_id = raw.headers.get("x-request-id")
    assert request_id
    assert raw.status_code == 200
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: raw"
    assert completion._request_id == request_id


def test_client_request_id_is_echoed(client: openai.OpenAI) -> None:
    raw = client.models.with_raw_response.list(extra_headers={"x-request-id": "sdk-test-42"})
    assert raw.headers.get("x-request-id") == "sdk-test-42"


def test_async_client(gateway: Gateway) -> None:
    async def run() -> tuple[str, str]:
        async with openai.AsyncOpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0) as sdk:
            completion = await sdk.chat.completions.create(model=CHAT_MODEL, messages=user("async"))
            stream = await sdk.chat.completions.create(model=CHAT_MODEL, messages=user("async stream"),
                                                       stream=True)
            text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
            return completion.choices[0].message.content or "", text

    content, streamed = asyncio.run(run())
    assert content == "echo: async"
    assert streamed == "echo: async stream"


def test_the_readme_quick_start_runs_as_written(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'base_url="http://127.0.0.1:8080/v1"' in block
    code = block.replace("http://127.0.0.1:8080/v1", f"http://{gateway.addr}/v1")
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert fake_upstream.reply_text("Say hello") in out
    assert f"[{fake_upstream.STREAM_PROMPT_TOKENS} in," in out
