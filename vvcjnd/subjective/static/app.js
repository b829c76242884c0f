// The subject's page: login, consent, viewing check, trials (side by side, A/B toggle or
// flicker), breaks, the end page. Plain JavaScript, no libraries. The server decides what to
// show; this page only measures the window (and its frame rate), shows the two images of the
// open trial at native pixel size and sends the answer (resent as is after a network failure:
// answers are idempotent). Flicker: the images alternate every 1/rate s, timed by
// requestAnimationFrame; the page counts the changes it drew and sends their rate.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SECTIONS = ["login", "consent", "check", "break", "trial", "done", "error"];
  const SLOTS = ["left", "right"];
  let subject = null;
  let trial = null;
  let phase = null;
  let shownAt = 0;
  let seen = { left: false, right: false };
  let showing = "left";
  let answering = false;
  let settings = { id_param: "subject", not_sure: false };
  let flicker = null; // {frame, start, index, changes, first, last} while a flicker trial runs
  const breaksTaken = new Set();
  const REQUIRED = ["fetch", "requestAnimationFrame", "Promise", "URLSearchParams"];

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function show(name) {
    phase = name;
    for (const section of SECTIONS) $(section).hidden = section !== name;
    document.body.dataset.phase = name;
  }

  function fail(error) {
    $("error-message").textContent = error.message;
    show("error");
  }

  async function api(method, path, body) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch(path, {
          method,
          headers: body ? { "Content-Type": "application/json" } : {},
          body: body ? JSON.stringify(body) : undefined,
          cache: "no-store",
        });
      } catch (networkError) {
        if (attempt < 30) { await sleep(500); continue; }
        throw new Error("The test server cannot be reached. Please tell the experimenter.");
      }
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        const error = new Error(data.error || `HTTP ${response.status}`);
        error.status = response.status;
        throw error;
      }
      return data;
    }
  }

  const subjectPath = () => `/api/subjects/${encodeURIComponent(subject)}`;

  async function login(id) {
    const state = await api("POST", "/api/subjects", { subject_id: id });
    subject = id;
    history.replaceState(null, "", `?${settings.id_param}=${encodeURIComponent(id)}`);
    if (state.finished) showEnd(state);
    else if (!state.consented) show("consent");
    else await check();
  }

  const END_TEXT = {
    finished: ["Thank you", "You have finished the test. You can close this page."],
    disqualified: ["Thank you for your time",
      "The first trials showed that this test does not suit your viewing conditions, so it "
      + "ends here. Your participation is recorded; you can close this page."],
    expired: ["Time is up", "The time for this test has run out, so it ends here. Thank you "
      + "for your answers; you can close this page."],
  };

  function showEnd(state) {
    const [title, text] = END_TEXT[state.end] || END_TEXT.finished;
    $("done-title").textContent = title;
    $("done-message").textContent = text;
    $("done-code-line").hidden = !state.completion_code;
    $("done-code").textContent = state.completion_code || "";
    document.body.dataset.end = state.end || "finished";
    show("done");
  }

  function frameRate() {
    // requestAnimationFrame callbacks per second over half a second (the flicker needs it).
    return new Promise((resolve) => {
      let first = null;
      let frames = 0;
      const step = (now) => {
        if (first === null) first = now;
        else frames += 1;
        if (now - first >= 500) resolve(Math.round((frames * 1000) / (now - first)));
        else requestAnimationFrame(step);
      };
      requestAnimationFrame(step);
    });
  }

  function conditions() {
    return {
      screen_w: screen.width,
      screen_h: screen.height,
      window_w: window.innerWidth,
      window_h: window.innerHeight,
      dpr: window.devicePixelRatio || 1,
      user_agent: navigator.userAgent.slice(0, 512),
    };
  }

  async function check() {
    const measured = { ...conditions(), refresh_hz: await frameRate() };
    const rows = [
      ["Screen (CSS pixels)", `${measured.screen_w} x ${measured.screen_h}`],
      ["Window (CSS pixels)", `${measured.window_w} x ${measured.window_h}`],
      ["Device pixel ratio", `${measured.dpr}`],
      ["Frames per second", `${measured.refresh_hz}`],
      ["Window (screen pixels)",
        `${Math.floor(measured.window_w * measured.dpr)} x ${Math.floor(measured.window_h * measured.dpr)}`],
    ];
    $("check-table").replaceChildren(...rows.map(([key, value]) => {
      const row = document.createElement("tr");
      for (const text of [key, value]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      return row;
    }));
    $("check-continue").disabled = true;
    show("check");
    try {
      const result = await api("POST", `${subjectPath()}/viewing`, measured);
      const mode = {
        toggle: "one at a time (A/B toggle)",
        flicker: "alternating in place (flicker)",
      }[result.display] || "side by side";
      $("check-message").textContent = `Your window fits the images: they will be shown ${mode}.`;
      $("check-message").className = "note";
      $("check-continue").disabled = false;
    } catch (error) {
      if (error.status !== 422) throw error;
      $("check-message").textContent = error.message;
      $("check-message").className = "message";
    }
  }

  async function nextTrial() {
    const next = await api("GET", `${subjectPath()}/trial`);
    if (next.done) {
      trial = null;
      showEnd(next);
      return;
    }
    trial = next;
    if (trial.break_before && !breaksTaken.has(trial.trial_id)) {
      $("break-progress").textContent = progressText();
      show("break");
      return;
    }
    await present();
  }

  function progressText() {
    return `Trial ${trial.progress.answered + 1} of about ${trial.progress.estimate}`;
  }

  function loaded(img, url) {
    return new Promise((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error("An image could not be loaded."));
      img.src = url;
    });
  }

  async function present() {
    // Keys go to the page, never to a focused button (space would press it).
    if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
    const dpr = window.devicePixelRatio || 1;
    const toggle = trial.display === "toggle";
    const flickering = trial.display === "flicker";
    stopFlicker();
    document.body.dataset.trial = "";
    document.body.dataset.display = trial.display;
    $("answer-same").textContent = flickering ? "Does not flicker (S)" : "Same (S)";
    $("answer-different").textContent = flickering ? "Flickers (D)" : "Different (D)";
    $("answer-not-sure").hidden = !trial.not_sure;
    $("training-note").hidden = !trial.training;
    $("feedback").textContent = "";
    $("progress").textContent = progressText();
    $("toggle").hidden = !toggle;
    setAnswering(false);
    seen = { left: !(toggle || flickering), right: !(toggle || flickering) };
    showing = "left";
    const images = SLOTS.map((slot) => {
      const img = $(`img-${slot}`);
      // One image pixel on one screen pixel: CSS size = pixels / devicePixelRatio.
      img.style.width = `${trial.width / dpr}px`;
      img.style.height = `${trial.height / dpr}px`;
      return loaded(img, trial.images[slot]);
    });
    $("fig-right").style.marginLeft = toggle || flickering ? "0" : `${trial.gap_px / dpr}px`;
    showSlots();
    show("trial");
    await Promise.all(images);
    seen.left = true;
    shownAt = performance.now();
    document.body.dataset.trial = trial.trial_id;
    if (flickering) startFlicker();
    updateAnswerButtons();
  }

  function startFlicker() {
    const period = 1000 / trial.flicker_hz;
    flicker = { frame: 0, start: null, index: 0, changes: 0, first: null, last: null };
    const state = flicker;
    const step = (now) => {
      if (flicker !== state) return;
      if (state.start === null) state.start = now;
      const index = Math.floor((now - state.start) / period);
      if (index !== state.index) { // one drawn change, however many periods have passed
        state.index = index;
        state.changes += 1;
        if (state.first === null) state.first = now;
        state.last = now;
        showing = index % 2 ? "right" : "left";
        seen[showing] = true;
        showSlots();
        if (state.changes === 3) updateAnswerButtons();
      }
      state.frame = requestAnimationFrame(step);
    };
    state.frame = requestAnimationFrame(step);
  }

  function stopFlicker() {
    if (flicker) cancelAnimationFrame(flicker.frame);
    const measured = flicker;
    flicker = null;
    return measured;
  }

  function flickerRate(measured) {
    // Changes per second between the first and the last drawn change.
    const seconds = (measured.last - measured.first) / 1000;
    return Math.round(((measured.changes - 1) / seconds) * 1000) / 1000;
  }

  function showSlots() {
    const toggle = trial.display === "toggle" || trial.display === "flicker";
    $("fig-left").hidden = toggle && showing !== "left";
    $("fig-right").hidden = toggle && showing !== "right";
    $("toggle").textContent = showing === "left" ? "Show B (space)" : "Show A (space)";
  }

  function flip() {
    if (phase !== "trial" || !trial || trial.display !== "toggle") return;
    showing = showing === "left" ? "right" : "left";
    seen[showing] = true;
    showSlots();
    updateAnswerButtons();
  }

  function setAnswering(enabled) {
    for (const id of ["answer-same", "answer-different", "answer-not-sure"]) $(id).disabled = !enabled;
  }

  function updateAnswerButtons() {
    const measuring = trial.display === "flicker" && !(flicker && flicker.changes >= 3);
    setAnswering(document.body.dataset.trial === trial.trial_id && seen.left && seen.right
      && !measuring);
  }

  async function answer(value) {
    if (phase !== "trial" || answering || $("answer-same").disabled) return;
    if (value === "not_sure" && !trial.not_sure) return;
    answering = true;
    setAnswering(false);
    try {
      const body = { answer: value, response_ms: Math.round(performance.now() - shownAt) };
      if (trial.display === "flicker") body.flicker_hz = flickerRate(stopFlicker());
      let reply;
      try {
        reply = await api("POST", `${subjectPath()}/trials/${trial.trial_id}/answer`, body);
      } catch (error) {
        if (error.status !== 409) throw error;
        await nextTrial(); // the time limit was reached (or the trial was answered elsewhere)
        return;
      }
      for (const slot of SLOTS) $(`img-${slot}`).removeAttribute("src");
      if (reply.correct_answer) {
        const right = reply.correct_answer === value ? "Correct" : "Not quite";
        $("feedback").textContent =
          `${right}: these images were ${reply.correct_answer === "same" ? "the same" : "different"}.`;
        await sleep(1200);
      }
      await nextTrial();
    } finally {
      answering = false;
    }
  }

  function guard(action) {
    return (...args) => Promise.resolve(action(...args)).catch(fail);
  }

  $("login-form").addEventListener("submit", guard((event) => {
    event.preventDefault();
    return login($("subject-id").value.trim());
  }));
  $("consent-accept").addEventListener("click", guard(async () => {
    await api("POST", `${subjectPath()}/consent`);
    await check();
  }));
  $("check-again").addEventListener("click", guard(check));
  $("check-continue").addEventListener("click", guard(nextTrial));
  $("break-continue").addEventListener("click", guard(async () => {
    breaksTaken.add(trial.trial_id);
    await present();
  }));
  $("toggle").addEventListener("click", flip);
  $("answer-same").addEventListener("click", guard(() => answer("same")));
  $("answer-different").addEventListener("click", guard(() => answer("different")));
  $("answer-not-sure").addEventListener("click", guard(() => answer("not_sure")));
  $("error-retry").addEventListener("click", () => window.location.reload());
  document.addEventListener("keydown", guard((event) => {
    if (event.target instanceof HTMLInputElement) return undefined;
    const key = event.key.toLowerCase();
    if (phase === "trial" && key === " ") { event.preventDefault(); flip(); return undefined; }
    if (phase === "trial" && key === "s") return answer("same");
    if (phase === "trial" && key === "d") return answer("different");
    if (phase === "trial" && key === "n") return answer("not_sure");
    if (phase === "break" && key === "enter") return $("break-continue").click();
    return undefined;
  }));
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(guard(() => (phase === "trial" ? check() : undefined)), 300);
  });

  const lacking = REQUIRED.filter((name) => typeof window[name] === "undefined");
  if (lacking.length) {
    fail(new Error(`This browser lacks ${lacking.join(", ")}; please use a current browser.`));
    return;
  }
  guard(async () => {
    settings = await api("GET", "/api/settings");
    const params = new URLSearchParams(window.location.search);
    const fromUrl = params.get(settings.id_param) || params.get("subject");
    if (fromUrl) await login(fromUrl);
    else show("login");
  })();
})();
