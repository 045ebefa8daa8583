/** The live console: one self-contained page that polls /api/status and can run read-only SQL. */
export const CONSOLE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Flywheel console</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f6f7fb}
h1{font-size:20px;margin:0 0 4px} .sub{color:#667;margin-bottom:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0001}
.big{font-size:28px;font-weight:600} table{border-collapse:collapse;width:100%} td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #eee;font-size:12px}
textarea{width:100%;height:60px;font-family:monospace} pre{white-space:pre-wrap;font-size:12px;max-height:300px;overflow:auto}
</style></head><body>
<h1>Flywheel</h1><div class="sub">streaming features, live · <span id="at"></span></div>
<div class="grid">
 <div class="card"><div>events/s folded</div><div class="big" id="rate">–</div><div>accepted total <b id="accepted">–</b></div></div>
 <div class="card"><div>offline store (ClickHouse)</div><div>raw events <b id="ev">–</b> · tiles <b id="tiles">–</b></div></div>
 <div class="card" style="grid-column:1/-1"><div>partitions (checkpoint next offset, late, invalid, watermark)</div><table id="parts"></table></div>
 <div class="card" style="grid-column:1/-1"><div>live feature vector of a recent user: <b id="entity"></b></div><table id="vector"></table></div>
 <div class="card" style="grid-column:1/-1"><div>read-only SQL</div><textarea id="sql">SELECT entity, count() AS orders FROM flywheel.events GROUP BY entity ORDER BY orders DESC LIMIT 10</textarea>
 <button onclick="runSql()">Run</button><pre id="out"></pre></div>
</div>
<script>
const esc=(s)=>String(s).replace(/[&<>]/g,(c)=>({'&':'&amp;','<':'&lt;','>':'&gt;'}[c]));
async function tick(){try{const s=await (await fetch('/api/status')).json();
 document.getElementById('at').textContent=s.at;document.getElementById('rate').textContent=s.features.events_per_s;
 document.getElementById('accepted').textContent=s.features.accepted;
 document.getElementById('ev').textContent=s.clickhouse?s.clickhouse.events:'–';document.getElementById('tiles').textContent=s.clickhouse?s.clickhouse.tiles:'–';
 let rows='<tr><th>topic/partition</th><th>next</th><th>accepted</th><th>late</th><th>invalid</th><th>max event time</th></tr>';
 for(const [t,cps] of Object.entries(s.features.checkpoints))for(const [p,c] of Object.entries(cps))rows+='<tr><td>'+esc(t)+'/'+p+'</td><td>'+c.next+'</td><td>'+c.accepted+'</td><td>'+c.late+'</td><td>'+c.invalid+'</td><td>'+(c.maxEventTime?new Date(c.maxEventTime).toISOString():'')+'</td></tr>';
 document.getElementById('parts').innerHTML=rows;
 if(s.sample){document.getElementById('entity').textContent=s.sample.entity;let v='<tr><th>view</th><th>status</th><th>freshness ms</th><th>features</th></tr>';
  for(const x of s.sample.views)v+='<tr><td>'+esc(x.view)+'</td><td>'+x.status+'</td><td>'+x.freshnessMs+'</td><td>'+esc(Object.entries(x.features).map(([k,val])=>k+'='+(Array.isArray(val)?val.map(n=>n.toFixed(2)).join('/'):typeof val==='number'?(+val.toFixed(3)):val)).join('  '))+'</td></tr>';
  document.getElementById('vector').innerHTML=v;}
}catch(e){document.getElementById('at').textContent='unreachable: '+e}}
async function runSql(){const r=await fetch('/api/sql',{method:'POST',headers:{'content-type':'application/json'},body:JSON.stringify({sql:document.getElementById('sql').value})});
 document.getElementById('out').textContent=JSON.stringify(await r.json(),null,1);}
tick();setInterval(tick,1000);
</script></body></html>`;
