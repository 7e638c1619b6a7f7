"""The browser chat page at `/`, driven in headless Chromium (Selenium) against the real binary.

The gateway runs against the fake upstream (fake_upstream.py); its `slow-stream` model sends
the answer in chunks with a pause between them, so the page can be seen streaming and be
stopped part-way. Needs Debian's Chromium and its driver: `apt-get install chromium
chromium-driver` (scripts/setup.sh installs them). A screenshot goes to target/ui/chat.png.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.expected_conditions import staleness_of
from selenium.webdriver.support.ui import Select, WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fake_upstream  # noqa: E402
from fake_upstream import FakeUpstream  # noqa: E402
from gateway_process import REPO_ROOT, Gateway, running_gateway  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]
SCREENSHOT_DIR = REPO_ROOT / "target" / "ui"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WAIT_SECS = 15

FAST_MODEL = "gpt-fake"
FAST_ALIAS = "default"
SLOW_MODEL = "slow"
CRASHING_MODEL = "crashy"
EMBED_MODEL = "embedder"
CHAT_MODELS = [FAST_MODEL, FAST_ALIAS, SLOW_MODEL, CRASHING_MODEL]

ASSISTANT_TEXTS_JS = "return [...document.querySelectorAll('#conversation .message.assistant .text')]" \
                     ".map(element => element.textContent)"
USER_TEXTS_JS = "return [...document.querySelectorAll('#conversation .message.user .text')]" \
                ".map(element => element.textContent)"
# Records every text the last answer shows, so the test sees the stream arrive piece by piece.
RECORD_ANSWER_JS = """
window.answerTexts = [];
const log = document.getElementById('conversation');
new MutationObserver(() => {
  const texts = log.querySelectorAll('.message.assistant .text');
  const text = texts.length ? texts[texts.length - 1].textContent : '';
  if (text && window.answerTexts[window.answerTexts.length - 1] !== text) window.answerTexts.push(text);
}).observe(log, { subtree: true, childList: true, characterData: true });
"""


def write_config(path: Path, listen: str, upstream: FakeUpstream, data_dir: Path) -> None:
    path.write_text(f"""
[server]
listen = "{listen}"
request_timeout_secs = 20

[storage]
data_dir = {json.dumps(str(data_dir))}

[[backends]]
name = "fake-openai"
kind = "openai"
base_url = "{upstream.url('/v1')}"
timeout_secs = 20

[[models]]
name = "{FAST_MODEL}"
backend = "fake-openai"
upstream_model = "up-chat"
aliases = ["{FAST_ALIAS}"]

[[models]]
name = "{SLOW_MODEL}"
backend = "fake-openai"
upstream_model = "slow-stream"

[[models]]
name = "{CRASHING_MODEL}"
backend = "fake-openai"
upstream_model = "error-mid-stream"

[[models]]
name = "{EMBED_MODEL}"
backend = "fake-openai"
upstream_model = "up-embed"
kind = "embedding"
""")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("rampart-ui"), write_config) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: the chat page test drives Debian's Chromium. "
            "Install it with `apt-get install chromium chromium-driver` (scripts/setup.sh does).",
            pytrace=False,
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    # An explicit driver path: Selenium Manager (which would download a driver) never runs.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: WebDriver, gateway: Gateway) -> WebDriver:
    """The chat page, freshly loaded with nothing remembered from an earlier test."""
    browser.set_window_size(1280, 900)
    browser.get(gateway.url("/"))
    browser.execute_script("window.localStorage.clear()")
    browser.get(gateway.url("/"))
    wait_for(browser, lambda: len(Select(browser.find_element(By.ID, "model")).options) > 0, "models listed")
    return browser


def wait_for(driver: WebDriver, condition: Callable[[], Any], what: str, timeout: float = WAIT_SECS) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(lambda _: condition(), f"waited for {what}")


def choose_model(driver: WebDriver, model: str) -> None:
    Select(driver.find_element(By.ID, "model")).select_by_value(model)


def send(driver: WebDriver, text: str) -> None:
    prompt = driver.find_element(By.ID, "prompt")
    prompt.send_keys(text)
    driver.find_element(By.ID, "send").click()


def streaming(driver: WebDriver) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, "#conversation .message.streaming"))


def wait_until_answered(driver: WebDriver) -> list[str]:
    wait_for(driver, lambda: not streaming(driver) and driver.find_element(By.ID, "send").is_enabled(), "answer done")
    return driver.execute_script(ASSISTANT_TEXTS_JS)


def last_answer(driver: WebDriver) -> str:
    answers = driver.execute_script(ASSISTANT_TEXTS_JS)
    return answers[-1] if answers else ""


def error_text(driver: WebDriver) -> str | None:
    error = driver.find_element(By.ID, "error")
    return error.text if error.is_displayed() else None


def chat_requests(gateway: Gateway) -> list[dict[str, Any]]:
    return [request["body"] for request in gateway.upstream.requests if request["path"] == "/v1/chat/completions"]


def save_screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / name
    assert driver.save_screenshot(str(path)), f"could not write {path}"
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000, f"{path} is not a PNG screenshot"
    return path


# --- the page as the server sends it ---------------------------------------------------------


def fetch(gateway: Gateway, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(gateway.url(path), headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/", "text/html"), ("/ui/app.js", "text/javascript"), ("/ui/style.css", "text/css")],
)
def test_page_and_assets_are_served_from_the_binary(gateway: Gateway, path: str, content_type: str) -> None:
    status, headers, body = fetch(gateway, path)

    assert status == 200
    assert headers["content-type"].startswith(content_type)
    assert headers["cache-control"] == "no-cache"
    assert headers["x-request-id"], "the page passes the same middleware as the API"
    assert b"https://" not in body and b"http://" not in body, "no CDN or other external resource"
    status, _, body = fetch(gateway, path, {"if-none-match": headers["etag"]})
    assert (status, body) == (304, b"")


def test_the_page_is_not_part_of_the_api_document(gateway: Gateway) -> None:
    _, _, body = fetch(gateway, "/openapi.json")
    assert "/" not in json.loads(body)["paths"]


# --- the page in a browser -------------------------------------------------------------------


def test_model_picker_lists_the_chat_models(page: WebDriver) -> None:
    options = Select(page.find_element(By.ID, "model")).options

    assert [option.get_attribute("value") for option in options] == CHAT_MODELS
    assert options[1].text == f"{FAST_ALIAS} (alias of {FAST_MODEL})"
    assert page.find_element(By.CSS_SELECTOR, "label[for=model]").text == "Model"


def test_a_streamed_answer_appears_piece_by_piece(page: WebDriver, gateway: Gateway) -> None:
    prompt = "tell me about castle walls"
    expected = fake_upstream.reply_text(prompt)
    choose_model(page, SLOW_MODEL)
    page.execute_script(RECORD_ANSWER_JS)

    send(page, prompt)
    wait_for(page, lambda: streaming(page), "the answer to start")
    assert page.find_element(By.ID, "stop").is_displayed()
    answers = wait_until_answered(page)

    assert answers == [expected]
    seen: list[str] = page.execute_script("return window.answerTexts")
    assert seen[-1] == expected
    partial = [text for text in seen if text != expected]
    assert len(partial) >= 2, f"expected the answer in several pieces, saw {seen}"
    assert all(expected.startswith(text) for text in partial), seen
    assert page.execute_script(USER_TEXTS_JS) == [prompt]
    assert error_text(page) is None
    answer = page.find_element(By.CSS_SELECTOR, "#conversation .message.assistant .text")
    assert answer.get_attribute("aria-live") == "polite"
    assert chat_requests(gateway)[-1]["stream"] is True
    assert chat_requests(gateway)[-1]["messages"] == [{"role": "user", "content": prompt}]
    save_screenshot(page, "chat.png")


def test_enter_sends_shift_enter_breaks_the_line_and_history_is_sent(page: WebDriver, gateway: Gateway) -> None:
    prompt = page.find_element(By.ID, "prompt")
    prompt.send_keys("line one")
    ActionChains(page).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
    prompt.send_keys("line two")
    assert streaming(page) is False and not page.execute_script(USER_TEXTS_JS), "Shift+Enter must not send"
    prompt.send_keys(Keys.ENTER)
    first = "line one\nline two"

    assert wait_until_answered(page) == [fake_upstream.reply_text(first)]
    assert page.execute_script(USER_TEXTS_JS) == [first]
    assert prompt.get_attribute("value") == ""

    prompt.send_keys("and again", Keys.ENTER)
    assert wait_until_answered(page) == [fake_upstream.reply_text(first), fake_upstream.reply_text("and again")]
    assert chat_requests(gateway)[-1]["messages"] == [
        {"role": "user", "content": first},
        {"role": "assistant", "content": fake_upstream.reply_text(first)},
        {"role": "user", "content": "and again"},
    ]
    assert chat_requests(gateway)[-1]["model"] == "up-chat"


def test_stop_keeps_the_partial_answer_and_regenerate_replaces_it(page: WebDriver, gateway: Gateway) -> None:
    prompt = " ".join(f"word{i}" for i in range(25))  # about 4 s of streaming
    full = fake_upstream.reply_text(prompt)
    choose_model(page, SLOW_MODEL)
    send(page, prompt)
    wait_for(page, lambda: len(last_answer(page)) > len("echo: word0 "), "some words")

    page.find_element(By.ID, "stop").click()
    stopped = wait_until_answered(page)
    time.sleep(4 * fake_upstream.SLOW_STREAM_DELAY_SECS)

    assert page.execute_script(ASSISTANT_TEXTS_JS) == stopped, "nothing arrives after Stop"
    assert len(stopped) == 1 and full.startswith(stopped[0]) and stopped[0] != full
    assert error_text(page) is None, "stopping is not an error"
    assert page.find_element(By.CSS_SELECTOR, "#conversation .message.assistant .note").text == "Stopped."
    assert not page.find_element(By.ID, "stop").is_displayed()
    partial_answer = page.find_element(By.CSS_SELECTOR, "#conversation .message.assistant")

    page.find_element(By.ID, "regenerate").click()
    WebDriverWait(page, WAIT_SECS).until(staleness_of(partial_answer), "the partial answer to be replaced")

    assert wait_until_answered(page) == [full]
    assert chat_requests(gateway)[-1]["messages"] == [{"role": "user", "content": prompt}], \
        "regenerate re-asks the last user turn without the answer it replaces"
    assert page.execute_script(USER_TEXTS_JS) == [prompt]


def test_regenerate_after_a_complete_answer_asks_again(page: WebDriver, gateway: Gateway) -> None:
    send(page, "hello")
    assert wait_until_answered(page) == ["echo: hello"]
    asked = len(chat_requests(gateway))

    page.find_element(By.ID, "regenerate").click()
    wait_for(page, lambda: len(chat_requests(gateway)) == asked + 1, "a second request")

    assert wait_until_answered(page) == ["echo: hello"]
    assert chat_requests(gateway)[-1]["messages"] == [{"role": "user", "content": "hello"}]

    page.find_element(By.ID, "new-chat").click()
    assert page.execute_script(USER_TEXTS_JS) == [] and page.execute_script(ASSISTANT_TEXTS_JS) == []
    assert not page.find_element(By.ID, "regenerate").is_enabled()


def test_an_unknown_model_shows_the_gateway_error(page: WebDriver) -> None:
    # A model that went away since the list was loaded (the picker only offers known ones).
    page.execute_script("""
        const picker = document.getElementById('model');
        picker.add(new Option('no-such-model', 'no-such-model'));
        picker.value = 'no-such-model';
        picker.dispatchEvent(new Event('change'));
    """)
    send(page, "anyone there?")
    message = wait_for(page, lambda: error_text(page), "the error")

    assert "The model 'no-such-model' does not exist." in message
    assert page.execute_script(ASSISTANT_TEXTS_JS) == [], "no empty answer is left behind"
    assert page.execute_script(USER_TEXTS_JS) == ["anyone there?"]

    choose_model(page, FAST_MODEL)
    page.find_element(By.ID, "regenerate").click()
    assert wait_until_answered(page) == ["echo: anyone there?"]
    assert error_text(page) is None


def test_an_error_mid_stream_is_shown_with_the_partial_answer(page: WebDriver) -> None:
    choose_model(page, CRASHING_MODEL)
    send(page, "boom")
    message = wait_for(page, lambda: error_text(page), "the error")

    assert "model crashed mid-generation" in message
    assert wait_until_answered(page) == ["echo: "]
    assert "Incomplete" in page.find_element(By.CSS_SELECTOR, "#conversation .message.assistant .note").text


def test_model_output_is_shown_as_text_never_as_markup(page: WebDriver) -> None:
    markup = '<img src=x onerror="window.injected = 1"><b>bold</b>'
    send(page, markup)

    assert wait_until_answered(page) == [fake_upstream.reply_text(markup)]
    assert page.find_elements(By.CSS_SELECTOR, "#conversation img, #conversation b") == []
    assert page.execute_script("return window.injected === undefined")


def test_the_conversation_survives_a_reload(page: WebDriver, gateway: Gateway) -> None:
    send(page, "remember me")
    wait_until_answered(page)
    page.get(gateway.url("/"))
    wait_for(page, lambda: page.execute_script(USER_TEXTS_JS) == ["remember me"], "the restored conversation")

    assert page.execute_script(ASSISTANT_TEXTS_JS) == ["echo: remember me"]


def test_the_page_fits_a_phone_screen(page: WebDriver) -> None:
    page.set_window_size(390, 844)
    send(page, "a long " + "word " * 60)
    wait_until_answered(page)

    width = page.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page scrolls sideways at phone width: {width}"
    for element_id in ("model", "prompt", "send", "regenerate", "new-chat"):
        assert page.find_element(By.ID, element_id).is_displayed(), element_id
    save_screenshot(page, "chat-narrow.png")
