// sessionlog viewer: live updates by polling, and the as-of slider.
// No inline script anywhere: the page's CSP allows only this file.
"use strict";

(function () {
  const POLL_MS = 1500;

  function poll(fn) {
    let busy = false;
    setInterval(async function () {
      if (busy) return;
      busy = true;
      try { await fn(); } catch (e) { /* the server may be restarting; try again */ }
      busy = false;
    }, POLL_MS);
  }

  // The list of sessions: the first page's rows, refreshed.
  const rows = document.querySelector("tbody[data-live]");
  if (rows) {
    poll(async function () {
      const response = await fetch(rows.dataset.live, { credentials: "same-origin" });
      if (!response.ok) return;
      const html = await response.text();
      if (html.trim() !== rows.innerHTML.trim()) rows.innerHTML = html;
    });
  }

  // An open transcript: items added since the last one shown.
  const transcript = document.querySelector("section[data-live]");
  if (transcript) {
    poll(async function () {
      const url = transcript.dataset.live + "?after=" + encodeURIComponent(transcript.dataset.last || "");
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) return;
      const update = await response.json();
      if (update.reload) { window.location.reload(); return; }
      if (update.html) {
        transcript.insertAdjacentHTML("beforeend", update.html);
        transcript.dataset.last = update.last;
        const empty = document.querySelector("p.empty");
        if (empty) empty.remove();
      }
    });
  }

  // /verify while it runs: its progress, then the result.
  const verify = document.querySelector("#verify[data-live]");
  if (verify) {
    const done = document.getElementById("verify-done");
    const bar = verify.querySelector("progress");
    poll(async function () {
      const response = await fetch(verify.dataset.live, { credentials: "same-origin" });
      if (!response.ok) return;
      const state = await response.json();
      done.textContent = String(state.done);
      bar.value = state.done;
      if (!state.running) window.location.reload();
    });
  }

  // The as-of slider goes as soon as it is let go.
  const slider = document.querySelector("form.asof input[type=range]");
  if (slider) {
    slider.addEventListener("change", function () { slider.form.submit(); });
  }
})();
