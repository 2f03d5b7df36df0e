// The station board: fetches the station's status from the host's read-only API, then keeps
// it live from the WebSocket /ws (README "The status board"): after a hello, each message is
// an array of events, each carrying the ledger seq its batch is durable through; after a reconnect the board asks ?since= the last complete
// batch it saw, so nothing is missed.
'use strict';
(function () {
  const state = {
    items: new Map(), seq: 0, now: '', decision: null, alerts: [], seen: new Set(),
    ws: null, retryMs: 500, syncing: false,
  };
  const $ = (id) => document.getElementById(id);
  const el = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const WORDS = {
    current: 'calibration current', expiring_soon: 'calibration expiring soon',
    expired: 'calibration expired', pending_calibration: 'pending calibration',
    calibration_failed: 'calibration failed', out_of_service: 'out of service',
    unknown: 'not in any contract',
  };

  async function api(path) {
    const r = await fetch(path, { cache: 'no-store' });
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }

  // A station time as the operator reads it: "2025-02-13 07:10 UTC".
  function shown(t) {
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(?::\d\d(?:\.\d+)?)?Z$/.exec(t || '');
    return m ? m[1] + ' ' + m[2] + ' UTC' : (t || '');
  }

  function noteTime(t) {
    if (typeof t === 'string' && t > state.now) state.now = t;
  }

  function tone(item) {
    if (item.status === 'unknown') return 'unknown';
    if (!item.ready) return item.status === 'out_of_service' ? 'off' : 'bad';
    return item.status === 'expiring_soon' ? 'warn' : 'ok';
  }

  function renderItems() {
    const box = $('items');
    box.textContent = '';
    const ids = [...state.items.keys()].sort();
    if (ids.length === 0) box.append(el('p', 'empty', 'Waiting for the station\'s status…'));
    let ready = 0;
    for (const id of ids) {
      const item = state.items.get(id);
      if (item.ready) ready++;
      const t = el('article', 'tile');
      t.dataset.id = id;
      t.dataset.ready = String(!!item.ready);
      t.dataset.status = item.status || '';
      t.dataset.tone = tone(item);
      t.append(el('div', 'id', id));
      if (item.description) t.append(el('div', 'desc', item.description));
      t.append(el('div', 'state', (item.ready ? 'READY' : 'NOT READY') + ' · ' +
                                  (WORDS[item.status] || item.status || '')));
      t.append(el('div', 'reason', item.reason || ''));
      box.append(t);
    }
    $('summary').textContent = ids.length ? ready + ' of ' + ids.length + ' ready' : '';
    renderChecks();
  }

  function timeLeft(until) {
    const now = Date.parse(state.now);
    const end = Date.parse(until);
    if (!isFinite(now) || !isFinite(end)) return { text: '', cls: '' };
    const min = Math.round((end - now) / 60000);
    if (min <= 0) return { text: 'lapsed', cls: 'due-bad' };
    const text = min >= 120 ? Math.floor(min / 60) + ' h ' + (min % 60) + ' min left'
                            : min + ' min left';
    return { text, cls: min <= 120 ? 'due-warn' : '' };
  }

  function renderChecks() {
    const rows = [];
    for (const [id, item] of state.items) {
      for (const c of item.checks || []) rows.push({ id, c });
    }
    // Not done or failed first, then the ones that lapse soonest.
    rows.sort((a, b) => (a.c.ok - b.c.ok) ||
                        String(a.c.valid_until || '').localeCompare(String(b.c.valid_until || '')));
    const list = $('checks');
    list.textContent = '';
    if (rows.length === 0) list.append(el('li', 'empty', 'No checks reported'));
    for (const { id, c } of rows) {
      const li = el('li');
      li.dataset.item = id;
      li.dataset.procedure = c.procedure_id;
      let left = c.ok ? timeLeft(c.valid_until) : { text: 'not done or failed', cls: 'due-bad' };
      if (c.ok && !c.valid_until) left = { text: 'done', cls: '' };
      li.className = left.cls;
      li.append(el('span', 'left', left.text));
      li.append(el('strong', '', c.procedure_id));
      li.append(document.createTextNode(' on ' + id + (c.frequency ? ' (' + c.frequency + ')' : '')));
      li.append(el('div', 'reason', c.reason || ''));
      list.append(li);
    }
  }

  function renderDecision() {
    const d = state.decision;
    const box = $('decision');
    if (!d) return;
    box.textContent = '';
    box.dataset.allowed = String(!!d.allowed);
    box.dataset.clientpo = d.clientpo_id || '';
    box.append(el('div', 'verdict', (d.allowed ? 'ALLOWED' : 'BLOCKED') + ' · ' + (d.clientpo_id || '')));
    box.append(el('div', 'when', 'decided ' + shown(d.decided_at)));
    const blocking = (d.equipment || []).filter((e) => !e.ready);
    if (blocking.length) {
      const ul = el('ul', 'blocking');
      for (const e of blocking) {
        const li = el('li', '', e.equipment_id + ': ' + (e.reason || WORDS[e.status] || e.status));
        li.dataset.item = e.equipment_id;
        ul.append(li);
      }
      box.append(ul);
    }
  }

  function renderAlerts() {
    const list = $('alerts');
    list.textContent = '';
    if (state.alerts.length === 0) list.append(el('li', 'empty', 'No alerts'));
    for (const a of state.alerts.slice(0, 50)) {
      const li = el('li');
      li.dataset.type = a.alert_type;
      li.append(el('span', 'sev sev-' + a.severity, a.severity));
      li.append(el('span', 'when', shown(a.timestamp) + ' '));
      li.append(document.createTextNode(a.message));
      list.append(li);
    }
  }

  function renderClock() {
    $('clock').textContent = state.now ? 'as of ' + shown(state.now) : '–';
    document.body.dataset.seq = String(state.seq);
  }

  // One event, from the WebSocket or a ?since= answer; each is applied once.
  function apply(m) {
    const key = m.seq + ':' + m.n;
    if (state.seen.has(key)) return;
    state.seen.add(key);
    const d = m.data || {};
    if (m.topic === 'status.changed') {
      const item = state.items.get(d.equipment_id) || { equipment_id: d.equipment_id };
      item.status = d.to;
      item.ready = d.ready;
      if (d.due_date) item.due_date = d.due_date;
      item.reason = (WORDS[d.to] || d.to) + (d.due_date ? ', due ' + d.due_date : '') +
                    ' (' + (d.cause || 'changed') + ')';
      state.items.set(d.equipment_id, item);
    } else if (m.topic === 'gate.decision') {
      if (!state.decision || (d.decided_at || '') >= (state.decision.decided_at || ''))
        state.decision = d;
      for (const e of d.equipment || []) {
        const item = state.items.get(e.equipment_id) || {};
        state.items.set(e.equipment_id, Object.assign(item, e));
      }
      noteTime(d.decided_at);
    } else if (m.topic === 'alert') {
      state.alerts.unshift(d);
      if (state.alerts.length > 200) state.alerts.length = 200;
      noteTime(d.timestamp);
    } else if (m.topic === 'ledger.checkpoint') {
      $('ledger').textContent = 'ledger signed through seq ' + d.seq;
    }
  }

  function applied(m) {
    apply(m);
    if (m.last && m.seq > state.seq) state.seq = m.seq;
  }

  async function statusAll() {
    const items = new Map();
    let after = null, page;
    do {
      page = await api('/api/status?limit=1000' + (after ? '&after=' + encodeURIComponent(after) : ''));
      for (const e of page.equipment) items.set(e.equipment_id, e);
      after = page.next_after;
    } while (after);
    return { page, items };
  }

  async function resync() {
    if (state.syncing) return;
    state.syncing = true;
    try {
      const since = state.seq;
      const [{ page, items }, alerts, decisions, ledger] = await Promise.all([
        statusAll(), api('/api/alerts?since=' + since), api('/api/decisions?since=' + since),
        api('/api/ledger/recent?limit=1')]);
      state.items = items;
      noteTime(page.now);
      noteTime(page.as_of);
      if (!alerts.complete || !decisions.complete) state.seen.clear();
      for (const m of decisions.decisions) apply(m);
      for (const m of alerts.alerts) apply(m);
      state.alerts.sort((a, b) => String(b.timestamp).localeCompare(String(a.timestamp)));
      const rec = ledger.records[ledger.records.length - 1];
      if (rec) {
        $('ledger').textContent = 'ledger: ' + rec.seq + ' records, last ' + rec.action;
        $('station').textContent = rec.node_id;
      }
      state.seq = Math.max(state.seq, page.seq);
      document.body.dataset.synced = 'true';
    } catch (e) {
      $('link').textContent = 'resync failed: ' + e.message;
    } finally {
      state.syncing = false;
      renderAll();
    }
  }

  function renderAll() {
    renderItems();
    renderDecision();
    renderAlerts();
    renderClock();
  }

  function connect() {
    // ?deflate=1: each batch comes deflated in a binary message (one compression on the host
    // for every client, nine times fewer bytes), inflated here in order.
    const deflate = typeof DecompressionStream === 'function';
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host +
                             '/ws' + (deflate ? '?deflate=1' : ''));
    ws.binaryType = 'arraybuffer';
    state.ws = ws;
    let inOrder = Promise.resolve();
    ws.onopen = () => {
      state.retryMs = 500;
      $('link').textContent = 'live';
      $('link').className = 'link-up';
    };
    const take = (text) => {
      const m = JSON.parse(text);
      if (!Array.isArray(m)) {
        if (m.topic === 'board.hello') resync();
        return;
      }
      for (const e of m) applied(e); // a batch's events, in order
      renderAll();
    };
    const inflate = (buf) => new Response(
      new Blob([buf]).stream().pipeThrough(new DecompressionStream('deflate'))).text();
    ws.onmessage = (ev) => {
      const data = ev.data;
      inOrder = inOrder.then(() => (typeof data === 'string' ? data : inflate(data))).then(take)
        .catch((err) => console.error('board: a message could not be read', err));
    };
    ws.onclose = () => {
      $('link').textContent = 'reconnecting…';
      $('link').className = 'link-down';
      setTimeout(connect, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, 10000);
    };
  }

  connect();
})();
