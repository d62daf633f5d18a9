// The console's only hand-written script: the Active Jobs rows follow one Server-Sent Events stream of the page's
// jobs — status, progress, counts, message — and the live log lists every change.
(function () {
  var rows = document.querySelectorAll("tr[data-job]");
  if (rows.length === 0) return;
  var ids = Array.prototype.map.call(rows, function (r) { return r.dataset.job; });
  var log = document.getElementById("log"), last = {};
  var events = new EventSource("/admin/historical-data/events?ids=" + ids.map(encodeURIComponent).join(","));
  events.addEventListener("job", function (e) {
    var j = JSON.parse(e.data);
    var row = document.querySelector('tr[data-job="' + CSS.escape(j.job_id) + '"]');
    if (!row) return;
    var set = function (sel, text) { row.querySelector(sel).textContent = text; };
    set(".status", j.status);
    row.querySelector("progress").value = j.progress;
    set(".pct", j.progress + " %");
    set(".symbols", j.processed_symbols + "/" + j.total_symbols);
    set(".bars", j.ohlcv_records_loaded);
    set(".message", j.message || "");
    var line = j.status + " " + j.processed_symbols + "/" + j.total_symbols +
      (j.current_symbol ? " " + j.current_symbol : "") + (j.message ? " — " + j.message : "");
    if (line !== last[j.job_id]) {
      var li = document.createElement("li");
      li.textContent = new Date().toLocaleTimeString() + " " + j.job_id + ": " + line;
      log.appendChild(li);
      last[j.job_id] = line;
    }
    if (["completed", "completed_with_errors", "failed", "cancelled"].indexOf(j.status) >= 0) {
      row.classList.add("ended");
      row.querySelector("form.cancel").hidden = true;
    }
  });
  // The stream says `end` when every job has ended (or is gone): do not reconnect then.
  events.addEventListener("end", function () { events.close(); });
})();
