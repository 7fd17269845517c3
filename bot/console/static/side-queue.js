/* The queue beside the open chat (wide screens): the waiting and claimed chats
   through the same filter bar as the queue page, the open one marked, each a
   link; j/k (keys.js) open the next or previous. Redrawn when the queue changes
   (chat.js tells it: "queue-changed") or the filters do. */
"use strict";

(function () {
  const K = window.ConsoleKit;
  const F = window.ConsoleFilters;
  const app = document.getElementById("chat-app");
  const box = document.getElementById("side-queue");
  if (!app || !box) return;
  const me = app.dataset.me;
  const current = app.dataset.hid;
  F.setMe(me);
  let lists = null;

  function item(h) {
    const tags = [K.el("span", { class: "tag severity", text: h.severity_label }),
                  K.el("span", { class: "tag", text: h.category_label })];
    if (h.earlier) tags.push(K.el("span", { class: "tag history-tag", text: "過去 " + h.earlier }));
    if (h.alert) tags.push(K.el("span", { class: "tag alert-tag", text: "⚠" }));
    const who = h.status === "waiting" ? (h.position ? h.position + "番・待ち " + K.duration(h.waiting_seconds) : "待機中")
                                       : "担当：" + h.claimed_by + (h.claimed_by === me ? "（あなた）" : "");
    return K.el("article", {
      class: "item side-item severity-" + (h.severity || "none") + (h.id === current ? " current" : "")
        + (h.claimed_by === me ? " mine" : ""),
      dataset: { id: h.id },
    },
      K.el("div", { class: "item-main" },
        K.el("p", { class: "item-tags" }, ...tags),
        K.el("p", { class: "meta" },
          K.el("a", { href: "/console/h/" + encodeURIComponent(h.id), class: "pseudonym",
                      "aria-current": h.id === current ? "page" : null, text: h.user }),
          " " + who)));
  }

  function draw() {
    if (!lists) return;
    const waiting = lists.waiting.filter(F.matches);
    const claimed = lists.claimed.filter(F.matches);
    document.getElementById("side-waiting").replaceChildren(...waiting.map(item));
    document.getElementById("side-claimed").replaceChildren(...claimed.map(item));
    document.getElementById("side-count-waiting").textContent = waiting.length + "件";
    document.getElementById("side-count-claimed").textContent = claimed.length + "件";
    K.show(document.getElementById("side-empty"), !waiting.length && !claimed.length);
  }

  async function refresh() {
    const [w, c] = await Promise.all([
      K.api("GET", "/api/handoffs?status=waiting", null, true),
      K.api("GET", "/api/handoffs?status=claimed", null, true),
    ]);
    if (!w.ok || !c.ok) return;
    lists = { waiting: w.data.handoffs, claimed: c.data.handoffs };
    draw();
  }

  F.onChange(draw);
  document.addEventListener("queue-changed", refresh);
  refresh();
})();
