/* The alert map: open alerts that carry lat/lng labels (or annotations), coloured by severity. */
(function () {
  "use strict";
  var el = document.getElementById("alert-map");
  if (!el || !window.L) { return; }
  var map = L.map(el);
  map.setView([30.0, 122.1], 9);
  var colours = { critical: "#c62828", warning: "#ef8f00", info: "#1f6fb2" };
  fetch(el.dataset.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data || !data.features.length) {
        el.classList.add("map-empty");
        el.textContent = el.dataset.empty;
        return;
      }
      var layer = L.geoJSON(data, {
        pointToLayer: function (f, latlng) {
          return L.circleMarker(latlng, { radius: 8, color: colours[f.properties.severity] || "#555",
                                          fillOpacity: f.properties.status === "firing" ? 0.8 : 0.3 });
        },
        onEachFeature: function (f, l) {
          var a = document.createElement("a");
          a.href = el.dataset.detail.replace("/0/", "/" + f.properties.id + "/");
          a.textContent = f.properties.name + " — " + f.properties.summary;
          l.bindPopup(a);
        }
      }).addTo(map);
      map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 13 });
    });
})();
