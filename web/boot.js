// boot: asks for the home view's list of runs while the modules load, so it is on its way
// (or here) when app.js draws the first screen; app.js takes the answer (util.js bootFetch).
// A classic async script, run as soon as it arrives; only for the plain home view.
(function () {
  var h = location.hash;
  if (window.otelpDash || (h !== '' && h !== '#' && h !== '#/')) return;
  var path = '/api/v1/runs?sort=time&limit=1000';
  window.otelpBoot = {path: path, answer: fetch(path, {credentials: 'same-origin'})};
})();
