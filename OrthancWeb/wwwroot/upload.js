// Upload page: the browser sends the dropped or chosen files straight to the server (POST ui/upload/file), several
// requests at a time, and tells the page what happened in small batches. Files never travel through the Blazor circuit
// (it carried about 5 MB/s and dropped the page on large picks); the circuit only carries counts and per-file outcomes.
// Small files go several to a request (multipart/form-data): Chromium spends about as much per request as per 8 MB
// sent, so a CD's 500 KB files went at 24 MB/s one per request and 53 MB/s in 8 MB requests; over HTTP/1.1 on a
// warmed server, 8 MB requests took the CD in 9.7-10.7 s and 16 MB ones in 7.6-9.6 s, before the server read ahead
// within a request (README: upload-benchmark.sh).
window.owUpload = (() => {
  const inFlight = 6;          // requests at once: the browser's six HTTP/1.1 connections to a host (five: 11.8 s for the CD, against 7.6-9.6)
  const batchBytes = 16 << 20; // files to a request, up to this size...
  const batchFiles = 64;       // ...and this count; a larger file goes alone
  const attempts = 3;          // a file is sent again after a network failure or a server error, then reported failed
  const reportEvery = 250;     // ms between reports to the page
  const reportBatch = 100;     // outcomes per report (a circuit message stays far below its 32 KB limit)

  let page = null;             // the Blazor component (DotNetObjectReference)
  let queue = [];              // { file, name }
  let failed = [];             // files that failed every attempt, kept for "Retry failed"
  let running = 0;
  let outcomes = [];
  let counts = { files: 0, bytes: 0, doneFiles: 0, doneBytes: 0, entries: 0 };  // entries: a ZIP's outcomes past its first
  let timer = null;
  let reporting = Promise.resolve();

  function enqueue(items) {
    for (const it of items) {
      queue.push({ file: it.file, name: it.name });
      counts.files++;
      counts.bytes += it.file.size;
    }
    schedule();
    pump();
  }

  function nextBatch() {
    const items = [];
    let bytes = 0;
    while (queue.length > 0 && items.length < batchFiles && (items.length === 0 || bytes + queue[0].file.size <= batchBytes)) {
      const item = queue.shift();
      items.push(item);
      bytes += item.file.size;
    }
    return items;
  }

  function pump() {
    while (running < inFlight && queue.length > 0) {
      const batch = nextBatch();
      running++;
      sendBatch(batch).finally(() => { running--; pump(); schedule(); });
    }
  }

  // A batch that keeps failing is sent again file by file, so that one file the server cannot take (or a request too
  // large for a proxy on the way) fails alone.
  async function sendBatch(batch) {
    if (batch.length === 1) return send(batch);
    if (await send(batch, true)) return;
    for (const item of batch) await send([item]);
  }

  // Sends the files in one request, again after a network failure or a server error; true once the server answered.
  // Unless quiet (a batch about to be split), files that fail every attempt are reported failed.
  async function send(items, quiet) {
    let attempt = 0;
    for (;;) {
      attempt++;
      let answer = null, reason = null, retry = false;
      try {
        const form = new FormData();
        for (const item of items) form.append('file', item.file, item.name);
        const response = await fetch('ui/upload/file', { method: 'POST', body: form, credentials: 'same-origin' });
        if (response.ok) answer = await response.json();
        else {
          reason = await errorText(response);
          // 401/403: signed out or not allowed, sending again changes nothing; 413 the same. Anything else may pass later.
          retry = ![400, 401, 403, 404, 413].includes(response.status);
        }
      } catch (e) {
        reason = 'connection lost: ' + (e && e.message ? e.message : e);
        retry = true;
      }
      if (answer) {
        for (const o of answer) outcomes.push(o);
        counts.entries += Math.max(0, answer.length - items.length); // a ZIP answers once per entry
        for (const item of items) done(item);
        return true;
      }
      if (retry && attempt < attempts) {
        await new Promise(r => setTimeout(r, 500 * attempt));
        continue;
      }
      if (quiet) return false;
      for (const item of items) {
        failed.push(item);
        outcomes.push({ name: item.name, status: 'Failed', reason: `${reason} (after ${attempt} attempt${attempt > 1 ? 's' : ''})`, id: null });
        done(item);
      }
      return false;
    }
  }

  function done(item) {
    counts.doneFiles++;
    counts.doneBytes += item.file.size;
  }

  async function errorText(response) {
    try {
      const text = await response.text();
      try { const j = JSON.parse(text); return `${response.status} ${j.Message || j.Details || text}`; } catch { return `${response.status} ${text || response.statusText}`; }
    } catch { return `${response.status} ${response.statusText}`; }
  }

  function schedule() {
    if (timer === null) timer = setTimeout(report, reportEvery);
  }

  function report() {
    timer = null;
    reporting = reporting.then(async () => {
      do {
        const batch = outcomes.splice(0, reportBatch);
        const finished = queue.length === 0 && running === 0 && outcomes.length === 0;
        try {
          // Done counts only files whose outcomes the page has: with more than one report's worth pending, the page
          // said "200 / 200 files: 100 stored" until the second report came.
          await page.invokeMethodAsync('OnUploadReport', {
            files: counts.files + counts.entries, bytes: counts.bytes, doneFiles: counts.doneFiles + counts.entries - outcomes.length, doneBytes: counts.doneBytes,
            failedFiles: failed.length, finished, outcomes: batch,
          });
        } catch (e) {
          console.warn('upload: the page did not take a report', e);
          return;
        }
      } while (outcomes.length > 0);
      if (queue.length > 0 || running > 0) schedule();
    });
  }

  // A folder dropped from the file manager arrives as entries to walk (readEntries answers in pieces until empty).
  async function walk(entry, into) {
    if (entry.isFile) {
      const file = await new Promise((ok, ko) => entry.file(ok, ko));
      into.push({ file, name: entry.fullPath.replace(/^\//, '') });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const children = await new Promise((ok, ko) => reader.readEntries(ok, ko));
        if (children.length === 0) break;
        for (const child of children) await walk(child, into);
      }
    }
  }

  async function dropped(dataTransfer) {
    const items = [];
    const entries = [...(dataTransfer.items || [])].filter(i => i.kind === 'file').map(i => i.webkitGetAsEntry && i.webkitGetAsEntry());
    if (entries.length > 0 && entries.every(e => e)) {
      for (const e of entries) await walk(e, items);
    } else {
      for (const f of dataTransfer.files) items.push({ file: f, name: f.name });
    }
    enqueue(items);
  }

  function chosen(input) {
    enqueue([...input.files].map(f => ({ file: f, name: f.webkitRelativePath || f.name })));
    input.value = '';
  }

  return {
    // Called once the page has rendered: the drop zone and the two pickers (files, a folder).
    attach(component, zone, filesInput, folderInput) {
      page = component;
      zone.addEventListener('dragover', e => { e.preventDefault(); zone.classList.add('upload-over'); });
      zone.addEventListener('dragleave', () => zone.classList.remove('upload-over'));
      zone.addEventListener('drop', e => {
        e.preventDefault();
        zone.classList.remove('upload-over');
        dropped(e.dataTransfer).catch(err => console.error('upload: reading the drop failed', err));
      });
      filesInput.addEventListener('change', () => chosen(filesInput));
      folderInput.addEventListener('change', () => chosen(folderInput));
      filesInput.dataset.ready = 'true';
      folderInput.dataset.ready = 'true';
    },
    retryFailed() {
      const again = failed;
      failed = [];
      counts.files -= again.length;
      counts.bytes -= again.reduce((s, i) => s + i.file.size, 0);
      counts.doneFiles -= again.length;
      counts.doneBytes -= again.reduce((s, i) => s + i.file.size, 0);
      enqueue(again.map(i => ({ file: i.file, name: i.name })));
      return again.length;
    },
    pick(input) { input.click(); },
    detach() { page = null; },
  };
})();
