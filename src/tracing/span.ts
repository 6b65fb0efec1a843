/**
 * OpenTelemetry spans for txkit, through `@opentelemetry/api` when it is installed (an optional
 * peer dependency). Without it nothing is loaded and every hook is one comparison; with it and no
 * tracer provider registered, the API's no-op tracer answers.
 *
 * The convention (no standard exists for distributed transactions): a `txkit.transaction` span per
 * transaction with children `txkit.begin`, `txkit.prepare` (per branch), `txkit.decision` and
 * `txkit.commit` (per branch); `txkit.lock.acquire`, `txkit.run.attempt` and
 * `txkit.recovery.round` elsewhere. Attributes name the transaction (`txkit.transaction.id`,
 * `.prefix`, `.protocol`, `.databases`, `.outcome`) and the branch (`txkit.database`,
 * `txkit.branch.index`); never a password, a URL or a statement's parameters, in attributes or in
 * a failed step's status and exception event (see {@link spanSafeMessage}).
 */

/** What txkit records on a span. */
export type SpanAttributes = Readonly<Record<string, string | number | boolean | readonly string[]>>

interface SpanLink {
  readonly context: { traceId: string; spanId: string; traceFlags: number; isRemote: boolean }
}

/** The parts of `@opentelemetry/api` txkit uses, described by shape (no runtime dependency). */
interface OtelSpan {
  setAttributes(attributes: SpanAttributes): unknown
  setStatus(status: { code: number; message?: string }): unknown
  recordException(exception: Error | string): unknown
  end(): void
  spanContext(): { traceId: string; spanId: string; traceFlags: number }
}
interface OtelApi {
  readonly trace: {
    getTracer(name: string): {
      startSpan(
        name: string,
        options: { attributes: SpanAttributes; links?: readonly SpanLink[] },
        context?: unknown,
      ): OtelSpan
    }
    setSpan(context: unknown, span: OtelSpan): unknown
  }
  readonly context: { active(): unknown }
}

const STATUS_OK = 1
const STATUS_ERROR = 2

const api: OtelApi | undefined = await import('@opentelemetry/api' as string).then(
  (module: { default?: OtelApi } & OtelApi) => (module.trace ? module : module.default),
  () => undefined,
)
const tracer = api?.trace.getTracer('txkit')

/** A span txkit started; `end` records how the step ended. */
export class TraceSpan {
  readonly #span: OtelSpan

  /** @internal */
  constructor(span: OtelSpan) {
    this.#span = span
  }

  /** Adds attributes (never secrets: names, ids, counts). */
  set(attributes: SpanAttributes): void {
    this.#span.setAttributes(attributes)
  }

  /**
   * Ends the span: `error` marks it failed, with the error's name and its message made safe
   * ({@link spanSafeMessage}); never its stack, whose first line is the raw message.
   */
  end(error?: unknown): void {
    if (error === undefined) {
      this.#span.setStatus({ code: STATUS_OK })
    } else {
      const message = spanSafeMessage(error instanceof Error ? error.message : String(error))
      this.#span.recordException(error instanceof Error ? { name: error.name, message } : message)
      this.#span.setStatus({ code: STATUS_ERROR, message })
    }
    this.#span.end()
  }

  /**
   * The span as a W3C `traceparent` header (`00-<trace id>-<span id>-<flags>`), for a message to
   * carry it to the relay and the consumer.
   */
  get traceparent(): string {
    const { traceId, spanId, traceFlags } = this.#span.spanContext()
    return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`
  }

  /** @internal The context carrying this span, for children. */
  get context(): unknown {
    return api?.trace.setSpan(api.context.active(), this.#span)
  }
}

/**
 * An error's message as a span may carry it: every URL (a connection string, its password) and
 * everything quoted replaced by `…`. Servers quote a statement's values in their messages
 * (PostgreSQL's `invalid input syntax for type integer: "…"`, MySQL's `Duplicate entry '…'`), and
 * so does a `RAISE` of a trigger's value; identifiers quoted alike go too. A single quote inside a
 * word (an apostrophe) opens nothing.
 */
export function spanSafeMessage(message: string): string {
  return message
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`]*/gi, '…')
    .replace(/(?<!\w)'(?:[^']|'')*'(?!\w)/g, "'…'")
    .replace(/"(?:[^"]|"")*"/g, '"…"')
}

/**
 * Starts a span named `name` (a child of `parent`, else of the active context); undefined when
 * `@opentelemetry/api` is not installed.
 *
 * @example
 * ```ts
 * const span = startSpan('txkit.recovery.round', { 'txkit.transaction.prefix': 'billing' })
 * try { await work() } finally { span?.end() }
 * ```
 */
export function startSpan(
  name: string,
  attributes: SpanAttributes,
  parent?: TraceSpan,
): TraceSpan | undefined {
  if (tracer === undefined) return undefined
  return new TraceSpan(tracer.startSpan(name, { attributes }, parent?.context))
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

/**
 * Starts a span linked to the span a W3C `traceparent` names (a message's sender, for its publish
 * and its consumer's transaction); a malformed or absent `traceparent` starts it unlinked.
 * Undefined when `@opentelemetry/api` is not installed.
 *
 * @example
 * ```ts
 * const span = startLinkedSpan('txkit.outbox.publish', { 'txkit.message.id': id }, headers.traceparent)
 * span?.end()
 * ```
 */
export function startLinkedSpan(
  name: string,
  attributes: SpanAttributes,
  traceparent: string | undefined,
): TraceSpan | undefined {
  if (tracer === undefined) return undefined
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent)
  const links: SpanLink[] =
    match === null
      ? []
      : [
          {
            context: {
              traceId: match[1] as string,
              spanId: match[2] as string,
              traceFlags: Number.parseInt(match[3] as string, 16),
              isRemote: true,
            },
          },
        ]
  return new TraceSpan(tracer.startSpan(name, { attributes, links }))
}
