// kubectl bluegreen dashboard: lays out the snapshots the server pushes. It computes
// nothing and fetches nothing but api/stream; the timeline SVG comes drawn (and
// escaped) by the server, every other text goes in as text, never as markup.
"use strict";

(function () {
  const releases = document.getElementById("releases");
  const problems = document.getElementById("problems");
  const scope = document.getElementById("scope");
  const connection = document.getElementById("connection");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function revisions(release) {
    const fields = [
      ["desired", release.revisions.desired],
      ["active", release.revisions.active],
      ["preview", release.revisions.preview],
      ["previous", release.revisions.previous],
      ["ready", release.ready],
      ["hold", release.hold],
      ["image", release.image],
      ["age", release.age],
    ];
    const list = el("dl", { class: "revisions" });
    for (const [name, value] of fields) {
      list.append(el("div", { "data-field": name }, el("dt", { text: name }), el("dd", { text: value })));
    }
    return list;
  }

  function conditions(release) {
    const list = el("ul", { class: "conditions" });
    for (const c of release.conditions) {
      const item = el("li", { "data-type": c.type, "data-status": c.status, text: `${c.type}=${c.status}` });
      item.title = [c.reason, c.message].filter(Boolean).join(": ");
      list.append(item);
    }
    return list;
  }

  function events(release) {
    if (!release.events.length) return el("p", { class: "empty", text: "No events." });
    const table = el("table", { class: "events" });
    const head = el("tr", {}, ...["when", "type", "reason", "message"].map((h) => el("th", { text: h })));
    table.append(el("thead", {}, head));
    const body = el("tbody");
    for (const e of release.events) {
      const when = el("td", { text: e.ago });
      when.title = e.time + (e.count > 1 ? ` (${e.count} times)` : "");
      body.append(
        el("tr", { "data-type": e.type, "data-reason": e.reason }, when,
          el("td", { text: e.type }), el("td", { class: "reason", text: e.reason }),
          el("td", { text: e.message }))
      );
    }
    table.append(body);
    return table;
  }

  function card(release, allNamespaces) {
    const section = el("section", {
      class: "release",
      "data-key": release.key,
      "data-phase": release.phase,
      "data-verdict": release.verdict,
    });
    const title = allNamespaces ? release.key : release.name;
    section.append(el("h2", {}, el("span", { class: "name", text: title }),
      el("span", { class: "phase", text: release.phase })));
    if (release.message) section.append(el("p", { class: "message", text: release.message }));
    section.append(revisions(release));
    const timeline = el("div", { class: "timeline" });
    timeline.innerHTML = release.timeline; // drawn and escaped by the server
    section.append(timeline, conditions(release), events(release));
    return section;
  }

  function render(snapshot) {
    scope.textContent = `${snapshot.scope} · context ${snapshot.context} · ${snapshot.server} · as of ${snapshot.generatedAt}`;
    problems.replaceChildren(
      ...snapshot.problems.map((p) => el("li", { class: "problem", role: "alert", text: p }))
    );
    const all = snapshot.scope === "all namespaces";
    const cards = snapshot.releases.map((r) => card(r, all));
    if (!cards.length) {
      const text = snapshot.loading ? "Loading…" : `No BlueGreenRelease in ${snapshot.scope}.`;
      cards.push(el("p", { class: "empty", text }));
    }
    releases.replaceChildren(...cards);
    document.body.dataset.generatedAt = snapshot.generatedAt;
  }

  const stream = new EventSource("api/stream");
  stream.onmessage = (message) => {
    connection.dataset.state = "live";
    connection.textContent = "live";
    render(JSON.parse(message.data));
  };
  stream.onerror = () => {
    // EventSource reconnects by itself; say so meanwhile.
    connection.dataset.state = "lost";
    connection.textContent = "reconnecting";
  };
})();
