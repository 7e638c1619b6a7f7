// Rampart chat page. Plain browser JavaScript, no dependencies and no build step: it talks to
// the gateway's own OpenAI-compatible API (GET /v1/models, POST /v1/chat/completions with
// stream: true) and renders model output as text only (textContent, never HTML).
"use strict";

(() => {
  const CHAT_STORAGE_KEY = "rampart.chat.v1";
  const API_KEY_STORAGE_KEY = "rampart.apiKey";
  const FOLLOW_THRESHOLD_PX = 48;

  const byId = (id) => document.getElementById(id);
  const els = {
    model: byId("model"),
    newChat: byId("new-chat"),
    apiKey: byId("api-key"),
    scroller: document.querySelector("main"),
    conversation: byId("conversation"),
    emptyHint: byId("empty-hint"),
    error: byId("error"),
    errorText: byId("error-text"),
    dismissError: byId("dismiss-error"),
    status: byId("status"),
    composer: byId("composer"),
    prompt: byId("prompt"),
    send: byId("send"),
    stop: byId("stop"),
    regenerate: byId("regenerate"),
  };

  /** The conversation: what is sent to the model and what is kept across reloads. */
  const chat = { model: "", messages: [] };
  /** The answer being streamed, if any: { controller, view, discarded }. */
  let active = null;

  // --- storage (best effort: private windows and strict settings may refuse it) -------------

  function readStorage(key) {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null;
    }
  }

  function writeStorage(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, value);
    } catch {
      // Not persisted; the page still works for this visit.
    }
  }

  function isMessage(value) {
    return (
      value !== null &&
      typeof value === "object" &&
      (value.role === "user" || value.role === "assistant") &&
      typeof value.content === "string"
    );
  }

  function restoreChat() {
    const saved = parseJson(readStorage(CHAT_STORAGE_KEY));
    if (saved === null || typeof saved !== "object") return;
    if (typeof saved.model === "string") chat.model = saved.model;
    if (Array.isArray(saved.messages)) chat.messages = saved.messages.filter(isMessage);
  }

  function saveChat() {
    writeStorage(CHAT_STORAGE_KEY, JSON.stringify(chat));
  }

  // --- helpers --------------------------------------------------------------------------------

  function parseJson(text) {
    if (typeof text !== "string") return null;
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  }

  function requestHeaders(extra = {}) {
    const headers = { ...extra };
    const key = els.apiKey.value.trim();
    if (key) headers.authorization = `Bearer ${key}`;
    return headers;
  }

  /** The message of an OpenAI error object (`{"message": ..., "type": ...}`) or a string. */
  function errorText(error) {
    if (typeof error === "string") return error;
    if (error && typeof error.message === "string" && error.message) return error.message;
    return JSON.stringify(error);
  }

  /** What a failed response says: OpenAI's `{"error": {...}}`, else status and body text. */
  async function responseError(response) {
    const text = await response.text().catch(() => "");
    const body = parseJson(text);
    if (body && typeof body === "object" && body.error) return errorText(body.error);
    const detail = text.trim() ? `: ${text.trim().slice(0, 300)}` : "";
    return `The gateway answered ${response.status} ${response.statusText}${detail}`;
  }

  function showError(message) {
    els.errorText.textContent = message;
    els.error.hidden = false;
  }

  function hideError() {
    els.error.hidden = true;
    els.errorText.textContent = "";
  }

  function setStatus(text) {
    els.status.textContent = text;
  }

  function updateControls() {
    const busy = active !== null;
    els.send.disabled = busy || !els.model.value;
    els.stop.hidden = !busy;
    els.regenerate.disabled = busy || !chat.messages.some((message) => message.role === "user");
  }

  // --- server-sent events -------------------------------------------------------------------

  /**
   * Turns a `text/event-stream` body into the data of each event, whatever the read
   * boundaries: a frame, a line or a UTF-8 character may be split across reads.
   */
  class SseDecoder {
    constructor() {
      this.decoder = new TextDecoder();
      this.buffer = "";
      this.data = [];
    }

    /** Feeds one read; returns the data of the events it completed. */
    push(bytes) {
      this.buffer += this.decoder.decode(bytes, { stream: true });
      const events = [];
      for (;;) {
        const end = /\r\n|\r|\n/.exec(this.buffer);
        if (end === null) break;
        // A lone "\r" at the end may be the first half of "\r\n": wait for the next read.
        if (end[0] === "\r" && end.index === this.buffer.length - 1) break;
        const line = this.buffer.slice(0, end.index);
        this.buffer = this.buffer.slice(end.index + end[0].length);
        this.line(line, events);
      }
      return events;
    }

    line(line, events) {
      if (line === "") {
        if (this.data.length > 0) events.push(this.data.join("\n"));
        this.data = [];
        return;
      }
      if (line.startsWith(":")) return; // a comment (keep-alive)
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
    }
  }

  // --- rendering ----------------------------------------------------------------------------

  function messageView(message) {
    const article = document.createElement("article");
    article.className = `message ${message.role}`;
    const heading = document.createElement("h2");
    heading.textContent =
      message.role === "user" ? "You" : message.model ? `Assistant · ${message.model}` : "Assistant";
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = message.content;
    const note = document.createElement("p");
    note.className = "note";
    note.textContent = message.note || "";
    note.hidden = !message.note;
    article.append(heading, text, note);
    return { article, text, note };
  }

  function render() {
    if (chat.messages.length === 0) {
      els.conversation.replaceChildren(els.emptyHint);
      return;
    }
    els.conversation.replaceChildren(...chat.messages.map((message) => messageView(message).article));
    scrollToEnd();
  }

  function appendView(message) {
    els.emptyHint.remove();
    const view = messageView(message);
    els.conversation.append(view.article);
    scrollToEnd();
    return view;
  }

  function isFollowing() {
    const { scrollHeight, scrollTop, clientHeight } = els.scroller;
    return scrollHeight - scrollTop - clientHeight < FOLLOW_THRESHOLD_PX;
  }

  function scrollToEnd() {
    els.scroller.scrollTop = els.scroller.scrollHeight;
  }

  // --- models -------------------------------------------------------------------------------

  async function loadModels() {
    setStatus("Loading models…");
    try {
      const response = await fetch("/v1/models", { headers: requestHeaders() });
      if (!response.ok) throw new Error(await responseError(response));
      const list = await response.json();
      const models = (Array.isArray(list?.data) ? list.data : []).filter(
        (model) => typeof model?.id === "string" && model.kind !== "embedding",
      );
      els.model.replaceChildren(
        ...models.map((model) => {
          const alias = typeof model.root === "string" && model.root !== model.id;
          return new Option(alias ? `${model.id} (alias of ${model.root})` : model.id, model.id);
        }),
      );
      if (models.some((model) => model.id === chat.model)) els.model.value = chat.model;
      chat.model = els.model.value;
      setStatus("");
      if (models.length === 0) {
        showError("The gateway has no chat models: add [[backends]] and [[models]] to its config.");
      }
    } catch (error) {
      setStatus("");
      showError(`Could not list the models: ${error.message}`);
    }
    updateControls();
  }

  // --- chat ---------------------------------------------------------------------------------

  function send() {
    if (active !== null) return;
    const content = els.prompt.value.replace(/\s+$/, "");
    if (!content.trim()) return;
    const message = { role: "user", content };
    chat.messages.push(message);
    appendView(message);
    els.prompt.value = "";
    saveChat();
    void complete();
  }

  /** Asks again for the answer to the last user turn, replacing the answer it had. */
  function regenerate() {
    if (active !== null) return;
    while (chat.messages.length > 0 && chat.messages[chat.messages.length - 1].role === "assistant") {
      chat.messages.pop();
    }
    if (chat.messages.length === 0) return;
    render();
    saveChat();
    void complete();
  }

  function stop() {
    if (active !== null) active.controller.abort();
  }

  function newChat() {
    if (active !== null) {
      active.discarded = true;
      active.controller.abort();
    }
    chat.messages = [];
    hideError();
    setStatus("");
    render();
    saveChat();
    updateControls();
    els.prompt.focus();
  }

  /** Streams the model's answer to the conversation so far into a new assistant message. */
  async function complete() {
    const model = els.model.value;
    if (!model) {
      showError("No chat model is selected.");
      return;
    }
    hideError();
    const message = { role: "assistant", content: "", model };
    const view = appendView(message);
    view.article.classList.add("streaming");
    view.article.setAttribute("aria-busy", "true");
    view.text.setAttribute("aria-live", "polite");
    const run = { controller: new AbortController(), view, discarded: false };
    active = run;
    updateControls();
    setStatus(`Generating with ${model}… (Esc or Stop to stop)`);

    let finished = false;
    let finishReason = null;
    let failure = null;
    try {
      const response = await fetch("/v1/chat/completions", {
        method: "POST",
        headers: requestHeaders({ "content-type": "application/json" }),
        body: JSON.stringify({
          model,
          messages: chat.messages.map(({ role, content }) => ({ role, content })),
          stream: true,
        }),
        signal: run.controller.signal,
      });
      if (!response.ok) throw new Error(await responseError(response));
      if (!response.body) throw new Error("This browser cannot read streamed responses.");
      const reader = response.body.getReader();
      const sse = new SseDecoder();
      while (!finished) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const data of sse.push(value)) {
          if (data === "[DONE]") {
            finished = true;
            break;
          }
          const chunk = parseJson(data);
          if (chunk === null) continue;
          if (chunk.error) throw new Error(errorText(chunk.error));
          const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
          const piece = choice?.delta?.content;
          if (typeof piece === "string" && piece) {
            const following = isFollowing();
            message.content += piece;
            view.text.textContent = message.content;
            if (following) scrollToEnd();
          }
          if (choice?.finish_reason) finishReason = choice.finish_reason;
        }
      }
      if (finished) reader.cancel().catch(() => {});
      else throw new Error("The connection closed before the answer was complete.");
    } catch (error) {
      if (!run.controller.signal.aborted) failure = error instanceof Error ? error.message : String(error);
    }

    if (active === run) active = null;
    if (run.discarded) return; // "New chat" during the stream: that conversation is gone.
    view.article.classList.remove("streaming");
    view.article.setAttribute("aria-busy", "false");

    if (finished) {
      if (finishReason === "length") message.note = "Cut off at the model's token limit.";
      if (!message.content) message.note = "The model sent an empty answer.";
      setStatus("");
    } else if (failure === null) {
      message.note = "Stopped.";
      setStatus("Stopped; the partial answer is kept. Regenerate asks again.");
    } else {
      if (message.content) message.note = "Incomplete: the answer failed part-way.";
      showError(failure);
      setStatus("");
    }
    if (message.content || finished) {
      chat.messages.push(message);
      view.note.textContent = message.note || "";
      view.note.hidden = !message.note;
    } else {
      view.article.remove();
      if (chat.messages.length === 0) render();
    }
    saveChat();
    updateControls();
  }

  // --- wiring -------------------------------------------------------------------------------

  els.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  els.prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    } else if (event.key === "Escape" && active !== null) {
      event.preventDefault();
      stop();
    }
  });
  els.stop.addEventListener("click", stop);
  els.regenerate.addEventListener("click", regenerate);
  els.newChat.addEventListener("click", newChat);
  els.dismissError.addEventListener("click", hideError);
  els.model.addEventListener("change", () => {
    chat.model = els.model.value;
    saveChat();
    updateControls();
  });
  els.apiKey.addEventListener("change", () => {
    writeStorage(API_KEY_STORAGE_KEY, els.apiKey.value.trim() || null);
    void loadModels();
  });

  els.apiKey.value = readStorage(API_KEY_STORAGE_KEY) || "";
  restoreChat();
  render();
  updateControls();
  void loadModels();
  els.prompt.focus();
})();
