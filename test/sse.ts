/**
 * A Server-Sent Events reader for tests and the bench: what a client of `edgetune serve`'s
 * `/api/train/events` and `/api/live/events` sees, parsed (one `event:` and one JSON `data:` line
 * per event).
 */

/** Reads an SSE stream until `until` returns true for an event; returns every event seen. */
export async function readEvents(url: string, until: (type: string, data: any) => boolean, timeoutMs: number, headers: Record<string, string> = {}): Promise<{ type: string; data: any }[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(url, { signal: ac.signal, headers });
  const reader = res.body!.getReader();
  const seen: { type: string; data: any }[] = [];
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += Buffer.from(value).toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!type || data === undefined) continue;
        const e = { type, data: JSON.parse(data) };
        seen.push(e);
        if (until(e.type, e.data)) return seen;
      }
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  throw new Error(`event stream ${url} ended before the awaited event; saw ${seen.map((e) => e.type).join(', ')}`);
}

