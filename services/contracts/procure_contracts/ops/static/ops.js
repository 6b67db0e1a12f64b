// The dashboard's live part: the events of what this page shows arrive as Server-Sent Events;
// each is listed at the top of "Recent events" and the panels above are read again from the
// server (debounced). Everything else works without this script.
(function () {
  "use strict";
  var list = document.getElementById("events");
  var status = document.getElementById("live-status");
  var panels = document.getElementById("panels");
  if (!list || !status || !window.EventSource) return;
  var timer = null;

  function say(text) { status.textContent = text; }

  function line(event) {
    var item = document.createElement("li");
    item.className = "fresh";
    var when = document.createElement("time");
    when.dateTime = event.time;
    when.textContent = new Date(event.time).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
    var type = document.createElement("span");
    type.className = "type";
    type.textContent = event.type;
    item.append(when, " ", type, " ");
    var title = event.title || (event.contractId ? "contract" : "");
    if (event.contractId) {
      var link = document.createElement("a");
      link.href = "/ops/contracts/" + encodeURIComponent(event.contractId);
      link.textContent = title;
      item.append(link);
    } else if (title) {
      item.append(title);
    }
    if (event.status) {
      var state = document.createElement("span");
      state.className = "state";
      state.textContent = event.status.replace(/_/g, " ");
      item.append(" ", state);
    }
    var empty = list.querySelector(".empty");
    if (empty) empty.remove();
    list.prepend(item);
    while (list.children.length > 50) list.lastElementChild.remove();
  }

  function refresh() {
    if (!panels) return;
    fetch(window.location.href, { headers: { "X-Ops-Fragment": "panels" }, credentials: "same-origin" })
      .then(function (answer) {
        if (answer.redirected) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) { if (html !== null) panels.innerHTML = html; })
      .catch(function () { /* the next event tries again */ });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }

  var source = new EventSource(list.dataset.stream);
  source.addEventListener("live", function () {
    say("Live: new events appear here as they happen.");
    soon(); // catch up on anything that changed while connecting
  });
  source.addEventListener("change", function (message) {
    line(JSON.parse(message.data));
    soon();
  });
  source.addEventListener("closed", function (message) {
    var why = JSON.parse(message.data).reason;
    source.close();
    if (why === "token_expired") { window.location.reload(); return; }
    say("Live updates paused; reconnecting.");
    setTimeout(function () { window.location.reload(); }, 2000);
  });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (signed out, token expired): the page itself says what to do next.
      say("Live updates stopped; reloading.");
      setTimeout(function () { window.location.reload(); }, 5000);
      return;
    }
    say("Live updates interrupted; reconnecting.");
  });
})();
