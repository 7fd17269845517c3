/* Shared by the console's pages: calling the JSON API with the CSRF token,
   building elements (text is always set with textContent, never as HTML: chat
   texts come from children and strangers), durations in Japanese, the alert
   sound and browser notifications. Loaded as a file: the console's CSP allows
   no inline script. */
"use strict";

window.ConsoleKit = (function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  /* One API call (background: a poll, not the counsellor's action). Resolves to {ok, status, data}; a network failure gives
     status 0 so callers can show "reconnecting" instead of throwing. */
  async function api(method, path, body, background) {
    const options = {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
    };
    // A poll the page makes by itself: the server does not count it as the
    // counsellor's action, so an unattended console still signs out when idle.
    if (background) options.headers["X-Console-Background"] = "1";
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (err) {
      return { ok: false, status: 0, data: { message: "サーバーに接続できませんでした。" } };
    }
    if (response.status === 401) {
      // The session ended (logout elsewhere, 8 hours, account disabled): to the login page.
      window.location.assign("/console/login?next=" + encodeURIComponent(location.pathname));
      return { ok: false, status: 401, data: { message: "ログインが必要です。" } };
    }
    let data = {};
    try {
      data = await response.json();
    } catch (err) {
      data = { message: "サーバーの応答を読めませんでした（" + response.status + "）。" };
    }
    return { ok: response.ok, status: response.status, data: data };
  }

  /* el("p", {class: "x", dataset: {id: 1}}, "text", childNode, ...) */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return seconds + "秒";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + "分";
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + "時間" + (minutes % 60) + "分";
    return Math.floor(hours / 24) + "日" + (hours % 24) + "時間";
  }

  function clock(epoch) {
    if (!epoch) return "";
    const d = new Date(epoch * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return (d.getMonth() + 1) + "/" + d.getDate() + " " + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  /* With the year: an earlier chat of the same person may be months old. */
  function dateTime(epoch) {
    if (!epoch) return "";
    return new Date(epoch * 1000).getFullYear() + "/" + clock(epoch);
  }

  /* The server's clock minus ours, so "waiting for 3 min" is right even if the
     tablet's clock is off. */
  let offset = 0;
  function setServerNow(serverNow) {
    if (typeof serverNow === "number") offset = serverNow - Date.now() / 1000;
  }
  function now() {
    return Date.now() / 1000 + offset;
  }

  /* Every element with data-since (epoch seconds) shows the time since then. */
  function tickDurations() {
    for (const node of document.querySelectorAll("[data-since]")) {
      const since = parseFloat(node.dataset.since);
      if (!isNaN(since)) node.textContent = duration(now() - since);
    }
  }
  setInterval(tickDurations, 1000);
  document.addEventListener("DOMContentLoaded", tickDurations);

  /* The alert sound: a short two-tone beep made with WebAudio (no audio file).
     Browsers allow sound only after the user touched the page, so the context
     is made on the first click anywhere. */
  let audio = null;
  function unlockAudio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return false;
    try {
      if (!audio) audio = new Context();
      if (audio.state === "suspended") audio.resume();
      return true;
    } catch (err) {
      return false;
    }
  }
  document.addEventListener("click", unlockAudio, { once: true, capture: true });

  function beep() {
    if (!audio || audio.state !== "running") return false;
    const start = audio.currentTime;
    for (const [offsetSeconds, frequency] of [[0, 880], [0.25, 1175]]) {
      const oscillator = audio.createOscillator();
      const gain = audio.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offsetSeconds);
      gain.gain.exponentialRampToValueAtTime(0.3, start + offsetSeconds + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offsetSeconds + 0.2);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(start + offsetSeconds);
      oscillator.stop(start + offsetSeconds + 0.22);
    }
    return true;
  }

  /* Ask for notification permission: only from a click (browsers ignore it otherwise). */
  async function enableAlerts() {
    const sound = unlockAudio();
    let permission = "unsupported";
    if ("Notification" in window) {
      try {
        permission = await Notification.requestPermission();
      } catch (err) {
        permission = Notification.permission;
      }
    }
    return { sound: sound, permission: permission };
  }

  function notify(title, body, url) {
    if (!("Notification" in window) || Notification.permission !== "granted") return false;
    try {
      const n = new Notification(title, { body: body, tag: "console-urgent", renotify: true });
      n.onclick = function () {
        window.focus();
        if (url) window.location.assign(url);
      };
      return true;
    } catch (err) {
      return false;
    }
  }

  function show(node, visible) {
    if (node) node.hidden = !visible;
  }

  function message(node, text, isError) {
    if (!node) return;
    node.textContent = text || "";
    node.classList.toggle("error", !!isError);
    node.hidden = !text;
  }

  return {
    api, el, duration, clock, dateTime, setServerNow, now, tickDurations,
    beep, enableAlerts, notify, unlockAudio, show, message,
  };
})();
