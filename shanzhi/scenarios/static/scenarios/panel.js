// The dashboard panel preview of a scenario pack: line, bar, pie or number, from the JSON the page embeds.
(function () {
  "use strict";
  var el = document.getElementById("pack-panel");
  var source = document.getElementById("pack-panel-data");
  if (!el || !source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var chart = echarts.init(el);
  var kind = data.chart;
  var option;
  if (kind === "pie") {
    option = {
      tooltip: { trigger: "item" },
      series: [{ type: "pie", radius: "65%", data: data.series.map(function (s) { return { name: s.label, value: s.total }; }) }]
    };
  } else if (kind === "number") {
    option = {
      graphic: data.series.map(function (s, i) {
        var x = (100 / data.series.length) * i + 2;
        return { type: "group", left: x + "%", top: "30%", children: [
          { type: "text", style: { text: String(s.total), font: "bold 48px sans-serif", fill: "#1f6feb" } },
          { type: "text", top: 64, style: { text: s.label, font: "14px sans-serif", fill: "#555" } }
        ] };
      })
    };
  } else {
    option = {
      tooltip: { trigger: "axis" },
      legend: { data: data.series.map(function (s) { return s.label; }) },
      xAxis: { type: "category", data: data.days.map(function (d) { return d.slice(5); }) },
      yAxis: { type: "value", minInterval: 1 },
      series: data.series.map(function (s) { return { name: s.label, type: kind === "line" ? "line" : "bar", data: s.values }; })
    };
  }
  chart.setOption(option);
  window.addEventListener("resize", function () { chart.resize(); });
})();
