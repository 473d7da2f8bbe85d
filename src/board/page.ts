/** The board's single page: the dashboard from dist/vis, uPlot from the package, through an import map. */
function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

export function boardPage(opts: { logDir: string; pollMs: number }): string {
  const title = `board — ${opts.logDir}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{margin:0;background:#f5f5f5}</style>
<script type="importmap">{"imports":{"uplot":"/static/uplot/uPlot.esm.js"}}</script>
</head>
<body>
<div id="app"></div>
<script type="module">
import { mountDashboard, httpSource } from '/static/vis/dashboard.js';
const params = new URLSearchParams(location.search);
const poll = params.has('poll') ? Number(params.get('poll')) : ${JSON.stringify(opts.pollMs)};
window.board = mountDashboard(document.getElementById('app'), httpSource(''), { pollMs: poll, title: ${JSON.stringify(title).replace(/</g, '\\u003c')} });
</script>
</body>
</html>
`;
}
