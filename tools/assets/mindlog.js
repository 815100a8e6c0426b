// The dashboard's own script (docs/dashboard.md): forms as JSON for the node's API, the live
// subscription, the events tail, verify with its progress, and charts. No inline script runs on
// a page (its security policy forbids it); pages hand data over as JSON in
// <script type="application/json"> elements, which are never executed.
(function () {
  'use strict';

  const csrf = document.querySelector('meta[name="mindlog-csrf"]').content;

  // A form's fields as one JSON object for POST /v1/commands (and /v1/erasures): a field marked
  // data-json="integer" is sent as a number, "boolean" as true/false, and an empty optional field
  // is left out.
  htmx.defineExtension('json-form', {
    onEvent: function (name, event) {
      if (name === 'htmx:configRequest') {
        event.detail.headers['Content-Type'] = 'application/json';
      }
      return true;
    },
    encodeParameters: function (xhr, parameters, elt) {
      xhr.overrideMimeType('application/json');
      const form = elt.closest('form') || elt;
      const out = {};
      for (const [key, value] of parameters.entries()) {
        const field = form.elements.namedItem(key);
        const kind = field && field.dataset ? field.dataset.json : undefined;
        if (value === '' && !(field && field.required)) continue;
        if (kind === 'integer') out[key] = Number(value);
        else if (kind === 'boolean') out[key] = value === 'true';
        else out[key] = value;
      }
      return JSON.stringify(out);
    },
  });

  // The outcome of a form: "Done." or the one line of the node's refusal, next to the form.
  document.body.addEventListener('htmx:afterRequest', function (event) {
    const form = event.detail.elt.closest && event.detail.elt.closest('form.command');
    if (!form) return;
    const outcome = form.querySelector('.outcome');
    if (event.detail.successful) {
      outcome.textContent = form.dataset.done || 'Done.';
      outcome.className = 'outcome ok';
      form.reset();
      changed();
    } else {
      let message;
      try {
        message = JSON.parse(event.detail.xhr.responseText).error.message;
      } catch (_) {
        message = 'the node did not answer (HTTP ' + event.detail.xhr.status + ')';
      }
      outcome.textContent = message;
      outcome.className = 'outcome error';
    }
  });

  // The page's live sections refresh on "mindlog-event". Events come in bursts: one refresh
  // follows a burst, at most REFRESH_MS after its first event, and always after its last (a
  // section's requests queue: an event that comes while a refresh runs gets one of its own).
  const REFRESH_MS = 250;
  let pending = null;
  function changed() {
    if (pending !== null) return;
    pending = setTimeout(function () {
      pending = null;
      htmx.trigger(document.body, 'mindlog-event');
    }, REFRESH_MS);
  }

  // The live subscription: every committed event reaches the events tail and refreshes the live
  // sections.
  const status = document.getElementById('live-status');
  const subscribe = document.body.dataset.subscribe;
  if (subscribe) {
    const source = new EventSource(subscribe);
    source.addEventListener('caught_up', function () {
      if (status) status.textContent = 'live';
    });
    source.addEventListener('event', function (message) {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      tail(event, Number(message.lastEventId) - 1);
      changed();
    });
    // Leaving the page ends its subscription at once (the node stops sending; the page can go
    // into the back/forward cache).
    window.addEventListener('pagehide', function () {
      source.close();
    });
    source.addEventListener('end', function () {
      source.close();
      if (status) status.textContent = 'the node stopped: reload when it is back';
    });
  }

  const tailBody = document.querySelector('#tail tbody');
  const TAIL_ROWS = 200;
  function tail(event, offset) {
    if (!tailBody) return;
    const row = document.createElement('tr');
    row.dataset.kind = event.kind;
    row.dataset.author = event.author;
    const cells = [
      String(offset),
      (event.time || '').replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      event.author.slice(0, 12),
      String(event.seq),
      event.kind,
      event.hash.slice(0, 12),
    ];
    for (const text of cells) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.appendChild(cell);
    }
    tailBody.insertBefore(row, tailBody.firstChild);
    while (tailBody.rows.length > TAIL_ROWS) tailBody.deleteRow(-1);
  }

  // Verify, with its progress: POST /v1/verify answers NDJSON lines as it goes.
  const verify = document.getElementById('verify');
  if (verify) {
    verify.addEventListener('click', async function () {
      const bar = document.getElementById('verify-progress');
      const outcome = document.getElementById('verify-outcome');
      verify.disabled = true;
      outcome.textContent = 'verifying…';
      try {
        const response = await fetch('/v1/verify', {
          method: 'POST',
          headers: { 'Accept': 'application/x-ndjson', 'Content-Type': 'application/json', 'x-mindlog-csrf': csrf },
        });
        if (!response.ok) {
          outcome.textContent = (await response.json()).error.message;
          return;
        }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffered = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += decoder.decode(value, { stream: true });
          let newline;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = JSON.parse(buffered.slice(0, newline));
            buffered = buffered.slice(newline + 1);
            if (line.progress) {
              bar.max = line.progress.total || 1;
              bar.value = line.progress.done;
            } else if (line.report) {
              const r = line.report;
              bar.max = 1;
              bar.value = 1;
              outcome.textContent = (r.ok ? 'OK: ' : 'FAILED: ') + r.events.toLocaleString('en') + ' events in ' +
                r.feeds + ' feeds checked in ' + r.seconds.toFixed(2) + ' s' +
                (r.ok ? '.' : ' (' + r.failed_events + ' failed; mindlog verify says which)');
              htmx.ajax('GET', window.location.pathname, { target: '#last-verified', select: '#last-verified', swap: 'outerHTML' });
            } else if (line.error) {
              outcome.textContent = line.error.message;
            }
          }
        }
      } catch (error) {
        outcome.textContent = 'verify stopped: ' + error;
      } finally {
        verify.disabled = false;
      }
    });
  }

  // Charts: <div class="chart" data-chart="ID"> draws the JSON of <script id="ID">:
  // {"range": [low, high] or null, "x": [unix seconds], "series": [{"label", "values"}]}. Without
  // a range the y axis runs from 0 (or below, for negative values) to a little above the top.
  const COLORS = ['#0b57d0', '#b3261e', '#146c2e', '#8e4585'];
  function draw(root) {
    root.querySelectorAll('[data-chart]').forEach(function (element) {
      if (element.dataset.drawn) return;
      const source = document.getElementById(element.dataset.chart);
      if (!source) return;
      const data = JSON.parse(source.textContent);
      const options = {
        width: Math.max(240, element.clientWidth),
        height: 220,
        series: [{}].concat(data.series.map(function (s, i) {
          return { label: s.label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: data.x.length < 60 } };
        })),
        scales: {
          y: {
            range: data.range ? function () { return data.range; } : function (u, min, max) {
              return [Math.min(0, min), max > 0 ? max * 1.1 : 1];
            },
          },
        },
        axes: [{}, { size: 64 }],
        legend: { live: false },
      };
      const plot = new uPlot(options, [data.x].concat(data.series.map(function (s) { return s.values; })), element);
      element.dataset.drawn = '1';
      // The chart follows its box's width (a narrow window, a resized one).
      new ResizeObserver(function () {
        const width = Math.max(240, element.clientWidth);
        if (width !== plot.width) plot.setSize({ width: width, height: 220 });
      }).observe(element);
    });
  }
  draw(document);
  document.body.addEventListener('htmx:afterSettle', function (event) {
    draw(event.detail.elt);
  });
})();
