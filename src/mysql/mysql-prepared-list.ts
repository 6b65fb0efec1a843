import type { PreparedList, PreparedTransaction } from '../dialect/prepared-list.js'

interface XaRecoverRow {
  readonly formatID: number | string
  readonly gtrid_length: number | string
  readonly bqual_length: number | string
  readonly data: Buffer | string
}

/**
 * txkit's (and SQLAlchemy's) ids are formatID 1 with an empty bqual: the id is the gtrid. Anything
 * else is rendered as `xa:<formatID>:<hex>`, which never parses as ours.
 */
function xidOfRecoverRow(row: XaRecoverRow): string {
  const data = typeof row.data === 'string' ? Buffer.from(row.data, 'binary') : row.data
  const gtridLength = Number(row.gtrid_length)
  if (Number(row.formatID) === 1 && Number(row.bqual_length) === 0) {
    const gtrid = data.subarray(0, gtridLength)
    if (gtrid.every((byte) => byte >= 0x20 && byte < 0x7f)) return gtrid.toString('latin1')
  }
  return `xa:${row.formatID}:${data.toString('hex')}`
}

/** The XA transactions a MySQL or MariaDB server holds prepared (`XA RECOVER`), server-wide. */
export const mysqlPreparedList: PreparedList = {
  preparedListScope: 'server',

  async listPrepared(connection): Promise<PreparedTransaction[]> {
    const { rows } = await connection.query<XaRecoverRow>('XA RECOVER')
    return rows.map((row) => ({ xid: xidOfRecoverRow(row) }))
  },
}
