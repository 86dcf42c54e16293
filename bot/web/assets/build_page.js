// The build page's progressive enhancement (bot/pages/build_page.py renders a page that works
// without it): follow a running build live through Server-Sent Events, open a failed build at
// its failure line, copy the pull command. Every piece of HTML inserted here was rendered and
// escaped by the server; nothing from the log is turned into markup in the browser.
"use strict";

(function () {
  const body = document.body;
  const log = document.getElementById("log");

  function enableCopy() {
    for (const button of document.querySelectorAll("button.copy")) {
      button.hidden = false;
      button.addEventListener("click", async function () {
        const text = button.dataset.copy || "";
        try {
          await navigator.clipboard.writeText(text);
          button.textContent = "copied";
        } catch (e) {
          // No clipboard (a plain-http page): select the text for a manual copy.
          const code = document.getElementById("pull");
          const range = document.createRange();
          range.selectNodeContents(code);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          button.textContent = "selected";
        }
      });
    }
  }

  function markFailure(failureLine, failedStep) {
    if (failedStep) {
      const last = failedStep[1] || failedStep[0];
      for (let n = failedStep[0]; n <= last; n++) {
        const line = document.getElementById("L" + n);
        if (line) line.classList.add("failed-step");
      }
    }
    if (failureLine) {
      const line = document.getElementById("L" + failureLine);
      if (line) line.classList.add("error-line");
    }
  }

  function scrollToFailure() {
    const n = body.dataset.failureLine;
    if (!n || window.location.hash) return; // a link to a line wins
    const line = document.getElementById("L" + n);
    if (line) line.scrollIntoView({ block: "center" });
  }

  function atBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  }

  function showState(data) {
    document.getElementById("summary").innerHTML = data.summary;
    body.dataset.state = data.state;
    document.title = data.title;
    enableCopy();
  }

  function follow() {
    const after = body.dataset.lines || "0";
    const source = new EventSource(body.dataset.events + "?after=" + encodeURIComponent(after));
    let connections = 0;
    source.addEventListener("open", function () {
      // A reconnect sends Last-Event-ID itself; the count shows how often it did (tests).
      body.dataset.connections = String(++connections);
    });
    source.addEventListener("line", function (event) {
      const data = JSON.parse(event.data);
      if (document.getElementById("L" + data.n)) return; // shown already
      const follow = atBottom();
      const empty = document.getElementById("log-empty");
      if (empty) empty.remove();
      log.insertAdjacentHTML("beforeend", data.html);
      body.dataset.lines = String(data.n);
      if (follow) window.scrollTo(0, document.body.scrollHeight);
    });
    source.addEventListener("state", function (event) {
      showState(JSON.parse(event.data));
    });
    source.addEventListener("end", function (event) {
      source.close();
      const data = JSON.parse(event.data);
      showState(data);
      body.dataset.finished = "true";
      body.dataset.failureLine = data.failure_line ? String(data.failure_line) : "";
      document.getElementById("live").hidden = true;
      markFailure(data.failure_line, data.failed_step);
      scrollToFailure();
    });
  }

  enableCopy();
  if (body.dataset.finished === "true") {
    scrollToFailure();
  } else {
    follow();
  }
})();
