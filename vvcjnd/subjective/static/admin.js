// Admin page: progress every 5 s and the exports. The token comes from the URL fragment
// (never sent to the server in a URL) and goes in an Authorization header.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(window.location.hash.slice(1)).get("token") || "";
  const headers = { Authorization: `Bearer ${token}` };
  const COLUMNS = ["subject_id", "end_reason", "completion_code", "images_done", "trials",
    "traps", "trap_failures", "flagged", "display", "window_w", "window_h", "dpr", "finished_at"];

  function table(element, header, rows) {
    const make = (tag, cells) => {
      const row = document.createElement("tr");
      for (const text of cells) {
        const cell = document.createElement(tag);
        cell.textContent = text === null || text === undefined ? "" : String(text);
        row.append(cell);
      }
      return row;
    };
    element.replaceChildren(make("th", header), ...rows.map((cells) => make("td", cells)));
  }

  async function refresh() {
    const response = await fetch("/api/admin/progress", { headers, cache: "no-store" });
    const data = await response.json();
    if (!response.ok) {
      $("admin-message").textContent = data.error || `HTTP ${response.status}`;
      return;
    }
    $("admin-message").textContent = "";
    const finished = data.subjects.filter((s) => s.finished_at).length;
    $("summary").textContent = `${data.subjects.length} subjects (${finished} finished), ` +
      `${data.trap_failures} trap failures in all.`;
    table($("subjects"), COLUMNS, data.subjects.map((s) => COLUMNS.map((c) => s[c])));
    [...$("subjects").rows].slice(1).forEach((row, i) => {
      if (data.subjects[i].flagged) row.className = "flagged";
    });
    table($("images"), ["image_id", "samples"], Object.entries(data.samples_per_image));
  }

  async function download(name) {
    const response = await fetch(`/api/admin/export/${name}`, { headers, cache: "no-store" });
    if (!response.ok) {
      $("admin-message").textContent = (await response.json()).error;
      return;
    }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = `${name}.tsv`;
    link.click();
    URL.revokeObjectURL(link.href);
  }

  for (const button of document.querySelectorAll("button[data-table]")) {
    button.addEventListener("click", () => download(button.dataset.table));
  }
  refresh();
  setInterval(refresh, 5000);
})();
