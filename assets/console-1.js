// The console's only hand-written script: each Active Jobs row follows its job's Server-Sent Events
// (/api/jobs/{id}/events) — status, progress, counts, message — and the live log lists every new message.
document.querySelectorAll("tr[data-job]").forEach(function (row) {
  var id = row.dataset.job, last = null, log = document.getElementById("log");
  var events = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/events");
  var set = function (sel, text) { row.querySelector(sel).textContent = text; };
  events.addEventListener("job", function (e) {
    var j = JSON.parse(e.data);
    set(".status", j.status);
    row.querySelector("progress").value = j.progress;
    set(".pct", j.progress + " %");
    set(".symbols", j.processed_symbols + "/" + j.total_symbols);
    set(".bars", j.ohlcv_records_loaded);
    set(".message", j.message || "");
    var line = j.status + " " + j.processed_symbols + "/" + j.total_symbols +
      (j.current_symbol ? " " + j.current_symbol : "") + (j.message ? " — " + j.message : "");
    if (line !== last) {
      var li = document.createElement("li");
      li.textContent = new Date().toLocaleTimeString() + " " + id + ": " + line;
      log.appendChild(li);
      last = line;
    }
    if (["completed", "completed_with_errors", "failed", "cancelled"].indexOf(j.status) >= 0) {
      events.close(); // the stream ends with the job; do not reconnect
      row.classList.add("ended");
      row.querySelector("form.cancel").hidden = true;
    }
  });
});
