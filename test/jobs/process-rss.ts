/**
 * Resident set size (RSS) of the stack's Node processes, read from their Prometheus endpoints
 * (prom-client's process_resident_memory_bytes, from /proc at each scrape), for the tests that bound
 * what a large import or report costs the api and the worker.
 */
export async function rss(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const match = /^process_resident_memory_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)$/m.exec(text);
  if (!match?.[1]) throw new Error(`no RSS in ${metricsUrl}`);
  return Number(match[1]);
}

/** Samples RSS of each url every 100 ms until stopped; returns the peak per url. */
export function sampleRss(urls: string[]): () => Promise<Map<string, number>> {
  const peaks = new Map<string, number>(urls.map((url) => [url, 0]));
  let running = true;
  const loop = (async () => {
    while (running) {
      await Promise.all(
        urls.map(async (url) => peaks.set(url, Math.max(peaks.get(url) ?? 0, await rss(url).catch(() => 0)))),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return peaks;
  };
}
