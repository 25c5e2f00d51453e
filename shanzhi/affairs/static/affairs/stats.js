(function () {
  var el = document.getElementById("affairs-chart");
  if (!el || !window.echarts) return;
  var data = JSON.parse(el.textContent);
  var trend = echarts.init(document.getElementById("trend"));
  trend.setOption({xAxis: {type: "category", data: data.months}, yAxis: {type: "value"},
    series: [{type: "line", data: data.counts}], tooltip: {trigger: "axis"}});
  var ranking = echarts.init(document.getElementById("ranking"));
  ranking.setOption({xAxis: {type: "value", max: 100}, yAxis: {type: "category", data: data.villages.slice().reverse()},
    series: [{type: "bar", data: data.rates.slice().reverse()}], grid: {left: 120}, tooltip: {}});
})();
