/* One marker where the event is, on a blank background unless a tile server is configured.  Runs again after an
   htmx swap of the page (an action taken on the event page). */
(function () {
  "use strict";
  function init() {
    var el = document.getElementById("event-map"), data = document.getElementById("event-point");
    if (!el || !data || !window.L || el.dataset.ready) { return; }
    el.dataset.ready = "1";
    var p = JSON.parse(data.textContent);
    var map = L.map(el).setView([p.lat, p.lng], 15);
    if (el.dataset.tileUrl) { L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "" }).addTo(map); }
    L.circleMarker([p.lat, p.lng], { radius: 9, color: "#b3261e", fillOpacity: 0.6 }).addTo(map).bindTooltip(p.title);
  }
  init();
  document.addEventListener("htmx:afterSettle", init);
})();
