"""A mock OpenAI chat upstream that answers every request after a fixed delay.

bench/governance.sh uses it (UPSTREAM_MS=N) to measure what identity, policy and audit cost
when the upstream takes as long as a model does, rather than nginx's 0.1 ms. It speaks
HTTP/1.1 with keep-alive on raw asyncio streams, so one core serves thousands of requests a
second and the delay, not the mock, sets the pace.

Usage: python3 bench/delayed_upstream.py PORT DELAY_MS
"""

import asyncio
import sys

BODY = (
    b'{"id":"chatcmpl-mock","object":"chat.completion","created":1700000000,"model":"mock",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hello from the mock."},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":6,"total_tokens":18}}'
)
MODELS = b'{"object":"list","data":[]}'


def response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


CHAT = response(BODY)
LIST = response(MODELS)


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            is_chat = b"/chat/completions" in head.split(b"\r\n", 1)[0]
            if is_chat:
                await asyncio.sleep(delay)
            writer.write(CHAT if is_chat else LIST)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(port: int, delay_ms: float) -> None:
    server = await asyncio.start_server(lambda r, w: serve(r, w, delay_ms / 1000), "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: delayed_upstream.py PORT DELAY_MS")
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
