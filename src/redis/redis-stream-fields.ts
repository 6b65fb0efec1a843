/** The fields of a stream entry the Redis broker writes and the Redis consumer reads. */
export const STREAM_FIELDS = {
  id: 'id',
  destination: 'destination',
  key: 'key',
  contentType: 'content-type',
  /** A JSON object of the message's headers. */
  headers: 'headers',
  body: 'body',
} as const
