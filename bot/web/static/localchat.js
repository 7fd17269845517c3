// The local chat page (bot/web/localchat.py): what the user does becomes a LINE
// webhook event; the server builds and signs it, this page posts it to /callback
// exactly as LINE would, and polls for what the bot sent to the stand-in LINE API.
// No inline script and no innerHTML with data: every text is a text node.
"use strict";

(function () {
  const POLL_MS = 700;
  const TYPING_TIMEOUT_MS = 15000;
  const SAFE_URI = /^(https?:|tel:)/i;
  const COLOUR = /^#[0-9a-f]{6}([0-9a-f]{2})?$/i;
  // URLs and hyphenated phone numbers become links, as the LINE app does.
  const LINKS = /(https?:\/\/[^\s<>"'()（）「」、。]+)|(0\d{1,4}-\d{1,4}-\d{3,5})/g;

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const quick = $("quick");
  const input = $("text");
  const language = $("language");
  const accountName = document.querySelector(".account-name").textContent.trim();
  const welcome = $("welcome");

  let user = "";
  let shown = 0; // bot messages shown so far (the "since" of the next poll)
  let generation = 0; // bumped for a new user: late answers for the old one are dropped
  let lastSide = null; // "bot" | "user" | null: LINE shows the avatar once per run
  let sendQueue = Promise.resolve(); // events reach /callback in the order made
  let typing = null;
  let typingTimer = null;
  let offline = false;

  // --- small helpers ---------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function newUserId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "U" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function clock() {
    const now = new Date();
    return String(now.getHours()).padStart(2, "0") + ":" + String(now.getMinutes()).padStart(2, "0");
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function linkify(parent, text) {
    let last = 0;
    for (const match of text.matchAll(LINKS)) {
      if (match.index > last) parent.append(text.slice(last, match.index));
      const link = el("a", null, match[0]);
      if (match[1]) {
        link.href = match[1];
        link.target = "_blank";
        link.rel = "noopener noreferrer";
      } else {
        link.href = "tel:" + match[2].replace(/-/g, "");
      }
      parent.append(link);
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.append(text.slice(last));
  }

  function note(text, isError) {
    hideTyping();
    const node = el("div", "note" + (isError ? " error" : ""), text);
    node.setAttribute("role", isError ? "alert" : "status");
    log.append(node);
    lastSide = null;
    scrollDown();
    return node;
  }

  // --- one row of the conversation ----------------------------------------

  function row(side, content, extraClass) {
    hideTyping();
    const msg = el("div", "msg " + side + (extraClass ? " " + extraClass : ""));
    if (lastSide === side) msg.classList.add("cont");
    const stack = el("div", "stack");
    if (side === "bot") {
      const avatar = el("div", "avatar", "相");
      avatar.setAttribute("aria-hidden", "true");
      msg.append(avatar);
      stack.append(el("div", "sender", accountName));
    }
    stack.append(content);
    msg.append(stack);
    if (side === "user") {
      const meta = el("div", "meta");
      meta.append(el("span", "read"), el("span", "time", clock()));
      msg.append(meta);
    } else {
      msg.append(el("span", "time", clock()));
    }
    log.append(msg);
    lastSide = side;
    scrollDown();
    return msg;
  }

  function markRead() {
    for (const mark of log.querySelectorAll(".msg.user .read:empty")) mark.textContent = "既読";
  }

  function showTyping() {
    if (!typing) {
      typing = el("div", "typing");
      typing.setAttribute("aria-label", "返信を待っています / waiting for the answer");
      typing.append(el("span"), el("span"), el("span"));
    }
    log.append(typing);
    scrollDown();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    if (typing && typing.parentNode) typing.remove();
  }

  // --- what the user sends --------------------------------------------------

  function userBubble(kind, request) {
    if (kind === "text") {
      const bubble = el("div", "bubble");
      linkify(bubble, request.text);
      return row("user", bubble);
    }
    if (kind === "postback") return row("user", el("div", "bubble", request.label));
    if (kind === "sticker") {
      const sticker = el("div", "sticker", "🌙");
      sticker.setAttribute("aria-label", "スタンプ / sticker");
      return row("user", sticker);
    }
    if (kind === "image") {
      // The server sends this same file as the image's content (localchat.SAMPLE_IMAGE).
      const image = el("img", "sample-image");
      image.src = "local/static/sample-evidence.png";
      image.alt = "見本の画像（架空の投稿）/ sample image (a made-up post)";
      return row("user", image);
    }
    if (kind === "location") {
      const place = el("div", "place");
      place.append(el("div", "map", "📍"));
      const text = el("div", "place-text");
      text.append(el("strong", null, "兵庫県庁"), "兵庫県神戸市中央区下山手通5-10-1");
      place.append(text);
      return row("user", place);
    }
    return null;
  }

  async function postEvent(request, forUser, forGeneration) {
    const made = await fetch("local/event", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ user: forUser, language: language.value }, request)),
    });
    const signed = await made.json().catch(() => ({}));
    if (!made.ok) throw new Error("event " + made.status + ": " + (signed.message || ""));
    if (forGeneration !== generation) return;
    // The body exactly as signed, with LINE's header: the bot cannot tell this from LINE.
    const delivered = await fetch("callback", {
      method: "POST",
      headers: { "Content-Type": "application/json; charset=utf-8", "X-Line-Signature": signed.signature },
      body: signed.body,
    });
    if (!delivered.ok) {
      const answer = await delivered.json().catch(() => ({}));
      throw new Error("/callback " + delivered.status + (answer.message ? ": " + answer.message : ""));
    }
  }

  function send(kind, fields, options) {
    const request = Object.assign({ kind: kind }, fields || {});
    const echo = !options || options.echo !== false;
    if (kind !== "follow" && welcome.parentNode) welcome.remove();
    if (kind === "follow") {
      if (welcome.parentNode) welcome.remove();
      note("友だち追加しました / You added the account as a friend");
    } else if (echo) {
      userBubble(kind, request);
    }
    hideQuickReplies();
    const forUser = user;
    const forGeneration = generation;
    sendQueue = sendQueue
      .then(() => postEvent(request, forUser, forGeneration))
      .then(() => {
        if (forGeneration === generation) showTyping();
      })
      .catch((error) => {
        if (forGeneration === generation) note("送れませんでした / Not sent (" + error.message + ")", true);
      });
    return sendQueue;
  }

  // --- what the bot sent ----------------------------------------------------

  function actionNode(action, className, fallbackLabel) {
    const label = action.label || fallbackLabel || "";
    if (action.type === "uri" && SAFE_URI.test(action.uri || "")) {
      const link = el("a", className, label);
      link.href = action.uri;
      if (!/^tel:/i.test(action.uri)) {
        link.target = "_blank";
        link.rel = "noopener noreferrer";
      }
      return link;
    }
    const button = el("button", className, label);
    button.type = "button";
    if (action.type === "postback") {
      button.addEventListener("click", () =>
        send("postback", { data: action.data, label: action.displayText || label },
             { echo: Boolean(action.displayText) }));
    } else if (action.type === "message") {
      button.addEventListener("click", () => send("text", { text: action.text }));
    } else if (action.type === "location") {
      button.addEventListener("click", () => send("location"));
    } else {
      button.disabled = true;
      button.title = "このページでは使えない操作です / not available on this page (" + action.type + ")";
    }
    return button;
  }

  function flexNode(component) {
    if (!component || typeof component !== "object") return null;
    if (component.type === "box") {
      const box = el("div", "fx-box " + (component.layout || "vertical"));
      for (const child of component.contents || []) {
        const node = flexNode(child);
        if (node) box.append(node);
      }
      return box;
    }
    if (component.type === "text") {
      const classes = ["fx-text", component.size || "md"];
      if (component.weight === "bold") classes.push("bold");
      if (component.margin) classes.push("margin");
      const text = el("p", classes.join(" "));
      linkify(text, component.text || "");
      if (COLOUR.test(component.color || "")) text.style.color = component.color;
      return text;
    }
    if (component.type === "button" && component.action) {
      return actionNode(component.action, "fx-button " + (component.style || "link"));
    }
    if (component.type === "separator") return el("hr", "fx-separator");
    return null;
  }

  function flexBubble(bubble) {
    const card = el("article", "card");
    for (const part of ["header", "body", "footer"]) {
      if (!bubble[part]) continue;
      const section = el("div", "card-" + (part === "header" ? "body" : part));
      const node = flexNode(bubble[part]);
      if (node) section.append(node);
      card.append(section);
    }
    return card;
  }

  function botMessage(message) {
    if (message.type === "text") {
      const bubble = el("div", "bubble");
      linkify(bubble, message.text || "");
      return row("bot", bubble);
    }
    if (message.type === "flex") {
      const contents = message.contents || {};
      const bubbles = contents.type === "carousel" ? contents.contents || [] : [contents];
      const carousel = el("div", "carousel");
      carousel.setAttribute("role", "group");
      carousel.setAttribute("aria-label", message.altText || "");
      for (const bubble of bubbles) carousel.append(flexBubble(bubble));
      return row("bot", carousel, "flex");
    }
    if (message.type === "sticker") return row("bot", el("div", "sticker", "🙂"));
    return row("bot", el("div", "bubble", "[" + message.type + "]"));
  }

  // An answer taller than the screen is shown from its first message (in an
  // urgent answer, the one with the number to call), not from its end.
  function reveal(first, last) {
    const height = last.getBoundingClientRect().bottom - first.getBoundingClientRect().top;
    if (height > log.clientHeight) first.scrollIntoView({ block: "start" });
    else scrollDown();
  }

  function hideQuickReplies() {
    quick.replaceChildren();
    quick.hidden = true;
  }

  function showQuickReplies(message) {
    const items = (message && message.quickReply && message.quickReply.items) || [];
    hideQuickReplies();
    for (const item of items) {
      if (!item.action) continue;
      quick.append(actionNode(item.action, "chip"));
    }
    quick.hidden = quick.childElementCount === 0;
  }

  async function poll() {
    const forGeneration = generation;
    try {
      const response = await fetch("local/messages?user=" + encodeURIComponent(user) + "&since=" + shown,
                                   { cache: "no-store" });
      if (!response.ok) throw new Error(String(response.status));
      const data = await response.json();
      if (offline) {
        offline = false;
        note("サーバーに再接続しました / Reconnected");
      }
      if (forGeneration === generation && data.messages.length) {
        const rows = data.messages.map(botMessage);
        shown = data.next;
        markRead();
        // LINE shows the quick replies of the last message only.
        showQuickReplies(data.messages[data.messages.length - 1]);
        reveal(rows[0], rows[rows.length - 1]);
      }
    } catch (error) {
      if (!offline) {
        offline = true;
        note("サーバーに接続できません / Cannot reach the server (" + error.message + ")", true);
      }
    }
    setTimeout(poll, POLL_MS);
  }

  // --- a user ------------------------------------------------------------------

  function startUser(reason) {
    generation += 1;
    user = newUserId();
    shown = 0;
    lastSide = null;
    hideTyping();
    hideQuickReplies();
    log.replaceChildren(welcome);
    $("user-id").textContent = user;
    if (reason) note(reason);
  }

  // --- wiring ----------------------------------------------------------------------

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send("text", { text: text });
  });
  $("btn-follow-start").addEventListener("click", () => send("follow"));
  $("btn-follow").addEventListener("click", () => send("follow"));
  $("btn-sticker").addEventListener("click", () => send("sticker"));
  $("btn-image").addEventListener("click", () => send("image"));
  $("btn-location").addEventListener("click", () => send("location"));
  $("btn-new-user").addEventListener("click", () =>
    startUser("新しいユーザーです / A new user"));
  language.addEventListener("change", () =>
    startUser("プロフィールの言語を " + language.value + " にして新しいユーザーで始めます" +
              "（ボットは言語を最初に一度だけ読みます）/ Profile language " + language.value +
              ": starting as a new user (the bot reads the profile language once)"));

  startUser(null);
  poll();
})();
