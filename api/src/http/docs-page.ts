/**
 * The reference page (/docs/reference), rendered on the server from the OpenAPI document: one
 * self-contained HTML file (inline CSS, no scripts, nothing fetched from elsewhere), so it works
 * offline, without scripts, and under helmet's default Content-Security-Policy. /docs is Swagger UI (docs.ts).
 */
import type { OpenApiDocument } from './openapi.js';

type JsonObject = Record<string, unknown>;

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );

/** `code` spans for `backticks` in descriptions; everything else escaped. */
const prose = (text: unknown): string =>
  typeof text === 'string' ? escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>') : '';

const refName = (schema: unknown): string | undefined => {
  const ref = (schema as JsonObject | undefined)?.$ref;
  return typeof ref === 'string' ? ref.split('/').pop() : undefined;
};

const schemaLink = (schema: unknown): string => {
  const name = refName(schema);
  if (name) return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  return schema ? `<code>${escapeHtml(JSON.stringify(schema))}</code>` : '';
};

const typeOf = (schema: JsonObject): string => {
  const type = Array.isArray(schema.type) ? schema.type.join(' | ') : String(schema.type ?? 'any');
  const limits = [
    schema.minimum !== undefined ? `&ge; ${String(schema.minimum)}` : '',
    schema.maximum !== undefined ? `&le; ${String(schema.maximum)}` : '',
    schema.minLength !== undefined ? `length &ge; ${String(schema.minLength)}` : '',
    schema.maxLength !== undefined ? `length &le; ${String(schema.maxLength)}` : '',
    schema.pattern !== undefined ? `pattern <code>${escapeHtml(String(schema.pattern))}</code>` : '',
    schema.default !== undefined ? `default ${escapeHtml(JSON.stringify(schema.default))}` : '',
  ].filter(Boolean);
  return `<code>${escapeHtml(type)}</code>${limits.length ? ` <span class="muted">${limits.join(', ')}</span>` : ''}`;
};

interface Operation {
  tag: string;
  method: string;
  path: string;
  op: JsonObject;
}

function operationHtml({ method, path, op }: Operation): string {
  const roles = op['x-roles'] as string[] | undefined;
  const parameters = (op.parameters as JsonObject[] | undefined) ?? [];
  const body = op.requestBody as { content: Record<string, { schema: unknown }>; description?: string } | undefined;
  const responses = Object.entries(op.responses as Record<string, JsonObject>);
  const id = `op-${String(op.operationId)}`;
  return `
<section class="op" id="${escapeHtml(id)}">
<h3><span class="method ${escapeHtml(method)}">${escapeHtml(method.toUpperCase())}</span> <code class="path">${escapeHtml(path)}</code></h3>
<p class="summary">${prose(op.summary)} <span class="access">${roles ? `bearer token: ${escapeHtml(roles.join(' or '))}` : 'public'}</span></p>
${op.description ? `<p>${prose(op.description)}</p>` : ''}
${
  parameters.length
    ? `<table><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>${parameters
        .map(
          (p) =>
            `<tr><td><code>${escapeHtml(String(p.name))}</code>${p.required ? ' <span class="req">required</span>' : ''}</td><td>${escapeHtml(String(p.in))}</td><td>${typeOf((p.schema as JsonObject | undefined) ?? {})}</td><td>${prose(p.description)}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : ''
}
${
  body
    ? `<p><strong>Body</strong> ${Object.entries(body.content)
        .map(([type, media]) => `<code>${escapeHtml(type)}</code> ${schemaLink(media.schema)}`)
        .join(', ')}${body.description ? ` - ${prose(body.description)}` : ''}</p>`
    : ''
}
<table class="responses"><thead><tr><th>Status</th><th>Description</th><th>Body</th></tr></thead><tbody>${responses
    .map(([status, response]) => {
      const content = response.content as Record<string, { schema: unknown }> | undefined;
      const media = content
        ? Object.entries(content)
            .map(([type, m]) => `<code>${escapeHtml(type)}</code> ${schemaLink(m.schema)}`)
            .join(', ')
        : '';
      return `<tr><td class="status s${status[0] ?? ''}">${escapeHtml(status)}</td><td>${prose(response.description)}</td><td>${media}</td></tr>`;
    })
    .join('')}</tbody></table>
</section>`;
}

export function renderDocsPage(doc: OpenApiDocument): string {
  const info = doc.info as { title: string; version: string; description: string };
  const operations: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      operations.push({ tag: ((op.tags as string[] | undefined) ?? ['Other'])[0] ?? 'Other', method, path, op });
    }
  }
  // Features first, then the operational and documentation routes.
  const last = ['Operations', 'Documentation'];
  const tags = [...new Set(operations.map((o) => o.tag))].sort(
    (a, b) => Number(last.includes(a)) - Number(last.includes(b)),
  );

  const schemaHtml = Object.entries(doc.components.schemas)
    .map(
      ([name, schema]) =>
        `<section class="schema" id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${
          schema.description ? `<p>${prose(schema.description)}</p>` : ''
        }<pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></section>`,
    )
    .join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(info.title)} ${escapeHtml(info.version)}</title>
<style>
${PAGE_STYLE}</style>
</head>
<body>
<header>
  <h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1>
  <p>${prose(info.description)}</p>
  <p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI 3.1). Errors are <code>application/problem+json</code> (RFC 9457).</p>
</header>
<main>
<nav>
${tags
  .map(
    (tag) =>
      `<h4>${escapeHtml(tag)}</h4>${operations
        .filter((o) => o.tag === tag)
        .map(
          (o) =>
            `<a href="#op-${escapeHtml(String(o.op.operationId))}">${escapeHtml(o.method.toUpperCase())} ${escapeHtml(o.path)}</a>`,
        )
        .join('')}`,
  )
  .join('\n')}
<h4>Schemas</h4>
${Object.keys(doc.components.schemas)
  .map((name) => `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`)
  .join('')}
</nav>
<article>
${tags
  .map(
    (tag) =>
      `<h2>${escapeHtml(tag)}</h2>${operations
        .filter((o) => o.tag === tag)
        .map(operationHtml)
        .join('\n')}`,
  )
  .join('\n')}
<h2>Schemas</h2>
${schemaHtml}
</article>
</main>
</body>
</html>
`;
}

const PAGE_STYLE = `
  :root { color-scheme: light; --fg: #1d2433; --muted: #5b6478; --line: #dde2ea; --bg: #f6f8fb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
  header { padding: 24px 32px; background: #14213d; color: #fff; }
  header p { margin: 4px 0 0; color: #c9d3e6; }
  header a { color: #ffd166; }
  header code { background: rgba(255, 255, 255, 0.15); color: #fff; }
  main { display: grid; grid-template-columns: 260px 1fr; }
  nav { position: sticky; top: 0; align-self: start; max-height: 100vh; overflow: auto; padding: 16px; border-right: 1px solid var(--line); background: var(--bg); font-size: 13px; }
  nav h4 { margin: 12px 0 4px; }
  nav a { display: block; color: var(--fg); text-decoration: none; padding: 2px 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
  article { padding: 8px 32px 48px; min-width: 0; }
  h2 { border-bottom: 2px solid var(--line); padding-bottom: 4px; margin-top: 32px; }
  .op { border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 12px; margin: 16px 0; }
  .op h3 { margin: 12px 0 4px; font-size: 16px; }
  .method { display: inline-block; min-width: 64px; text-align: center; border-radius: 4px; padding: 1px 8px; color: #fff; font-size: 13px; }
  .get { background: #2a7de1; } .post { background: #20a464; } .patch { background: #d98b00; } .put { background: #8a5cf6; } .delete { background: #d64545; }
  .access { margin-left: 8px; font-size: 12px; color: var(--muted); border: 1px solid var(--line); border-radius: 10px; padding: 0 8px; }
  .muted { color: var(--muted); font-size: 12px; }
  .req { color: #d64545; font-size: 11px; }
  table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
  th, td { text-align: left; border-bottom: 1px solid var(--line); padding: 4px 8px; vertical-align: top; }
  .status { font-weight: 600; } .s2 { color: #20a464; } .s3 { color: #2a7de1; } .s4 { color: #d98b00; } .s5 { color: #d64545; }
  code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: var(--bg); padding: 0 3px; border-radius: 3px; }
  pre { background: var(--bg); padding: 12px; border-radius: 6px; overflow: auto; font-size: 12px; }
`;
