/* Statistics charts (ECharts) and the map of open events (Leaflet); the data is embedded in the page. */
(function () {
  "use strict";
  var node = document.getElementById("stats-data");
  if (!node) { return; }
  var d = JSON.parse(node.textContent);
  function chart(id, option) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return; }
    var c = echarts.init(el);
    c.setOption(option);
    window.addEventListener("resize", function () { c.resize(); });
  }
  chart("chart-trend", {
    tooltip: { trigger: "axis" }, legend: { data: d.trend.labels },
    xAxis: { type: "category", data: d.trend.days }, yAxis: { type: "value", minInterval: 1 },
    series: [{ name: d.trend.labels[0], type: "line", data: d.trend.created },
             { name: d.trend.labels[1], type: "line", data: d.trend.closed }]
  });
  chart("chart-category", {
    tooltip: {}, grid: { left: 110 }, xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: d.categories.map(function (r) { return r.name; }).reverse() },
    series: [{ type: "bar", data: d.categories.map(function (r) { return r.value; }).reverse(), itemStyle: { color: "#8e1b14" } }]
  });
  chart("chart-source", { tooltip: { trigger: "item" }, series: [{ type: "pie", radius: "65%", data: d.sources }] });
  chart("chart-ranking", {
    tooltip: {}, grid: { left: 110 }, xAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
    yAxis: { type: "category", data: d.ranking.map(function (r) { return r.name; }) },
    series: [{ type: "bar", data: d.ranking.map(function (r) { return r.value; }), itemStyle: { color: "#1f7a4d" } }]
  });
  var el = document.getElementById("stats-map");
  if (!el || !window.L) { return; }
  var map = L.map(el);
  if (el.dataset.tileUrl) { L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || "" }).addTo(map); }
  var bounds = [];
  d.map.points.forEach(function (p) {
    var label = document.createElement("span");
    if (d.map.clustered) {
      label.textContent = (p.grid || "—") + ": " + p.count;
      L.circleMarker([p.lat, p.lng], { radius: Math.min(30, 6 + Math.sqrt(p.count) * 2), color: "#8e1b14", fillOpacity: 0.5 })
        .addTo(map).bindTooltip(label);
    } else {
      label.textContent = p.number + " " + p.title;
      var m = L.circleMarker([p.lat, p.lng], { radius: 7, color: p.overdue ? "#b3261e" : "#1f6fb2", fillOpacity: 0.6 }).addTo(map);
      m.bindTooltip(label);
      m.on("click", function () { window.location.href = el.dataset.detailUrl + p.id + "/"; });
    }
    bounds.push([p.lat, p.lng]);
  });
  if (bounds.length) { map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15 }); } else { map.setView([30.0, 122.1], 9); }
})();
