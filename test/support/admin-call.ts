/** JSON to a sandbox's admin surface (or any JSON endpoint); throws on a non-2xx answer. */
export async function call(url: string, body?: unknown, method?: string): Promise<any> {
  const res = await fetch(url, {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method ?? 'POST'} ${url} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}
