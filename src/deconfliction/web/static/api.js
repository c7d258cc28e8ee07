// The page's only door to the service: bearer token from sessionStorage, JSON in and out,
// and a fetch-based SSE reader (EventSource cannot send an Authorization header, and the
// token must never go into a URL).

const TOKEN_KEY = "deconfliction.token";
export const BASE = "/api/v1";

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined && value !== "") q.set(key, value);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

export async function call(method, path, { params, body, token, auth = true, onHeaders } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = token || storedToken();
  if (auth && bearer) headers.Authorization = `Bearer ${bearer}`;
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const response = await fetch(`${BASE}${path}${query(params)}`, { method, headers, body: payload });
  if (onHeaders) onHeaders(response.headers);
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const detail = data && data.detail !== undefined ? data.detail : data;
    throw new ApiError(response.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

export const get = (path, params, opts = {}) => call("GET", path, { ...opts, params });
export const post = (path, body, opts = {}) => call("POST", path, { ...opts, body });

/** A list answer may be a bare array or a page `{items, next}`; follow pages up to `limit`. */
export async function getAll(path, params = {}, limit = 20000, opts = {}) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 200 && items.length < limit; page++) {
    const data = await get(path, cursor ? { ...params, cursor } : params, opts);
    if (Array.isArray(data)) return data;
    if (data && Array.isArray(data.items)) items.push(...data.items);
    else if (data && Array.isArray(data.features)) return data.features;
    cursor = data && (data.next || data.next_cursor || data.cursor);
    if (!cursor) break;
  }
  return items;
}

/**
 * Read `/events` forever, resuming with Last-Event-ID; `onState` gets "up"/"down".
 * `startId` (the `X-Last-Event-ID` of a list just loaded) skips what that list holds.
 */
export function streamEvents(onEvent, onState, signal, path = "/events", startId = null) {
  let lastId = startId;
  const run = async () => {
    while (!signal.aborted) {
      try {
        const headers = { Accept: "text/event-stream", Authorization: `Bearer ${storedToken()}` };
        if (lastId) headers["Last-Event-ID"] = lastId;
        const response = await fetch(`${BASE}${path}`, { headers, signal, cache: "no-store" });
        if (response.status === 401 || response.status === 403) {
          // A revoked token will not come back by retrying.
          onState("refused");
          return;
        }
        if (!response.ok || !response.body) throw new ApiError(response.status, "event stream refused");
        onState("up");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const message = parseBlock(block);
            if (!message) continue;
            if (message.id) lastId = message.id;
            onEvent(message);
          }
        }
      } catch (error) {
        if (signal.aborted) return;
      }
      onState("down");
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
  };
  run();
}

function parseBlock(block) {
  const message = { id: null, event: "message", data: "" };
  let hasData = false;
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      message.data += (hasData ? "\n" : "") + value;
      hasData = true;
    } else if (field === "event") message.event = value;
    else if (field === "id") message.id = value;
  }
  if (!hasData) return null;
  try {
    message.data = JSON.parse(message.data);
  } catch {
    // a non-JSON payload is passed through as text
  }
  return message;
}
