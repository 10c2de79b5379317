/** The OpenAPI 3.1 document of the server API, generated from the same schemas that validate its requests. */
import { z } from 'zod';
import { FileAnswer } from './http.js';
import type { Route } from './routes.js';
import { errorBody } from './schemas.js';

const ERRORS: Record<string, string> = {
  '400': 'invalid_json or invalid_request (`field` names what is wrong)',
  '401': 'unauthorized: no API key, or an unknown one',
  '403': 'forbidden: the key lacks the scope, or the rule refuses',
  '404': 'not_found',
  '405': 'method_not_allowed (the Allow header lists the methods the path takes)',
  '409': 'conflict (a room that exists already), unavailable (POST /tokens on a server that cannot sign tokens), or busy (a profile or heap snapshot under way)',
  '413': 'payload_too_large: the body is over api.maxBodyBytes',
  '503': 'unavailable: the store cannot take it now; retry with the same key',
};

function schema(s: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const json = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

export function openApiDocument(routes: readonly Route[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = schema(r.params, 'input') as { properties?: Record<string, unknown> };
    const query = schema(r.query, 'input') as { properties?: Record<string, unknown>; required?: string[] };
    const parameters = [
      ...Object.entries(params.properties ?? {}).map(([name, s]) => ({ name, in: 'path', required: true, schema: s })),
      ...Object.entries(query.properties ?? {}).map(([name, s]) => ({ name, in: 'query', required: query.required?.includes(name) ?? false, schema: s })),
    ];
    const op: Record<string, unknown> = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${r.path.replace(/[{}]/g, '').replace(/\/(\w)/g, (_, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
      parameters,
      responses: {
        '200':
          r.response instanceof FileAnswer
            ? {
                description: `${r.response.description}, as a download (Content-Disposition: attachment)`,
                content: { [r.response.contentType]: { schema: { type: 'string', format: 'binary' } } },
              }
            : { description: 'done', content: { 'application/json': { schema: schema(r.response, 'output') } } },
        ...Object.fromEntries(Object.entries(ERRORS).map(([code, description]) => [code, { description, content: { 'application/json': { schema: schema(errorBody, 'output') } } }])),
      },
    };
    if (r.body) op.requestBody = { required: true, content: { 'application/json': { schema: schema(r.body, 'input') } } };
    (paths[`/api/v1${r.path}`] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Switchboard server API', version, description: 'For the app\'s backend. Every call needs an API key: `Authorization: Bearer KEY` or `X-API-Key: KEY`. See docs/api.md.' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    },
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
  };
}
