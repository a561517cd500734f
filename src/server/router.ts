import type { Context } from './context.js';
import { RouteTableError } from './errors.js';
import type { ApiResponse } from './response.js';
import type { ObjectSchema, Schema } from './schema.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export const METHODS: readonly Method[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

export interface ResponseSpec {
  readonly description: string;
  /** JSON body; documentation only. */
  readonly schema?: Schema<unknown>;
  /** For non-JSON bodies (HTML, Prometheus text). */
  readonly contentType?: string;
}

export interface RouteInput<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
}

/**
 * One entry of the route table. The same declaration registers the route, validates its input and documents it
 * in the OpenAPI document, so the three cannot drift apart.
 */
export interface RouteSpec<P, Q, B> {
  readonly method: Method;
  /** OpenAPI-style template: `/api/v1/servers/{server_id}`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  /** `api_key` (the default) requires a Bearer key; `none` is public (OpenAPI document, dashboard assets). */
  readonly auth?: 'api_key' | 'none';
  /** Must declare exactly the template's parameters. Without it they arrive as strings. */
  readonly params?: ObjectSchema<P>;
  readonly query?: ObjectSchema<Q>;
  /** When present the body is read, parsed as JSON and validated before the handler runs. */
  readonly body?: Schema<B>;
  /** Overrides the server's body size limit, in bytes. */
  readonly bodyLimit?: number;
  readonly responses: Readonly<Record<number, ResponseSpec>>;
  /** Left out of the OpenAPI document. */
  readonly hidden?: boolean;
  handle(input: RouteInput<P, Q, B>, ctx: Context): ApiResponse | Promise<ApiResponse>;
}

/** A route with its types erased, as the table holds it. */
export type Route = RouteSpec<unknown, unknown, unknown>;

/** Declares a route; the types of params, query and body are inferred from their schemas. */
export function route<
  P = Readonly<Record<string, string>>,
  Q = Readonly<Record<string, never>>,
  B = undefined,
>(spec: RouteSpec<P, Q, B>): Route {
  return spec;
}

export type MatchResult =
  | { readonly kind: 'found'; readonly route: Route; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'method_not_allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not_found' };

type Segment = { readonly literal: string } | { readonly param: string };

interface Compiled {
  readonly route: Route;
  readonly segments: readonly Segment[];
}

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const LITERAL = /^[A-Za-z0-9._~!$&'()*+,;=:@-]+$/;

/** Path templates to routes. Literal segments win over parameters: `/backups/latest` before `/backups/{id}`. */
export class Router {
  readonly routes: readonly Route[];
  readonly #compiled: readonly Compiled[];

  constructor(routes: readonly Route[]) {
    this.routes = Object.freeze([...routes]);
    this.#compiled = routes.map((r) => ({ route: r, segments: compile(r) }));
    const seen = new Map<string, Route>();
    const operationIds = new Set<string>();
    for (const { route: r, segments } of this.#compiled) {
      const shape = `${r.method} /${segments.map((s) => ('literal' in s ? s.literal : '{}')).join('/')}`;
      const other = seen.get(shape);
      if (other !== undefined) {
        throw new RouteTableError(`Cannot register route ${r.method} ${r.path}: it overlaps ${other.path}`, {
          path: r.path,
        });
      }
      seen.set(shape, r);
      if (operationIds.has(r.operationId)) {
        throw new RouteTableError(
          `Cannot register route ${r.method} ${r.path}: operationId "${r.operationId}" is used twice`,
          { path: r.path },
        );
      }
      operationIds.add(r.operationId);
    }
  }

  match(method: string, path: string): MatchResult {
    const parts = splitPath(path);
    if (parts === undefined) return { kind: 'not_found' };
    let best: { compiled: Compiled; params: Record<string, string>; score: string } | undefined;
    const allow = new Set<string>();
    for (const compiled of this.#compiled) {
      const params = matchSegments(compiled.segments, parts);
      if (params === undefined) continue;
      allow.add(compiled.route.method);
      if (compiled.route.method !== method) continue;
      // Literal segments score 1, parameters 0; the lexicographically largest score is the most specific.
      const score = compiled.segments.map((s) => ('literal' in s ? '1' : '0')).join('');
      if (best === undefined || score > best.score) best = { compiled, params, score };
    }
    if (best !== undefined) return { kind: 'found', route: best.compiled.route, params: best.params };
    if (allow.size > 0) {
      if (allow.has('GET')) allow.add('HEAD');
      return { kind: 'method_not_allowed', allow: [...allow].sort() };
    }
    return { kind: 'not_found' };
  }
}

function compile(r: Route): readonly Segment[] {
  if (!METHODS.includes(r.method)) {
    throw new RouteTableError(`Cannot register route ${String(r.method)} ${r.path}: unknown method`, {
      path: r.path,
    });
  }
  if (!r.path.startsWith('/')) {
    throw new RouteTableError(`Cannot register route ${r.method} ${r.path}: path must start with "/"`, {
      path: r.path,
    });
  }
  const raw = r.path === '/' ? [] : r.path.slice(1).split('/');
  const segments = raw.map((text): Segment => {
    const param = PARAM.exec(text);
    if (param !== null) return { param: param[1]! };
    if (!LITERAL.test(text)) {
      throw new RouteTableError(
        `Cannot register route ${r.method} ${r.path}: segment "${text}" is neither a literal nor {name}`,
        { path: r.path },
      );
    }
    return { literal: text };
  });
  const names = segments.flatMap((s) => ('param' in s ? [s.param] : []));
  if (new Set(names).size !== names.length) {
    throw new RouteTableError(`Cannot register route ${r.method} ${r.path}: a parameter name repeats`, {
      path: r.path,
    });
  }
  if (r.params !== undefined) {
    const declared = Object.keys(r.params.shape).sort();
    if (declared.join(',') !== [...names].sort().join(',')) {
      throw new RouteTableError(
        `Cannot register route ${r.method} ${r.path}: params schema declares ${declared.join(', ') || 'nothing'}, the path has ${names.join(', ') || 'nothing'}`,
        { path: r.path },
      );
    }
  }
  return segments;
}

/** Decoded path segments; a trailing slash is ignored; undefined when the path cannot match any route. */
function splitPath(path: string): string[] | undefined {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  if (!trimmed.startsWith('/')) return undefined;
  if (trimmed === '/') return [];
  const parts: string[] = [];
  for (const raw of trimmed.slice(1).split('/')) {
    if (raw === '') return undefined;
    try {
      parts.push(decodeURIComponent(raw));
    } catch {
      return undefined;
    }
  }
  return parts;
}

function matchSegments(
  segments: readonly Segment[],
  parts: readonly string[],
): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if ('literal' in segment) {
      if (segment.literal !== part) return undefined;
    } else {
      params[segment.param] = part;
    }
  }
  return params;
}
