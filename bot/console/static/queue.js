/* The queue page: asks /api/queue/version every ~2 s and redraws the lists
   only when it changed. A new urgent chat beeps, shows a browser notification
   (if the counsellor allowed them) and puts the number of urgent waiting chats
   in the tab's title, so it is seen from another tab too. */
"use strict";

(function () {
  const K = window.ConsoleKit;
  const app = document.getElementById("queue-app");
  if (!app) return;

  const pollMs = parseInt(app.dataset.pollMs, 10) || 2000;
  const me = app.dataset.me;
  const chatUrl = (id) => app.dataset.chatUrl.replace("__ID__", encodeURIComponent(id));
  const status = document.getElementById("status");
  const connection = document.getElementById("connection");
  const baseTitle = document.title;

  const F = window.ConsoleFilters;
  F.setMe(me);
  let lists = null; // the last lists read: {waiting, claimed, closed}
  let found = null; // closed chats found by the search (the server's), or null

  let version = null;
  let knownUrgent = null; // ids of urgent waiting chats already announced (null: first load)
  let knownDanger = null; // ids with a danger alert already announced
  let busy = false;

  function tags(h) {
    const list = [
      K.el("span", { class: "tag severity", text: h.severity_label }),
      K.el("span", { class: "tag", text: h.role_label }),
      K.el("span", { class: "tag", text: h.category_label }),
    ];
    if (h.lang !== "ja") list.push(K.el("span", { class: "tag muted", text: h.lang_label }));
    if (h.alert) list.push(K.el("span", { class: "tag alert-tag", text: "⚠ " + h.alert_label }));
    if (h.escalated) list.push(K.el("span", { class: "tag danger-tag", text: "緊急対応済み" }));
    if (h.earlier) {
      list.push(K.el("span", { class: "tag history-tag", title: "同じ相談者の以前の相談があります（チャット画面に表示）",
                               text: "過去の相談 " + h.earlier + "件" }));
    }
    if (h.earlier_follow_up) list.push(K.el("span", { class: "tag follow-tag", text: "前回 要フォロー" }));
    return K.el("p", { class: "item-tags" }, ...list);
  }

  function reasons(h) {
    if (!h.reasons || !h.reasons.length) return null;
    const items = [];
    h.reasons.forEach((r, i) => {
      if (i) items.push("、");
      // The words for the counsellor; the code (for a supervisor's question) on hover.
      items.push(K.el("span", { class: "reason", title: r, text: (h.reason_labels || [])[i] || r }));
    });
    return K.el("p", { class: "reasons" }, "検知したサイン：", ...items);
  }

  function waitingItem(h) {
    const claimButton = K.el("button", {
      type: "button", class: "button primary claim", dataset: { id: h.id }, text: "担当する",
    });
    return K.el("article", {
      class: "item severity-" + (h.severity || "none") + (h.urgent ? " urgent" : ""),
      dataset: { id: h.id },
    },
      K.el("div", { class: "item-position", text: h.position ? h.position + "番" : "" }),
      K.el("div", { class: "item-main" },
        tags(h),
        K.el("p", { class: "meta" },
          K.el("a", { href: chatUrl(h.id), class: "pseudonym", text: "相談者 " + h.user }),
          "　待ち時間 ",
          K.el("strong", { class: "since", dataset: { since: h.queued_at }, text: K.duration(h.waiting_seconds) }),
          "（" + K.clock(h.queued_at) + " 受付）"),
        reasons(h)),
      K.el("div", { class: "item-actions" },
        claimButton,
        K.el("a", { href: chatUrl(h.id), class: "button secondary", text: "見る" })));
  }

  function claimedItem(h) {
    const mine = h.claimed_by === me;
    return K.el("article", {
      class: "item severity-" + (h.severity || "none") + (mine ? " mine" : ""),
      dataset: { id: h.id },
    },
      K.el("div", { class: "item-main" },
        tags(h),
        K.el("p", { class: "meta" },
          K.el("a", { href: chatUrl(h.id), class: "pseudonym", text: "相談者 " + h.user }),
          "　担当：", K.el("strong", { class: "holder", text: h.claimed_by + (mine ? "（あなた）" : "") }),
          "　担当から ",
          K.el("span", { class: "since", dataset: { since: h.claimed_at }, text: "" })),
        reasons(h)),
      K.el("div", { class: "item-actions" },
        K.el("a", { href: chatUrl(h.id), class: mine ? "button primary" : "button secondary",
                    text: mine ? "開く" : "見る" })));
  }

  function closedItem(h) {
    return K.el("article", { class: "item severity-" + (h.severity || "none"), dataset: { id: h.id } },
      K.el("div", { class: "item-main" },
        K.el("p", { class: "meta" },
          K.el("a", { href: chatUrl(h.id), class: "pseudonym", text: "相談者 " + h.user }),
          "　" + h.status_label + "　" + K.clock(h.closed_at) + "　" + (h.closed_by || ""),
          "　" + h.role_label + "／" + h.category_label)));
  }

  function followUpItem(f) {
    const when = f.overdue ? "期限切れ（" + f.due + "）" : (f.due_today ? "今日まで（" + f.due + "）" : "期限 " + f.due);
    return K.el("article", { class: "item follow-up-item" + (f.overdue ? " overdue" : ""), dataset: { id: f.id } },
      K.el("div", { class: "item-main" },
        K.el("p", { class: "meta" },
          K.el("strong", { class: "due", text: when }), "　",
          K.el("a", { href: f.url, class: "pseudonym", text: "相談者 " + f.user }),
          "　" + f.category_label + "　終了 " + K.clock(f.closed_at) + "（" + (f.closed_by || "") + "）"),
        K.el("p", { class: "follow-text", text: f.text })),
      K.el("div", { class: "item-actions" },
        K.el("button", { type: "button", class: "button follow-done", dataset: { id: f.id }, text: "完了にする" })));
  }

  function fill(containerId, emptyId, items, make) {
    const container = document.getElementById(containerId);
    container.replaceChildren(...items.map(make));
    K.show(document.getElementById(emptyId), items.length === 0);
  }

  function announce(waiting, alerts) {
    const urgent = waiting.filter((h) => h.urgent);
    const danger = alerts.filter((a) => a.alert === "danger").map((a) => a.id);
    const count = urgent.length;
    document.title = count > 0 ? "(" + count + ") " + baseTitle : baseTitle;
    const urgentBadge = document.getElementById("count-urgent");
    urgentBadge.textContent = "うち緊急 " + count;
    K.show(urgentBadge, count > 0);

    const fresh = knownUrgent === null ? [] : urgent.filter((h) => !knownUrgent.has(h.id));
    const freshDanger = knownDanger === null ? [] : danger.filter((id) => !knownDanger.has(id));
    knownUrgent = new Set(urgent.map((h) => h.id));
    knownDanger = new Set(danger);
    for (const h of fresh) {
      const node = document.querySelector('#waiting [data-id="' + CSS.escape(h.id) + '"]');
      if (node) node.classList.add("new");
    }
    if (fresh.length || freshDanger.length) {
      K.beep();
      const h = fresh[0];
      const body = h ? h.severity_label + "：" + h.category_label + "（" + h.role_label + "）"
                     : "対応中または待機中の相談に、新たな危険のサインがあります。";
      K.notify("緊急の相談があります", body, h ? chatUrl(h.id) : null);
    }
  }

  async function refresh() {
    const [w, c, d, f] = await Promise.all([
      K.api("GET", "/api/handoffs?status=waiting", null, true),
      K.api("GET", "/api/handoffs?status=claimed", null, true),
      K.api("GET", "/api/handoffs?status=closed&limit=10", null, true),
      K.api("GET", "/api/follow-ups", null, true),
    ]);
    if (!w.ok || !c.ok || !d.ok || !f.ok) return false;
    fill("follow-ups", "follow-ups-empty", f.data.follow_ups, followUpItem);
    const overdue = f.data.follow_ups.filter((x) => x.overdue || x.due_today).length;
    document.getElementById("count-follow-ups").textContent =
      f.data.follow_ups.length + "件" + (overdue ? "（うち今日まで・期限切れ " + overdue + "）" : "");
    K.setServerNow(w.data.now);
    lists = { waiting: w.data.handoffs, claimed: c.data.handoffs, closed: d.data.handoffs };
    draw();
    const alerts = [...w.data.handoffs, ...c.data.handoffs].filter((h) => h.alert)
      .map((h) => ({ id: h.id, alert: h.alert }));
    announce(w.data.handoffs, alerts);
    K.tickDurations();
    return true;
  }

  /* The lists through the filter bar; the counts say how many of how many. */
  function draw() {
    if (!lists) return;
    const shown = (list) => list.filter(F.matches);
    const count = (all, some) => some.length === all.length ? all.length + "件" : some.length + "件（全" + all.length + "件）";
    const waiting = shown(lists.waiting);
    const claimed = shown(lists.claimed);
    fill("waiting", "waiting-empty", waiting, waitingItem);
    fill("claimed", "claimed-empty", claimed, claimedItem);
    const closed = found !== null ? found : shown(lists.closed);
    fill("closed", "closed-empty", closed, closedItem);
    document.getElementById("closed-title").textContent = found !== null ? "検索結果（終了した相談）" : "最近終了した相談";
    document.getElementById("count-waiting").textContent = count(lists.waiting, waiting);
    document.getElementById("count-claimed").textContent = count(lists.claimed, claimed);
    document.dispatchEvent(new CustomEvent("lists-drawn"));
  }

  /* Finished chats are searched on the server (their records, and for supervisors
     their transcripts); open ones are all on the page already. */
  let searchTimer = null;
  async function search() {
    const q = F.state().q;
    if (!q) { found = null; draw(); return; }
    const result = await K.api("GET", "/api/search?q=" + encodeURIComponent(q), null, true);
    if (result.ok && F.state().q === q) { found = result.data.handoffs; draw(); }
  }
  F.onChange(() => {
    draw();
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 300);
  });

  async function poll() {
    if (!busy) {
      busy = true;
      try {
        const v = await K.api("GET", "/api/queue/version", null, true);
        K.show(connection, v.status === 0 || v.status >= 500);
        if (v.ok && v.data.version !== version) {
          if (await refresh()) version = v.data.version;
        }
      } finally {
        busy = false;
      }
    }
    setTimeout(poll, pollMs);
  }

  async function claim(button) {
    const id = button.dataset.id;
    button.disabled = true;
    const result = await K.api("POST", "/api/handoffs/" + encodeURIComponent(id) + "/claim");
    if (result.ok) {
      window.location.assign(chatUrl(id));
      return;
    }
    button.disabled = false;
    // 409 taken: someone else was quicker; the message names who has it.
    K.message(status, result.data.message || "担当できませんでした。", true);
    version = null; // redraw at the next poll
  }

  async function followUpDone(button) {
    const id = button.dataset.id;
    if (!window.confirm("このフォローアップを完了にします。操作は記録されます。よろしいですか？")) return;
    button.disabled = true;
    const result = await K.api("POST", "/api/handoffs/" + encodeURIComponent(id) + "/follow-up/done");
    if (!result.ok) {
      button.disabled = false;
      K.message(status, result.data.message || "完了にできませんでした。", true);
    } else {
      K.message(status, "フォローアップを完了にしました。");
    }
    version = null; // redraw at the next poll
  }

  app.addEventListener("click", (event) => {
    const button = event.target.closest("button.claim");
    if (button) claim(button);
    const done = event.target.closest("button.follow-done");
    if (done) followUpDone(done);
  });

  document.getElementById("enable-alerts").addEventListener("click", async () => {
    const state = await K.enableAlerts();
    const words = [];
    words.push(state.sound ? "音：有効" : "音：このブラウザでは使えません");
    if (state.permission === "granted") words.push("通知：有効");
    else if (state.permission === "denied") words.push("通知：ブラウザの設定で拒否されています");
    else if (state.permission === "unsupported") words.push("通知：このブラウザでは使えません");
    else words.push("通知：未許可");
    document.getElementById("alert-state").textContent = words.join("／");
    K.beep();
  });

  if (F.state().q) search();
  poll();
})();
