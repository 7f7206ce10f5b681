// A qualification attempt in the browser: the countdown to the server's deadline, and
// marking spans of text with a label. The server decides; this only shows and helps.
"use strict";

(function () {
  function pad(n) { return n < 10 ? "0" + n : String(n); }

  function startCountdown() {
    const box = document.getElementById("countdown");
    if (!box) { return; }
    const value = document.getElementById("countdown-value");
    const submit = document.getElementById("submit-attempt");
    const deadline = Date.now() + Number(box.dataset.remaining) * 1000;
    function tick() {
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      value.textContent = Math.floor(left / 60) + ":" + pad(left % 60);
      box.classList.toggle("ws-countdown-low", left <= 60);
      if (left === 0) {
        box.classList.add("ws-countdown-over");
        document.getElementById("countdown-label").textContent = "Time is up:";
        submit.disabled = true;
        submit.value = "Time is up: answers can no longer be submitted";
        return;
      }
      window.setTimeout(tick, 250);
    }
    tick();
  }

  // Spans: select text in the field, then press a label's button. The marked spans are
  // kept as JSON in the question's hidden input, with offsets into the field's text.
  function setUpSpans(holder) {
    const input = document.getElementById(holder.dataset.input);
    const source = document.getElementById(input.dataset.spansFor);
    const labels = JSON.parse(input.dataset.labels);
    let spans = input.value ? JSON.parse(input.value) : [];
    const buttons = document.createElement("div");
    const list = document.createElement("ul");
    holder.append(buttons, list);
    labels.forEach(function (label) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "button";
      button.textContent = "Mark selection as " + label;
      button.addEventListener("click", function () { mark(label); });
      buttons.append(button);
    });
    function offsetIn(node, offset) {
      const range = document.createRange();
      range.selectNodeContents(source);
      range.setEnd(node, offset);
      return range.toString().length;
    }
    function mark(label) {
      const selection = window.getSelection();
      if (!selection.rangeCount || selection.isCollapsed) { return; }
      const range = selection.getRangeAt(0);
      if (!source.contains(range.startContainer) || !source.contains(range.endContainer)) { return; }
      const start = offsetIn(range.startContainer, range.startOffset);
      const end = offsetIn(range.endContainer, range.endOffset);
      if (spans.some(function (s) { return start < s.end && s.start < end; })) { return; }
      spans.push({start: start, end: end, label: label});
      spans.sort(function (a, b) { return a.start - b.start; });
      selection.removeAllRanges();
      show();
    }
    function show() {
      input.value = spans.length ? JSON.stringify(spans) : "";
      list.replaceChildren();
      spans.forEach(function (span, index) {
        const item = document.createElement("li");
        const remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "remove";
        remove.addEventListener("click", function () { spans.splice(index, 1); show(); });
        item.textContent = span.label + ": \u201c" + source.textContent.slice(span.start, span.end) + "\u201d ";
        item.append(remove);
        list.append(item);
      });
    }
    show();
  }

  document.addEventListener("DOMContentLoaded", function () {
    startCountdown();
    document.querySelectorAll(".ws-spans").forEach(setUpSpans);
  });
})();
