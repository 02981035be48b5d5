// Fleet's web view: the live feed of decision records (server-sent events, from every silo through the shared trail),
// and the overview refreshed in place when the fleet changes. No framework: a few lines over EventSource and fetch.
(() => {
  const feed = document.getElementById("feed");
  const overview = document.getElementById("overview");
  let refreshing = null;

  function refreshOverview() {
    if (!overview || refreshing) return;
    refreshing = setTimeout(async () => {
      try {
        const response = await fetch("/?handler=Overview", { headers: { "Accept": "text/html" }, credentials: "same-origin" });
        if (response.ok) overview.innerHTML = await response.text();
      } finally { refreshing = null; }
    }, 300);
  }

  function show(record) {
    if (!feed) return;
    const li = document.createElement("li");
    li.dataset.kind = record.kind;
    const time = document.createElement("span");
    time.className = "muted";
    time.textContent = new Date(record.time).toISOString().substring(11, 19) + " ";
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = record.kind;
    const subject = document.createElement("a");
    subject.href = record.subject.startsWith("node/") ? "/ui/nodes/" + encodeURIComponent(record.subject.substring(5))
      : record.subject.startsWith("service/") ? "/ui/services/" + encodeURIComponent(record.subject.substring(8)) : "/ui/audit?subject=" + encodeURIComponent(record.subject);
    subject.textContent = record.subject;
    const reason = document.createElement("div");
    reason.textContent = record.reason;
    li.append(time, kind, subject, reason);
    feed.prepend(li);
    while (feed.children.length > 100) feed.lastElementChild.remove();
  }

  if (feed || overview) {
    const events = new EventSource("/ui/events");
    events.onmessage = e => {
      const record = JSON.parse(e.data);
      show(record);
      refreshOverview();
    };
    // A browser keeps few connections per host: a page that goes away gives its stream back at once.
    window.addEventListener("pagehide", () => events.close());
  }
  if (overview) setInterval(refreshOverview, 5000);
})();
