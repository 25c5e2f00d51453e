/* Draw a region's children boundaries and grid polygons with Leaflet, on a blank background unless a tile
   URL is configured (settings.SHANZHI_TILE_URL). */
(function () {
  "use strict";
  var el = document.getElementById("region-map");
  if (!el || !window.L) { return; }
  var map = L.map(el, { attributionControl: true });
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "" }).addTo(map);
  }
  map.setView([30.0, 122.1], 9);
  fetch(el.dataset.geojson, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data || !data.features || !data.features.length) {
        el.classList.add("map-empty");
        return;
      }
      var layer = L.geoJSON(data, {
        style: function (f) {
          var p = f.properties || {};
          if (p.kind === "grid") { return { color: p.grid_kind === "sea" ? "#1f6fb2" : "#2e7d32", weight: 1, fillOpacity: 0.2 }; }
          return { color: p.self ? "#555" : "#b23b3b", weight: p.self ? 3 : 2, fillOpacity: p.self ? 0 : 0.05 };
        },
        onEachFeature: function (f, l) {
          var p = f.properties || {};
          var label = document.createElement("span");
          label.textContent = (p.number ? p.number + " " : "") + (p.name || "");
          l.bindTooltip(label);
        }
      }).addTo(map);
      map.fitBounds(layer.getBounds(), { padding: [10, 10] });
    });
})();
