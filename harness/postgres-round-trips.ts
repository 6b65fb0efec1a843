/**
 * Round trips of one PostgreSQL connection, read from its protocol messages rather than from the
 * time they take: what a proxy between client and server sees of it.
 *
 * A round trip begins when the client sends a message while none of its requests is in flight, and
 * ends when the last of them is answered. The requests are those the client must wait for: the
 * startup packet, a password/SASL message, a simple Query ('Q') and a Sync ('S'), answered by
 * ReadyForQuery ('Z'), by an authentication request the client must answer, or by the one-byte
 * answer to an SSL/GSS encryption request; a Flush ('H') is answered by whatever the server sends
 * next. Messages a client pipelines behind a request still in flight travel in that request's round
 * trip, however they are split into TCP chunks and whatever the machine's load. Not handled: COPY
 * and a TLS session (its records cannot be read).
 */
export class PostgresRoundTrips {
  /** Round trips so far. */
  count = 0
  /** True from the client's first message of a round trip until its last request is answered. */
  #open = false
  /** Requests sent and not yet answered. */
  #inFlight = 0
  /** The client sent a Flush not yet answered. */
  #flushed = false
  /** The server's next byte is the unframed answer to an encryption request. */
  #oneByteAnswer = false
  /** The client has sent its startup packet: its messages are typed from now on. */
  #started = false
  #fromClient = Buffer.alloc(0)
  #fromServer = Buffer.alloc(0)

  /** Bytes the client sent (in the order sent). */
  client(chunk: Buffer): void {
    this.#fromClient = Buffer.concat([this.#fromClient, chunk])
    for (;;) {
      const buffer = this.#fromClient
      if (!this.#started) {
        // Untyped: length (itself included), then a protocol version or a request code.
        if (buffer.length < 8) return
        const length = buffer.readInt32BE(0)
        if (buffer.length < length) return
        const code = buffer.readInt32BE(4)
        // SSLRequest and GSSENCRequest are answered by one byte; the startup packet follows them.
        if (code === 80877103 || code === 80877104) this.#oneByteAnswer = true
        else this.#started = true
        this.#send(true)
        this.#fromClient = buffer.subarray(length)
        continue
      }
      if (buffer.length < 5) return
      const length = 1 + buffer.readInt32BE(1)
      if (buffer.length < length) return
      const type = String.fromCharCode(buffer[0] as number)
      if (type === 'H') this.#flushed = true
      this.#send(type === 'Q' || type === 'S' || type === 'p')
      this.#fromClient = buffer.subarray(length)
    }
  }

  /** Bytes the server sent, counted when they are handed to the client. */
  server(chunk: Buffer): void {
    this.#fromServer = Buffer.concat([this.#fromServer, chunk])
    for (;;) {
      const buffer = this.#fromServer
      if (this.#oneByteAnswer) {
        if (buffer.length < 1) return
        this.#oneByteAnswer = false
        this.#answered(true)
        this.#fromServer = buffer.subarray(1)
        continue
      }
      if (buffer.length < 5) return
      const length = 1 + buffer.readInt32BE(1)
      if (buffer.length < length) return
      const type = String.fromCharCode(buffer[0] as number)
      // Authentication requests the client must answer (cleartext, MD5, GSS, SSPI, SASL).
      const asks = type === 'R' && [3, 5, 7, 8, 9, 10, 11].includes(buffer.readInt32BE(5))
      this.#answered(type === 'Z' || asks)
      this.#fromServer = buffer.subarray(length)
    }
  }

  #send(request: boolean): void {
    if (!this.#open) {
      this.count += 1
      this.#open = true
    }
    if (request) this.#inFlight += 1
  }

  #answered(request: boolean): void {
    if (request) this.#inFlight = Math.max(0, this.#inFlight - 1)
    else if (!this.#flushed) return
    this.#flushed = false
    if (this.#inFlight === 0) this.#open = false
  }
}
