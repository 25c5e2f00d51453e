/* The phone report form: fill latitude/longitude from the phone, swap the category's custom fields, shrink photos,
   and block a second click while the first upload runs.  The form works without any of this. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) { return; }
  var lat = form.querySelector("[name=lat]"), lng = form.querySelector("[name=lng]");
  var button = document.getElementById("locate"), status = document.getElementById("locate-status");
  function locate() {
    if (!navigator.geolocation) { return; }
    status.textContent = "…";
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(6);
      lng.value = pos.coords.longitude.toFixed(6);
      status.textContent = "±" + Math.round(pos.coords.accuracy) + " m";
    }, function (err) { status.textContent = err.message; }, { enableHighAccuracy: true, timeout: 15000 });
  }
  if (navigator.geolocation && button) {
    button.hidden = false;
    button.addEventListener("click", locate);
    if (!lat.value && !lng.value) { locate(); }
  }
  var category = form.querySelector("[name=category]"), box = document.getElementById("custom-fields");
  category.addEventListener("change", function () {
    fetch(form.dataset.fieldsUrl + "?category=" + encodeURIComponent(category.value), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { box.innerHTML = html; });
  });
  var photo = form.querySelector("[name=photo]");
  function shrink(file, done) {
    if (!file || !/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap || file.size < 400000) {
      done(null); return;
    }
    createImageBitmap(file).then(function (img) {
      var scale = Math.min(1, 1600 / Math.max(img.width, img.height));
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(img.width * scale); canvas.height = Math.round(img.height * scale);
      canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(function (blob) { done(blob); }, "image/jpeg", 0.8);
    }, function () { done(null); });
  }
  var sending = false;
  form.addEventListener("submit", function (ev) {
    if (sending) { ev.preventDefault(); return; }
    var file = photo && photo.files && photo.files[0];
    if (!file || !window.DataTransfer || form.dataset.shrunk) { sending = true; return; }
    ev.preventDefault();
    shrink(file, function (blob) {
      if (blob && blob.size < file.size) {
        var dt = new DataTransfer();
        dt.items.add(new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }));
        photo.files = dt.files;
      }
      form.dataset.shrunk = "1";
      sending = true;
      form.submit();
    });
  });
})();
