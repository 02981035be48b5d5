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

  // Each record once: the page came with the latest ones, and the stream starts a little before the page was made.
  const shown = new Set(feed ? Array.from(feed.querySelectorAll("li[data-id]"), li => li.dataset.id) : []);

  function show(record) {
    if (!feed || shown.has(record.id)) return false;
    shown.add(record.id);
    const li = document.createElement("li");
    li.dataset.kind = record.kind;
    li.dataset.id = record.id;
    const time = document.createElement("span");
    time.className = "muted";
    time.textContent = new Date(record.time).toISOString().substring(11, 19) + " ";
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = record.kind;
    const subject = document.createElement("a");
    subject.href = record.href; // the server says where each kind of subject has its page
    subject.textContent = record.subject;
    const reason = document.createElement("div");
    reason.textContent = record.reason;
    li.append(time, kind, subject, reason);
    feed.prepend(li);
    while (feed.children.length > 100) { shown.delete(feed.lastElementChild.dataset.id); feed.lastElementChild.remove(); }
    return true;
  }

  if (feed || overview) {
    const events = new EventSource("/ui/events");
    events.onmessage = e => {
      const record = JSON.parse(e.data);
      if (show(record) || !feed) refreshOverview();
    };
    // A browser keeps few connections per host: a page that goes away gives its stream back at once.
    window.addEventListener("pagehide", () => events.close());
  }
  if (overview) setInterval(refreshOverview, 5000);
})();
