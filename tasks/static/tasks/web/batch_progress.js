/* Follow a background ingest: poll the batch's progress, show its status and counts, and
   reload the page once it is done or failed, so that the result (or the bad rows) appear. */
(function () {
  "use strict";
  var section = document.getElementById("batch-state");
  if (!section || !section.dataset.progressUrl) {
    return;
  }
  var url = section.dataset.progressUrl;
  var INTERVAL_MS = 1000;

  function show(selector, value) {
    var cell = section.querySelector(selector);
    if (cell) {
      cell.textContent = value;
    }
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (batch) {
        if (batch.finished) {
          window.location.reload();
          return;
        }
        show('[data-batch="status"] .ws-badge', batch.status_label);
        show('[data-batch="rows"]', batch.rows.toLocaleString());
        if (batch.status === "processing") {
          show('[data-batch="note"]', "Storing the items: " + batch.rows.toLocaleString() +
               " rows read so far. This page follows the work by itself.");
        }
        window.setTimeout(poll, INTERVAL_MS);
      })
      .catch(function () {
        window.setTimeout(poll, INTERVAL_MS * 5);
      });
  }

  window.setTimeout(poll, INTERVAL_MS);
})();
