/* Alert wall: htmx refreshes #wall-items every 5 s; new critical alerts flash and, once sound is enabled by a
   click (browsers require a gesture), a short beep is generated with WebAudio (no audio file). */
(function () {
  "use strict";
  var box = document.getElementById("wall-items");
  if (!box) { return; }
  var seen = new Set();
  var audio = null;
  function tiles() { return box.querySelectorAll(".alert-tile"); }
  tiles().forEach(function (t) { seen.add(t.dataset.fingerprint); });

  function beep() {
    if (!audio) { return; }
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.type = "square";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.6);
  }

  var toggle = document.getElementById("sound-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      audio = audio || new Ctx();
      audio.resume();
      toggle.disabled = true;
      beep();
    });
  }

  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.target !== box) { return; }
    var fresh = false;
    tiles().forEach(function (t) {
      var fp = t.dataset.fingerprint;
      if (!seen.has(fp)) {
        seen.add(fp);
        if (t.dataset.severity === "critical" && t.dataset.status === "firing") {
          t.classList.add("flash");
          fresh = true;
        }
      }
    });
    if (fresh) { beep(); }
  });
})();
