/* The chat page: draws the transcript and keeps it current (asks
   /api/queue/version every ~2 s, then only the new entries with ?since=),
   and wires the buttons to the JSON API: take, reply, canned replies, cards,
   notes, escalation, transfer, back to the queue or the bot, close with the
   record. What may be done is decided by the server; the page only hides
   what would be refused. */
"use strict";

(function () {
  const K = window.ConsoleKit;
  const app = document.getElementById("chat-app");
  if (!app) return;

  const hid = app.dataset.hid;
  const me = app.dataset.me;
  const supervisor = app.dataset.supervisor === "1";
  const pollMs = parseInt(app.dataset.pollMs, 10) || 2000;
  const base = "/api/handoffs/" + encodeURIComponent(hid);
  const status = document.getElementById("status");
  const connection = document.getElementById("connection");
  const transcript = document.getElementById("transcript");

  let version = null;
  let length = 0; // transcript entries drawn so far
  let handoff = null;
  let busy = false;

  const WHO = { user: "相談者", bot: "ボット", counsellor: "相談員", note: "メモ", system: "記録" };

  function entryNode(e) {
    const who = WHO[e.from] || e.from;
    const head = K.el("p", { class: "entry-head" },
      K.el("span", { class: "who who-" + e.from, text: who + (e.by && e.from !== "system" ? "（" + e.by + "）" : "") }),
      K.el("time", { text: K.clock(e.at) }));
    let body;
    if (e.kind === "image" && e.image_url) {
      body = K.el("a", { href: e.image_url, target: "_blank", rel: "noopener", class: "evidence" },
        K.el("img", { src: e.image_url, alt: "相談者が送った画像 " + e.image, loading: "lazy" }));
    } else if (e.kind === "card") {
      body = K.el("p", { class: "bubble" }, "窓口カードを送りました：", K.el("strong", { text: e.text }));
    } else if (e.pii && e.pii.length) {
      body = K.el("p", { class: "bubble" }, ...piiPieces(e.text, e.pii));
    } else if (e.from === "bot") {
      body = botBubble(e);
    } else {
      body = K.el("p", { class: "bubble", text: e.text });
    }
    return K.el("li", { class: "entry from-" + e.from + " kind-" + e.kind, dataset: { n: e.n } }, head, body);
  }

  /* The bot's message as the user got it: its text, the cards and the buttons it
     offered, and the language it was sent in when that was not Japanese. */
  function botBubble(e) {
    const parts = [];
    if (e.lang && e.lang !== "ja") parts.push(K.el("span", { class: "tag muted sent-lang", text: e.lang_label + "で送信" }));
    if (e.shown_again) parts.push(K.el("span", { class: "tag muted", text: "再現（送った文面は残っていません）" }));
    if (e.text) parts.push(K.el("span", { class: "bot-text", text: e.text }));
    if (e.cards && e.cards.length) {
      parts.push(K.el("span", { class: "bot-cards" }, ...e.cards.map((c) => K.el("span", { class: "chip card-chip", text: "窓口カード：" + c }))));
    }
    if (e.choices && e.choices.length) {
      parts.push(K.el("span", { class: "bot-choices" }, ...e.choices.map((c) => K.el("span", { class: "chip choice-chip", text: c }))));
    }
    return K.el("p", { class: "bubble" }, ...parts);
  }

  const PII_LABELS = { phone: "電話番号", email: "メールアドレス", address: "住所" };

  /* The user's text cut at the server's spans (UTF-16 offsets, as JS counts), the
     personal data wrapped in <mark>. Every piece is a text node: the user's words
     are never parsed as HTML. */
  function piiPieces(text, spans) {
    const pieces = [];
    let at = 0;
    for (const s of spans) {
      if (!(s.start >= at && s.end > s.start && s.end <= text.length)) continue;
      if (s.start > at) pieces.push(document.createTextNode(text.slice(at, s.start)));
      const label = PII_LABELS[s.kind] || "個人情報";
      pieces.push(K.el("mark", { class: "pii pii-" + s.kind, title: label + "（個人情報）", text: text.slice(s.start, s.end) }));
      at = s.end;
    }
    if (at < text.length) pieces.push(document.createTextNode(text.slice(at)));
    return pieces;
  }

  function isMine(h) {
    return h.status === "claimed" && h.claimed_by === me;
  }

  /* Show what fits the chat's state; the server refuses anything else anyway. */
  function applyState(h) {
    handoff = h;
    app.dataset.status = h.status;
    const open = h.status === "waiting" || h.status === "claimed";
    const canTalk = h.status === "claimed" && (isMine(h) || supervisor);
    const canManage = open && (isMine(h) || supervisor);
    document.getElementById("h-status").textContent = h.status_label;
    document.getElementById("h-severity").textContent = h.severity_label;
    document.getElementById("h-holder").textContent = "担当：" + (h.claimed_by || "なし");
    const head = document.getElementById("chat-head");
    head.className = "chat-head item severity-" + (h.severity || "none");

    K.show(document.getElementById("btn-claim"), h.status === "waiting");
    K.show(document.getElementById("btn-escalate"), canManage);
    K.show(document.getElementById("reply-form"), canTalk);
    K.show(document.getElementById("reply-closed"), !open);
    K.show(document.getElementById("reply-not-mine"), open && !canTalk);
    K.show(document.getElementById("note-form"), canManage || (!open && (supervisor || h.closed_by === me)));
    K.show(document.getElementById("manage"), canManage);
    document.getElementById("btn-close-open").hidden = h.status !== "claimed";
    for (const b of document.querySelectorAll(".card-button")) b.disabled = !canTalk;
    if (!open) K.show(document.getElementById("close-panel"), false);

    const banner = document.getElementById("alert-banner");
    if (h.alert && open) {
      document.getElementById("alert-text").textContent = "⚠ " + h.alert_label +
        (h.alert === "danger" ? "：相談者のメッセージに新たな危険のサインがありました。やりとりを確認してください。"
                              : "：しばらく操作がありません。相談者が待っていないか確認してください。");
      K.show(document.getElementById("btn-clear-alert"), canManage);
      K.show(banner, true);
    } else {
      K.show(banner, false);
    }
  }

  async function load() {
    const result = await K.api("GET", base + "?since=" + length, null, true);
    if (!result.ok) {
      if (result.status === 404) K.message(status, result.data.message, true);
      return false;
    }
    const data = result.data;
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
    if (data.transcript_length < length) {
      transcript.replaceChildren(); // never expected, but never show a mixed-up transcript
      length = 0;
      return load();
    }
    for (const e of data.transcript) transcript.append(entryNode(e));
    length = data.transcript_length;
    const wasStatus = handoff && handoff.status;
    applyState(data.handoff);
    if (wasStatus && wasStatus !== data.handoff.status && data.handoff.status !== "claimed") {
      // Closed or returned elsewhere: reload to show the final state and the record.
      if (data.handoff.status === "closed" || data.handoff.status === "bot") window.location.reload();
    }
    if (data.transcript.length && atBottom) transcript.lastElementChild.scrollIntoView({ block: "nearest" });
    version = data.version;
    return true;
  }

  async function poll() {
    if (!busy) {
      busy = true;
      try {
        const v = await K.api("GET", "/api/queue/version", null, true);
        K.show(connection, v.status === 0 || v.status >= 500);
        if (v.ok && v.data.version !== version) {
          await load();
          document.dispatchEvent(new CustomEvent("queue-changed")); // the side queue redraws
        }
      } finally {
        busy = false;
      }
    }
    setTimeout(poll, pollMs);
  }

  /* POST an action; on success redraw, on refusal say why (e.g. who has the chat). */
  async function act(path, body, button, done) {
    if (button) button.disabled = true;
    K.message(status, "");
    const result = await K.api("POST", base + path, body);
    if (button) button.disabled = false;
    if (!result.ok) {
      K.message(status, result.data.message || "操作できませんでした。", true);
      await load();
      return null;
    }
    if (done) done(result.data);
    await load();
    return result.data;
  }

  document.getElementById("btn-claim").addEventListener("click", (event) => {
    act("/claim", {}, event.currentTarget, () => K.message(status, "担当しました。相談者に「相談員がつながりました」と送られます。"));
  });

  const replyText = document.getElementById("reply-text");
  const replyCount = document.getElementById("reply-count");
  replyText.addEventListener("input", () => { replyCount.textContent = replyText.value.length; });
  /* Ctrl+Enter (⌘+Enter on a Mac) sends, as in the help desks' consoles; Enter alone
     is a new line: a counsellor's reply is often several lines. */
  for (const [box, form] of [[replyText, "reply-form"], [document.getElementById("note-text"), "note-form"]]) {
    box.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && !event.isComposing) {
        event.preventDefault();
        document.getElementById(form).requestSubmit();
      }
    });
  }
  document.getElementById("reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = replyText.value.trim();
    if (!text) return;
    const sent = await act("/reply", { text: text }, document.getElementById("btn-reply"));
    if (sent) {
      replyText.value = "";
      replyCount.textContent = "0";
      transcript.lastElementChild && transcript.lastElementChild.scrollIntoView({ block: "nearest" });
    }
  });
  /* Search the canned replies by title, text and source as the counsellor types. */
  const cannedSearch = document.getElementById("canned-search");
  cannedSearch.addEventListener("input", () => {
    const words = cannedSearch.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const item of document.querySelectorAll("#canned-list .canned-item")) {
      const text = item.dataset.search.toLowerCase();
      const match = words.every((w) => text.includes(w));
      item.hidden = !match;
      if (match) shown += 1;
    }
    K.show(document.getElementById("canned-none"), shown === 0);
  });

  /* The counsellor's own canned replies: the reply box's text saved under a name;
     deleted from the list. The server keeps them for this account only. */
  const ownAdd = document.getElementById("btn-own-add");
  ownAdd.addEventListener("click", async () => {
    const title = document.getElementById("own-title").value.trim();
    const text = replyText.value.trim();
    if (!title || !text) {
      K.message(status, "名前を入れ、返信欄に定型文にする文を書いてから押してください。", true);
      return;
    }
    ownAdd.disabled = true;
    const result = await K.api("POST", "/api/canned/mine", { title: title, text: text });
    ownAdd.disabled = false;
    if (!result.ok) { K.message(status, result.data.message || "保存できませんでした。", true); return; }
    window.location.reload();
  });
  for (const button of document.querySelectorAll(".own-delete")) {
    button.addEventListener("click", async () => {
      if (!window.confirm("この自分の定型文を消します。よろしいですか？")) return;
      const result = await K.api("POST", "/api/canned/mine/" + encodeURIComponent(button.dataset.id) + "/delete", {});
      if (result.ok) button.closest("li").remove();
      else K.message(status, result.data.message || "消せませんでした。", true);
    });
  }

  for (const button of document.querySelectorAll(".canned-button")) {
    button.addEventListener("click", () => {
      const text = button.dataset.canned;
      replyText.value = replyText.value ? replyText.value.replace(/\s*$/, "\n") + text : text;
      replyCount.textContent = replyText.value.length;
      replyText.focus();
    });
  }

  for (const button of document.querySelectorAll(".card-button")) {
    button.addEventListener("click", () => {
      act("/card", { hotline: button.dataset.hotline }, button, () => {
        K.message(status, "窓口カードを送りました。");
        // Sent now: ticked in the closing record's 「紹介した窓口」 too.
        const box = document.querySelector('input[name="referred"][value="' + CSS.escape(button.dataset.hotline) + '"]');
        if (box) box.checked = true;
      });
    });
  }

  const noteText = document.getElementById("note-text");
  document.getElementById("note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = noteText.value.trim();
    if (!text) return;
    if (await act("/note", { text: text }, document.getElementById("btn-note"))) noteText.value = "";
  });

  document.getElementById("btn-escalate").addEventListener("click", (event) => {
    if (!window.confirm("命に関わる相談として緊急対応を始めます。操作は記録されます。よろしいですか？")) return;
    act("/escalate", {}, event.currentTarget, () => {
      const panel = document.getElementById("escalation");
      K.show(panel, true);
      panel.scrollIntoView({ block: "start" });
    });
  });

  document.getElementById("btn-clear-alert").addEventListener("click", (event) => {
    act("/alert/clear", {}, event.currentTarget);
  });

  document.getElementById("transfer-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const to = document.getElementById("transfer-to").value;
    if (!to) return;
    act("/transfer", { to: to }, document.getElementById("btn-transfer"),
        () => K.message(status, to + " さんに引き継ぎました。"));
  });

  document.getElementById("btn-requeue").addEventListener("click", (event) => {
    if (!window.confirm("この相談を待機列に戻します（元の順番に戻ります）。よろしいですか？")) return;
    act("/requeue", {}, event.currentTarget, () => window.location.assign(app.dataset.home));
  });

  document.getElementById("btn-return").addEventListener("click", (event) => {
    if (!window.confirm("この相談をボットに戻します。相談者にはボットのメニューが届きます。よろしいですか？")) return;
    act("/return", {}, event.currentTarget, () => window.location.reload());
  });

  const closePanel = document.getElementById("close-panel");
  document.getElementById("btn-close-open").addEventListener("click", () => {
    K.show(closePanel, true);
    closePanel.scrollIntoView({ block: "start" });
    document.getElementById("rec-advice").focus();
  });
  document.getElementById("btn-close-cancel").addEventListener("click", () => K.show(closePanel, false));

  document.getElementById("close-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const checked = form.querySelector('input[name="school_contact_agreed"]:checked');
    const record = {
      role: form.elements.role.value,
      category: form.elements.category.value,
      advice: form.elements.advice.value,
      referred: [...form.querySelectorAll('input[name="referred"]:checked')].map((i) => i.value),
      school_contact_agreed: checked ? checked.value : "",
      follow_up: {
        needed: document.getElementById("rec-follow").checked,
        text: document.getElementById("rec-follow-text").value,
        due: document.getElementById("rec-follow-due").value,
      },
    };
    act("/close", { record: record }, document.getElementById("btn-close"), () => window.location.reload());
  });

  /* The same person's earlier chats: what the desk wrote then (record, follow-up,
     notes). Loaded once with the page; the person does not change. */
  function historyNode(h) {
    const when = K.dateTime(h.queued_at);
    const head = K.el("p", { class: "item-tags" },
      K.el("span", { class: "tag severity severity-" + (h.severity || "none"), text: h.severity_label }),
      K.el("span", { class: "tag", text: h.category_label }),
      K.el("span", { class: "tag muted", text: h.status_label }));
    const parts = [K.el("p", { class: "history-when" }, K.el("strong", { text: when }),
      " 対応：" + (h.counsellors.length ? h.counsellors.join("、") : "なし")), head];
    const f = h.follow_up;
    if (f) {
      const label = f.open ? "要フォロー（期限 " + (f.due || "未設定") + "）"
                           : "フォロー済み" + (f.done_by ? "（" + f.done_by + "）" : "");
      parts.push(K.el("p", { class: "follow-up " + (f.open ? "open" : "done") },
        K.el("strong", { text: label }), "：" + f.text));
    }
    if (h.record && h.record.advice) {
      parts.push(K.el("p", { class: "history-advice" }, K.el("span", { class: "muted", text: "助言：" }), h.record.advice));
    }
    for (const n of h.notes) {
      parts.push(K.el("p", { class: "history-note" },
        K.el("span", { class: "who who-note", text: "メモ" + (n.by ? "（" + n.by + "）" : "") }), " " + n.text));
    }
    if (h.can_read) parts.push(K.el("a", { href: h.url, class: "history-open", text: "この相談のやりとりを開く" }));
    return K.el("li", { class: "history-item", dataset: { id: h.id } }, ...parts);
  }

  async function loadHistory() {
    const result = await K.api("GET", base + "/history", null, true);
    if (!result.ok || !result.data.history.length) return;
    const list = document.getElementById("history-list");
    list.replaceChildren(...result.data.history.map(historyNode));
    document.getElementById("history-count").textContent = result.data.history.length + "件";
    K.show(document.getElementById("history"), true);
  }

  loadHistory();
  poll();
})();
