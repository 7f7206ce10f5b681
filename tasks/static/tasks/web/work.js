// The work page, made fast from the keyboard: options by number, ranking by arrows or by
// dragging, spans by selecting text, the lease's countdown, more time and comments without
// leaving the page, and the time the page was in front of the expert. Without this script
// the page is plain forms that do the same; the server decides everything either way.
"use strict";

document.documentElement.classList.add("js");

(function () {
  const SPAN_COLORS = 6;

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    if (target.isContentEditable || target.tagName === "TEXTAREA" || target.tagName === "SELECT") { return true; }
    return target.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(target.type);
  }

  // Offsets are counted in characters (code points), as the server counts them; a
  // JavaScript string counts an emoji as two.
  function charCount(text) { return Array.from(text).length; }

  function clock(seconds) {
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    const rest = String(seconds % 60).padStart(2, "0");
    return hours ? hours + ":" + String(minutes).padStart(2, "0") + ":" + rest : minutes + ":" + rest;
  }

  // -- the time the page was open and in focus, sent as duration_s ------------------------
  function trackFocusedTime(form) {
    const input = form.querySelector("input[name=duration_s]");
    let total = Number(input.value) || 0;
    let last = Date.now();
    let wasActive = document.visibilityState === "visible" && document.hasFocus();
    function tick() {
      const now = Date.now();
      if (wasActive) { total += (now - last) / 1000; }
      last = now;
      wasActive = document.visibilityState === "visible" && document.hasFocus();
    }
    window.addEventListener("focus", tick);
    window.addEventListener("blur", tick);
    document.addEventListener("visibilitychange", tick);
    window.setInterval(tick, 1000);
    form.addEventListener("submit", function () { tick(); input.value = total.toFixed(1); });
  }

  // -- heartbeats: while the item is open and in front of the expert, say so --------------
  // The server counts the time between them as active time (up to its idle threshold) and
  // answers with the lease's and the week's figures, which an hourly lease shows.
  function startHeartbeats() {
    const page = document.querySelector(".work-page");
    if (!page || !page.dataset.heartbeatUrl) { return; }
    const tokenInput = document.querySelector("input[name=csrfmiddlewaretoken]");
    const box = document.getElementById("active-time");
    let timer = null;
    function show(data) {
      if (!box) { return; }
      box.querySelector(".work-active-item").textContent = clock(data.active_s);
      box.querySelector(".work-active-week").textContent = (data.week_logged_s / 3600).toFixed(1);
      box.querySelector(".work-active-note").textContent = data.cap_reached
        ? " · this week's cap is reached: further time counts nothing" : "";
    }
    function beat() {
      if (document.visibilityState !== "visible" || !document.hasFocus()) { return; }
      fetch(page.dataset.heartbeatUrl, {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRFToken": tokenInput ? tokenInput.value : "", "Accept": "application/json"},
      }).then(function (response) {
        if (response.status === 404 || response.status === 409) { window.clearInterval(timer); return null; }
        return response.ok ? response.json() : null;
      }).then(function (data) { if (data) { show(data); } })
        .catch(function () { /* the next beat tries again */ });
    }
    timer = window.setInterval(beat, Number(page.dataset.heartbeatS) * 1000);
  }

  // -- the lease's countdown ---------------------------------------------------------------
  function startCountdown() {
    const box = document.getElementById("lease-clock");
    if (!box) { return; }
    const value = box.querySelector(".work-clock-value");
    const note = box.querySelector(".work-clock-note");
    const deadline = Date.now() + Number(box.dataset.remaining) * 1000;
    const warning = Number(box.dataset.warning);
    function show() {
      if (!box.isConnected) { return; }
      const left = Math.max(0, Math.floor((deadline - Date.now()) / 1000));
      value.textContent = clock(left);
      const low = left > 0 && left <= warning;
      box.classList.toggle("work-clock-warning", low);
      note.textContent = low ? "running out: submit, or ask for more time" : "";
      if (left === 0) { expire(box, note); return; }
      window.setTimeout(show, 500);
    }
    show();
  }

  function expire(box, note) {
    box.classList.add("work-clock-over");
    note.textContent = "time is up";
    const notice = document.getElementById("lease-expired");
    if (notice) { notice.hidden = false; }
    const submit = document.getElementById("submit-answer");
    if (submit) { submit.disabled = true; }
    const extend = document.getElementById("extend-button");
    if (extend) { extend.disabled = true; }
    const skip = document.getElementById("skip");
    if (skip) { skip.hidden = true; }
  }

  // -- forms that change a part of the page (more time, comments) ------------------------
  function swapMessages(fresh) {
    document.querySelectorAll("ul.messagelist").forEach(function (old) { old.remove(); });
    const list = fresh.querySelector("ul.messagelist");
    const content = document.getElementById("content");
    if (list && content) { content.parentNode.insertBefore(document.adoptNode(list), content); }
  }

  function inPlace(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const button = form.querySelector("[type=submit]");
      button.disabled = true;
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin"})
        .then(function (response) { return response.text(); })
        .then(function (html) {
          const fresh = new DOMParser().parseFromString(html, "text/html");
          const ids = form.dataset.swap.split(" ");
          if (!ids.every(function (id) { return fresh.getElementById(id); })) {
            form.submit();
            return;
          }
          swapMessages(fresh);
          ids.forEach(function (id) {
            const part = document.adoptNode(fresh.getElementById(id));
            document.getElementById(id).replaceWith(part);
            part.querySelectorAll("form.work-inplace").forEach(inPlace);
          });
          if (ids.includes("lease-clock")) { startCountdown(); }
        })
        .catch(function () { form.submit(); })
        .finally(function () { button.disabled = false; });
    });
  }

  // -- questions: which one the number keys act on ---------------------------------------
  let questions = [];
  let active = null;

  function answered(question) {
    if (question.querySelector("input:checked")) { return true; }
    return Array.from(question.querySelectorAll("textarea, input[type=hidden]"))
      .some(function (input) { return input.value.trim() !== ""; });
  }

  function focusQuestion(question) {
    const kind = question.dataset.kind;
    let target = null;
    if (kind === "text") {
      target = question.querySelector("textarea");
    } else if (kind === "ranking") {
      target = question.querySelector(".work-rank");
    } else if (kind === "spans") {
      target = question.querySelector(".work-span-label");
    } else {
      target = question.querySelector("input:checked:not(:disabled)") || question.querySelector("input:not(:disabled)");
    }
    if (target) { target.focus({preventScroll: true}); }
    question.scrollIntoView({block: "nearest"});
  }

  function setActive(question, focus) {
    active = question;
    questions.forEach(function (each) { each.classList.toggle("work-active", each === question); });
    if (question && focus) { focusQuestion(question); }
  }

  function step(delta) {
    if (!questions.length) { return; }
    const index = questions.indexOf(active);
    const next = questions[Math.min(questions.length - 1, Math.max(0, index + delta))];
    setActive(next, true);
  }

  function advance(question, group) {
    const groups = Array.from(question.querySelectorAll("[data-keys=radio]"));
    const next = groups[groups.indexOf(group) + 1];
    if (next && !next.querySelector("input:disabled")) {
      next.querySelector("input").focus({preventScroll: true});
      return;
    }
    const following = questions[questions.indexOf(question) + 1];
    if (following) { setActive(following, following.dataset.kind !== "text"); }
  }

  function chooseByKey(question, key) {
    const groups = Array.from(question.querySelectorAll("[data-keys=radio], [data-keys=checkbox]"));
    if (!groups.length) { return false; }
    const group = groups.find(function (g) { return g.contains(document.activeElement); })
      || groups.find(function (g) { return !g.querySelector("input:checked") && !g.querySelector("input:disabled"); })
      || groups[0];
    const input = group.querySelector('input[data-key="' + key + '"]');
    if (!input || input.disabled) { return false; }
    input.checked = input.type === "radio" ? true : !input.checked;
    input.dispatchEvent(new Event("change", {bubbles: true}));
    input.focus({preventScroll: true});
    if (input.type === "radio") { advance(question, group); }
    return true;
  }

  function pressDigit(key) {
    if (spanSelectionKey(key)) { return true; }
    if (!active) { return false; }
    if (active.dataset.kind === "ranking") {
      const row = document.activeElement && document.activeElement.closest(".work-rank");
      if (row && active.contains(row)) { row.dispatchEvent(new CustomEvent("work-place", {detail: Number(key)})); return true; }
      return false;
    }
    if (active.dataset.kind === "spans") { return false; }
    return chooseByKey(active, key);
  }

  // -- label kinds: "none of these" excludes the options, a tie has no strength -----------
  function setUpExclusiveNone(question) {
    const none = question.querySelector("input[data-none]");
    if (!none || question.dataset.kind !== "multi_label") { return; }
    question.addEventListener("change", function (event) {
      if (event.target === none && none.checked) {
        question.querySelectorAll("input[type=checkbox]:not([data-none])").forEach(function (box) { box.checked = false; });
      } else if (event.target !== none && event.target.checked) {
        none.checked = false;
      }
    });
  }

  function setUpPairwise(question) {
    const strengths = question.querySelectorAll(".work-strength input");
    if (!strengths.length) { return; }
    function follow() {
      const choice = question.querySelector(".work-pair input:checked");
      const tie = choice && choice.value === "tie";
      strengths.forEach(function (input) {
        input.disabled = tie;
        if (tie) { input.checked = false; }
      });
    }
    question.querySelector(".work-pair").addEventListener("change", follow);
    follow();
  }

  // -- ranking: drag, or move with the keyboard -------------------------------------------
  function setUpRanking(question) {
    const list = question.querySelector(".work-ranking");
    const input = question.querySelector('input[name="' + list.dataset.input + '"]');
    const status = question.querySelector(".work-rank-status");
    list.querySelectorAll("select").forEach(function (select) { select.remove(); });
    function rows() { return Array.from(list.querySelectorAll(".work-rank")); }
    function letterOf(row) { return row.querySelector(".work-letter").textContent; }
    function commit(said) {
      const order = rows();
      input.value = JSON.stringify(order.map(function (row) { return Number(row.dataset.index); }));
      order.forEach(function (row, place) {
        row.querySelector(".work-rank-place").textContent = place + 1;
        row.setAttribute("aria-label", "Entry " + letterOf(row) + ", place " + (place + 1) + " of " + order.length);
      });
      status.textContent = (said ? said + " " : "") + "Ranked, best first: " + order.map(letterOf).join(", ") + ".";
      status.classList.add("work-ranked");
    }
    function place(row, position) {
      const order = rows();
      const target = Math.min(order.length, Math.max(1, position)) - 1;
      const others = order.filter(function (each) { return each !== row; });
      list.insertBefore(row, others[target] || null);
      row.focus({preventScroll: true});
      row.scrollIntoView({block: "nearest"});
      commit(letterOf(row) + " moved to place " + (target + 1) + ".");
    }
    list.addEventListener("keydown", function (event) {
      const row = event.target.closest(".work-rank");
      if (!row || event.ctrlKey || event.metaKey) { return; }
      const order = rows();
      const index = order.indexOf(row);
      const grabbed = row.classList.contains("work-grabbed");
      if (event.key === "ArrowUp" || event.key === "ArrowDown") {
        const delta = event.key === "ArrowUp" ? -1 : 1;
        if (event.altKey || grabbed) {
          place(row, index + 1 + delta);
        } else if (order[index + delta]) {
          order[index + delta].focus();
        }
      } else if (event.key === " ") {
        row.classList.toggle("work-grabbed");
        status.textContent = grabbed ? "Dropped " + letterOf(row) + " at place " + (index + 1) + "."
          : "Moving " + letterOf(row) + ": ↑/↓ to move, Space to drop.";
      } else if (event.key === "Escape" && grabbed) {
        row.classList.remove("work-grabbed");
      } else {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
    });
    list.addEventListener("focusout", function (event) {
      const row = event.target.closest(".work-rank");
      if (row && !list.contains(event.relatedTarget)) { row.classList.remove("work-grabbed"); }
    });
    list.addEventListener("work-place", function (event) { place(event.target, event.detail); });
    let dragged = null;
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest(".work-rank");
      dragged.classList.add("work-dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.index);
    });
    list.addEventListener("dragover", function (event) {
      if (!dragged) { return; }
      event.preventDefault();
      const over = event.target.closest(".work-rank");
      if (!over || over === dragged) { return; }
      const box = over.getBoundingClientRect();
      list.insertBefore(dragged, event.clientY > box.top + box.height / 2 ? over.nextSibling : over);
    });
    list.addEventListener("drop", function (event) { event.preventDefault(); });
    list.addEventListener("dragend", function () {
      if (!dragged) { return; }
      dragged.classList.remove("work-dragging");
      const row = dragged;
      dragged = null;
      commit(letterOf(row) + " moved to place " + (rows().indexOf(row) + 1) + ".");
    });
    question.querySelector(".work-rank-keep").addEventListener("click", function () { commit("Order kept."); });
    if (input.value) { commit(""); }
  }

  // -- spans: select text in a field, pick a label -----------------------------------------
  const spanTargets = new Map();
  let palette = null;

  function spanTarget(fieldId) {
    if (!spanTargets.has(fieldId)) {
      const element = document.getElementById(fieldId + "-text");
      const text = JSON.parse(document.getElementById(element.dataset.source).textContent);
      spanTargets.set(fieldId, {element: element, chars: Array.from(text), questions: []});
    }
    return spanTargets.get(fieldId);
  }

  function renderTarget(target) {
    const all = [];
    target.questions.forEach(function (entry) {
      entry.spans.forEach(function (span) { all.push({span: span, color: entry.colors[span.label] || 0}); });
    });
    const cuts = new Set([0, target.chars.length]);
    all.forEach(function (each) { cuts.add(each.span.start); cuts.add(each.span.end); });
    const points = Array.from(cuts).sort(function (a, b) { return a - b; });
    const parts = [];
    for (let i = 0; i + 1 < points.length; i += 1) {
      const from = points[i];
      const to = points[i + 1];
      const text = target.chars.slice(from, to).join("");
      const covering = all.filter(function (each) { return each.span.start <= from && to <= each.span.end; });
      if (!covering.length) {
        parts.push(document.createTextNode(text));
        continue;
      }
      const mark = document.createElement("mark");
      mark.className = "work-mark work-color-" + covering[0].color;
      mark.textContent = text;
      const ending = covering.filter(function (each) { return each.span.end === to; });
      if (ending.length) { mark.dataset.label = ending.map(function (each) { return each.span.label; }).join(" + "); }
      mark.title = covering.map(function (each) { return each.span.label; }).join(" + ");
      parts.push(mark);
    }
    target.element.replaceChildren.apply(target.element, parts);
  }

  function selectionIn(target) {
    const selection = window.getSelection();
    if (!selection.rangeCount || selection.isCollapsed) { return null; }
    const range = selection.getRangeAt(0).cloneRange();
    if (!range.intersectsNode(target.element)) { return null; }
    const whole = document.createRange();
    whole.selectNodeContents(target.element);
    if (range.compareBoundaryPoints(Range.START_TO_START, whole) < 0) { range.setStart(whole.startContainer, whole.startOffset); }
    if (range.compareBoundaryPoints(Range.END_TO_END, whole) > 0) { range.setEnd(whole.endContainer, whole.endOffset); }
    const before = document.createRange();
    before.selectNodeContents(target.element);
    before.setEnd(range.startContainer, range.startOffset);
    let start = charCount(before.toString());
    let end = start + charCount(range.toString());
    while (start < end && /\s/.test(target.chars[start])) { start += 1; }
    while (end > start && /\s/.test(target.chars[end - 1])) { end -= 1; }
    return start < end ? {start: start, end: end, range: range} : null;
  }

  function hidePalette() {
    if (palette) { palette.remove(); palette = null; }
  }

  function setUpSpans(question) {
    const box = question.querySelector(".work-span-labels");
    const fieldId = box.dataset.field;
    const target = spanTarget(fieldId);
    const input = document.getElementById(box.dataset.input);
    const none = question.querySelector("input[data-none]");
    const list = question.querySelector(".work-spans-list");
    const entry = {question: question, spans: [], colors: {}, labels: [], mark: null};
    box.querySelectorAll(".work-span-label").forEach(function (button) {
      const color = Number(button.dataset.color) % SPAN_COLORS;
      entry.colors[button.dataset.label] = color;
      entry.labels.push({label: button.dataset.label, key: button.dataset.key, color: color});
      button.classList.add("work-color-" + color);
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });
      button.addEventListener("click", function () { entry.mark(button.dataset.label); });
    });
    try {
      const saved = input.value.trim() ? JSON.parse(input.value) : [];
      entry.spans = Array.isArray(saved) ? saved : [];
    } catch (error) {
      entry.spans = [];
    }
    function say(text) {
      let message = question.querySelector(".work-span-message");
      if (!message) {
        message = document.createElement("p");
        message.className = "help work-span-message";
        message.setAttribute("role", "status");
        list.after(message);
      }
      message.textContent = text;
    }
    function show() {
      input.value = entry.spans.length ? JSON.stringify(entry.spans) : "";
      none.disabled = entry.spans.length > 0;
      if (entry.spans.length) { none.checked = false; }
      list.replaceChildren();
      entry.spans.forEach(function (span, index) {
        const item = document.createElement("li");
        const badge = document.createElement("span");
        badge.className = "work-span-badge work-color-" + (entry.colors[span.label] || 0);
        badge.textContent = span.label;
        const quote = document.createElement("span");
        quote.className = "work-span-quote";
        const words = target.chars.slice(span.start, span.end).join("");
        quote.textContent = "\u201c" + words + "\u201d";
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove " + span.label + " \u201c" + words + "\u201d");
        remove.addEventListener("click", function () {
          entry.spans.splice(index, 1);
          show();
          say("Removed.");
        });
        item.append(badge, quote, remove);
        list.append(item);
      });
      renderTarget(target);
    }
    entry.mark = function (label) {
      const chosen = selectionIn(target);
      hidePalette();
      if (!chosen) {
        say("First select words in " + fieldId.replace(/^field-/, "") + ", then pick the label.");
        return;
      }
      const clash = entry.spans.find(function (span) { return chosen.start < span.end && span.start < chosen.end; });
      if (clash) {
        say("That overlaps a span already marked (" + clash.label + "); remove it first to mark this one.");
        return;
      }
      entry.spans.push({start: chosen.start, end: chosen.end, label: label});
      entry.spans.sort(function (a, b) { return a.start - b.start; });
      window.getSelection().removeAllRanges();
      show();
      say("Marked " + label + ".");
      setActive(question, false);
    };
    target.questions.push(entry);
    show();
  }

  function showPalette(target) {
    hidePalette();
    const chosen = selectionIn(target);
    if (!chosen) { return; }
    palette = document.createElement("div");
    palette.className = "work-span-palette";
    palette.setAttribute("role", "toolbar");
    palette.setAttribute("aria-label", "Mark the selection as");
    target.questions.forEach(function (entry) {
      entry.labels.forEach(function (each) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "button work-color-" + each.color;
        button.textContent = (each.key ? each.key + " " : "") + each.label;
        button.addEventListener("mousedown", function (event) { event.preventDefault(); });
        button.addEventListener("click", function () { entry.mark(each.label); });
        palette.append(button);
      });
    });
    const rect = chosen.range.getBoundingClientRect();
    palette.style.left = Math.max(8, rect.left + window.scrollX) + "px";
    palette.style.top = (rect.bottom + window.scrollY + 6) + "px";
    document.body.append(palette);
  }

  function spanSelectionKey(key) {
    for (const target of spanTargets.values()) {
      if (!selectionIn(target)) { continue; }
      const owner = target.questions.find(function (entry) { return entry.question === active; }) || target.questions[0];
      const label = owner.labels.find(function (each) { return each.key === key; });
      if (!label) { return false; }
      owner.mark(label.label);
      return true;
    }
    return false;
  }

  function watchSelections() {
    spanTargets.forEach(function (target) {
      target.element.addEventListener("mouseup", function () { window.setTimeout(function () { showPalette(target); }, 0); });
      target.element.addEventListener("keyup", function () { showPalette(target); });
    });
    document.addEventListener("mousedown", function (event) {
      if (palette && !palette.contains(event.target)) { hidePalette(); }
    });
  }

  // -- text answers: start from an entry, count characters ---------------------------------
  function setUpText(question) {
    const area = question.querySelector("textarea");
    const count = question.querySelector(".work-count");
    const starts = Array.from(question.querySelectorAll(".work-start-from button"));
    function entryText(button) { return document.getElementById(button.dataset.source).querySelector(".work-text").textContent; }
    function update(note) {
      const length = charCount(area.value);
      const min = Number(area.dataset.min || 0);
      const max = area.dataset.max ? Number(area.dataset.max) : null;
      const parts = [length + " character" + (length === 1 ? "" : "s")];
      if (min) { parts.push("at least " + min); }
      if (max !== null) { parts.push("at most " + max); }
      const same = starts.find(function (button) { return entryText(button) === area.value; });
      if (same) { parts.push("unchanged from " + same.textContent); }
      if (note) { parts.push(note); }
      count.textContent = parts.join(" · ");
      count.classList.toggle("work-count-bad", length > 0 && (length < min || (max !== null && length > max)));
    }
    starts.forEach(function (button) {
      button.addEventListener("click", function () {
        const untouched = !area.value.trim() || starts.some(function (each) { return entryText(each) === area.value; });
        if (!untouched) {
          update("clear the box first to start from " + button.textContent);
          return;
        }
        area.value = entryText(button);
        area.focus();
        update("");
      });
    });
    area.addEventListener("input", function () { update(""); });
    if (count) { update(""); }
  }

  // -- instructions: remember whether the expert folded them, per project ------------------
  function setUpInstructions() {
    const details = document.getElementById("instructions");
    const holder = document.querySelector(".work-page");
    if (!details || !holder) { return; }
    const key = "work-instructions-folded-" + holder.dataset.project;
    try {
      if (window.localStorage.getItem(key) === "1") { details.open = false; }
      details.addEventListener("toggle", function () { window.localStorage.setItem(key, details.open ? "0" : "1"); });
    } catch (error) {
      // Storage may be off; the instructions then simply start open.
    }
  }

  // -- the keyboard ------------------------------------------------------------------------
  function openSkip() {
    const skip = document.getElementById("skip");
    if (!skip) { return; }
    skip.open = true;
    document.getElementById("skip-reason").focus();
  }

  function onKey(event) {
    const form = document.getElementById("answer-form");
    const dialog = document.getElementById("shortcuts");
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const submit = document.getElementById("submit-answer");
      if (form && submit && !submit.disabled && !(dialog && dialog.open)) {
        event.preventDefault();
        form.requestSubmit(submit);
      }
      return;
    }
    if (event.key === "Escape") {
      hidePalette();
      const skip = document.getElementById("skip");
      if (skip && skip.open && skip.contains(event.target)) { skip.open = false; }
      if (typing(event.target)) { event.target.blur(); }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || (dialog && dialog.open)) { return; }
    if (/^[0-9]$/.test(event.key)) {
      if (pressDigit(event.key)) { event.preventDefault(); }
      return;
    }
    const actions = {
      "?": function () { if (dialog) { dialog.showModal(); } },
      "s": openSkip,
      "e": function () {
        const extend = document.querySelector("form[action$='/extend/']");
        const button = document.getElementById("extend-button");
        if (extend && button && !button.disabled) { extend.requestSubmit(); }
      },
      "c": function () {
        const body = document.getElementById("comment-body");
        if (body) { body.focus(); body.scrollIntoView({block: "center"}); }
      },
      "i": function () {
        const details = document.getElementById("instructions");
        if (details) { details.open = !details.open; }
      },
      "j": function () { step(1); },
      "k": function () { step(-1); },
    };
    if (!Object.prototype.hasOwnProperty.call(actions, event.key)) { return; }
    event.preventDefault();
    actions[event.key]();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector(".work-page")) { return; }
    startCountdown();
    startHeartbeats();
    document.querySelectorAll("form.work-inplace").forEach(inPlace);
    setUpInstructions();
    const form = document.getElementById("answer-form");
    if (form) {
      trackFocusedTime(form);
      form.addEventListener("submit", function () {
        const submit = document.getElementById("submit-answer");
        window.setTimeout(function () { submit.disabled = true; }, 0);
      });
    }
    questions = Array.from(document.querySelectorAll(".work-question"));
    questions.forEach(function (question) {
      const kind = question.dataset.kind;
      if (kind === "multi_label") { setUpExclusiveNone(question); }
      if (kind === "pairwise") { setUpPairwise(question); }
      if (kind === "ranking") { setUpRanking(question); }
      if (kind === "spans") { setUpSpans(question); }
      if (kind === "text") { setUpText(question); }
    });
    watchSelections();
    document.addEventListener("focusin", function (event) {
      const question = event.target.closest && event.target.closest(".work-question");
      if (question) { setActive(question, false); }
    });
    const opener = document.getElementById("shortcuts-open");
    if (opener) { opener.addEventListener("click", function () { document.getElementById("shortcuts").showModal(); }); }
    document.addEventListener("keydown", onKey);
    const wrong = document.querySelector(".work-question.errors");
    if (wrong) {
      setActive(wrong, true);
    } else if (questions.length) {
      setActive(questions.find(function (question) { return !answered(question); }) || questions[0], false);
    }
  });
})();
