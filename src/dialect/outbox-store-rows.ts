/** An outbox row as a claim reads it, before conversion (drivers answer numbers as strings or numbers). */
export interface ClaimRow {
  position: string
  id: string
  destination: string
  message_key: string | null
  key_seq: string | null
  headers: string
  body: Uint8Array
  content_type: string
  attempts: number | string
  age_ms: number | string
}

/** An outbox row as a listing reads it. */
export interface ListRow {
  position: string
  id: string
  destination: string
  message_key: string | null
  key_seq: string | null
  state: string
  attempts: number | string
  body_bytes: number | string
  age_ms: number | string
  last_error: string | null
}
