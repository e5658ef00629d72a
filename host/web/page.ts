// The browser side of the web terminal: one page, xterm.js filling the window, one WebSocket
// per tab. Messages: binary both ways = terminal bytes; text = JSON control
// ({type:'resize'} up; {type:'opened'|'exit'|'error'} down). The session id is kept in
// sessionStorage, so reloading the tab re-attaches to the same shell.

/** The page's script. Plain browser JS (no build step); runs after xterm.js and the fit addon. */
const SCRIPT = String.raw`
(() => {
  const params = new URLSearchParams(location.search);
  const token = params.get('t') || '';
  const status = document.getElementById('status');
  const term = new Terminal({ cursorBlink: true, fontSize: 15, fontFamily: 'DejaVu Sans Mono, Liberation Mono, monospace', scrollback: 5000,
    theme: { background: '#101418', foreground: '#d8dee9' } });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(document.getElementById('terminal'));
  fit.fit();
  term.focus();

  const query = new URLSearchParams({ t: token, cols: String(term.cols), rows: String(term.rows) });
  const previous = sessionStorage.getItem('runbox-session');
  if (previous) query.set('attach', previous);
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws?' + query);
  ws.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  const show = (text) => { status.textContent = text; };
  window.runbox = { term, ws, fit };

  ws.onopen = () => show('connected');
  ws.onmessage = (event) => {
    if (typeof event.data !== 'string') return term.write(new Uint8Array(event.data));
    const message = JSON.parse(event.data);
    if (message.type === 'opened') {
      sessionStorage.setItem('runbox-session', message.id);
      show('session ' + message.id);
      document.title = 'runbox shell';
    } else if (message.type === 'exit') {
      sessionStorage.removeItem('runbox-session');
      term.write('\r\n[shell exited' + (message.signal ? ' by ' + message.signal : ' with code ' + message.exitCode) + ']\r\n');
      show('exited');
    } else if (message.type === 'error') {
      term.write('\r\n[' + message.message + ']\r\n');
      show('error');
    }
  };
  ws.onclose = () => show(status.textContent === 'exited' ? 'exited' : 'disconnected (reload to re-attach)');
  const send = (data) => { if (ws.readyState === WebSocket.OPEN) ws.send(data); };
  term.onData((data) => send(encoder.encode(data)));
  term.onBinary((data) => send(Uint8Array.from(data, (c) => c.charCodeAt(0))));
  term.onResize(({ cols, rows }) => send(JSON.stringify({ type: 'resize', cols, rows })));
  window.addEventListener('resize', () => fit.fit());
})();
`;

export function pageHtml(token: string, title: string): string {
  const q = `?t=${encodeURIComponent(token)}`;
  const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(title)}</title>
<link rel="stylesheet" href="/assets/xterm.css${q}">
<style>
  html, body { margin: 0; height: 100%; background: #101418; }
  body { display: flex; flex-direction: column; }
  #terminal { flex: 1; min-height: 0; padding: 4px; }
  #status { font: 12px sans-serif; color: #8a94a6; padding: 2px 8px; border-top: 1px solid #222a33; }
</style>
</head>
<body>
<div id="terminal"></div>
<div id="status">connecting…</div>
<script src="/assets/xterm.js${q}"></script>
<script src="/assets/addon-fit.js${q}"></script>
<script src="/app.js${q}"></script>
</body>
</html>
`;
}

export const APP_SCRIPT = SCRIPT;
