/**
 * An XA xid as hex literals: the whole id is the gtrid, bqual is empty and formatID is 1, which is
 * what SQLAlchemy (and so sqlalchemy-xa-recovery) writes. Hex needs no escaping and survives any
 * character set.
 *
 * @example
 * ```ts
 * xaXid('txkit.ab.2.0') // "X'74786b69742e61622e322e30'"
 * ```
 */
export function xaXid(xid: string): string {
  return `X'${Buffer.from(xid, 'utf8').toString('hex')}'`
}
