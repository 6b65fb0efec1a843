import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { branchXid, isConfigurationError, parseXid, validatePrefix } from '../../src/index.js'
import { newGtrid, parseGtrid } from '../../src/xid/xid.js'

describe('transaction ids', () => {
  test('decision ids round-trip with their fields and start time', () => {
    const now = Date.UTC(2026, 10, 23, 12, 0, 0)
    const gtrid = newGtrid('decision', 'billing', now)
    assert.match(gtrid, /^billing\.[0-9a-z]{9}[0-9a-f]{16}$/)
    const parsed = parseXid(branchXid(gtrid, 3, 2), 'billing')
    assert.deepEqual(parsed, {
      kind: 'decision',
      prefix: 'billing',
      gtrid,
      count: 3,
      index: 2,
      startedAt: now,
    })
  })

  test('sequential ids are exactly sqlalchemy-xa-recovery 0.1.0 ids', () => {
    const gtrid = newGtrid('sequential', 'sxr', Date.now())
    assert.match(gtrid, /^sxr:[0-9a-f]{16}$/)
    assert.equal(branchXid('sxr:4f9c2a1b0e3d7788', 3, 0), 'sxr:4f9c2a1b0e3d7788:3:0')
    assert.deepEqual(parseXid('sxr:4f9c2a1b0e3d7788:3:2', 'sxr'), {
      kind: 'sequential',
      prefix: 'sxr',
      gtrid: 'sxr:4f9c2a1b0e3d7788',
      count: 3,
      index: 2,
    })
  })

  test('an open decision transaction (count 0) is ours; a sequential one with count 0 is not', () => {
    const gtrid = newGtrid('decision', 'abc', Date.now())
    const parsed = parseXid(branchXid(gtrid, 0, 7), 'abc')
    assert.equal(parsed.kind, 'decision')
    assert.deepEqual(
      [(parsed as { count: number }).count, (parsed as { index: number }).index],
      [0, 7],
    )
    assert.equal(parseXid('abc:4f9c2a1b0e3d7788:0:0', 'abc').kind, 'malformed')
  })

  test('the two protocols never read each other as the same kind', () => {
    const decision = branchXid(newGtrid('decision', 'abc', Date.now()), 2, 0)
    const sequential = branchXid(newGtrid('sequential', 'abc', Date.now()), 2, 0)
    assert.equal(parseXid(decision, 'abc').kind, 'decision')
    assert.equal(parseXid(sequential, 'abc').kind, 'sequential')
  })

  test('another prefix, another format, or no prefix at all is foreign', () => {
    for (const xid of [
      'other:4f9c2a1b0e3d7788:3:0',
      'billingx.000000000aaaaaaaaaaaaaaaa.2.0',
      '_pg_foreign_tool_42',
      '',
      'sxr',
      'SXR:4f9c2a1b0e3d7788:3:0',
    ]) {
      assert.deepEqual(parseXid(xid, 'sxr'), { kind: 'foreign' }, xid)
    }
    assert.deepEqual(parseXid(undefined as unknown as string, 'sxr'), { kind: 'foreign' })
  })

  test('our prefix with broken fields is malformed, with the reason, never a throw', () => {
    const cases = [
      'sxr:zz:3:0',
      'sxr:4f9c2a1b0e3d7788:3',
      'sxr:4f9c2a1b0e3d7788:0:0',
      'sxr:4f9c2a1b0e3d7788:3:-1',
      'sxr:4f9c2a1b0e3d7788:3:1:9',
      'sxr.short.2.0',
      'sxr:4F9C2A1B0E3D7788:3:0',
    ]
    for (const xid of cases) {
      const parsed = parseXid(xid, 'sxr')
      assert.equal(parsed.kind, 'malformed', xid)
    }
  })

  test('an index at or above the count is malformed', () => {
    const parsed = parseXid('sxr:4f9c2a1b0e3d7788:2:2', 'sxr')
    assert.equal(parsed.kind, 'malformed')
    assert.match((parsed as { reason: string }).reason, /index 2 is not below the branch count 2/)
  })
})

describe('a transaction id given by an operator (txkit show)', () => {
  test('a global id or one of its branch ids names the transaction; anything else is refused', () => {
    const gtrid = newGtrid('decision', 'billing', Date.UTC(2026, 0, 1), 'ledger')
    assert.deepEqual(parseGtrid(gtrid), {
      kind: 'decision',
      prefix: 'billing',
      gtrid,
      startedAt: Date.UTC(2026, 0, 1),
      decisionLog: 'ledger',
    })
    assert.equal(parseGtrid(branchXid(gtrid, 3, 2))?.gtrid, gtrid)
    assert.deepEqual(parseGtrid('sxr:4f9c2a1b0e3d7788:3:1'), {
      kind: 'sequential',
      prefix: 'sxr',
      gtrid: 'sxr:4f9c2a1b0e3d7788',
    })
    for (const bad of [
      '',
      'hello',
      'sxr:zz',
      'sxr:4f9c2a1b0e3d7788:3:3',
      'Billing.x',
      gtrid.slice(0, 20),
    ]) {
      assert.equal(parseGtrid(bad), undefined, bad)
    }
  })
})

describe('deployment prefix', () => {
  test('accepts 1 to 8 lowercase letters', () => {
    for (const prefix of ['a', 'sxr', 'billing', 'abcdefgh'])
      assert.equal(validatePrefix(prefix), prefix)
  })

  test('refuses anything else with a ConfigurationError naming the rule', () => {
    for (const prefix of [
      '',
      'abcdefghi',
      'Billing',
      'bill1ng',
      'a.b',
      'a:b',
      "x'; DROP TABLE accounts; --",
      "o'neil",
      'é',
      ' sxr',
      123,
      null,
      undefined,
    ]) {
      assert.throws(
        () => validatePrefix(prefix),
        (error: unknown) =>
          isConfigurationError(error) &&
          /1 to 8 lowercase letters/.test(error.message) &&
          error.code === 'TXKIT_CONFIGURATION',
        String(prefix),
      )
    }
  })
})
