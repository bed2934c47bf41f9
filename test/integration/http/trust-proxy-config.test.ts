/**
 * GATEHOUSE_TRUST_PROXY: false, a hop count (true kept as one hop), or a list of proxy addresses and
 * CIDR ranges; anything else is refused with an error that names the option.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config/config.ts';

const trustProxy = (value: string | undefined) => loadConfig({ dataDir: '/tmp/unused' }, value === undefined ? {} : { GATEHOUSE_TRUST_PROXY: value }).trustProxy;

test('accepted values', () => {
  assert.equal(trustProxy(undefined), false, 'off by default');
  assert.equal(trustProxy('false'), false);
  assert.equal(trustProxy('0'), false);
  assert.equal(trustProxy('true'), 1, 'true means one hop, as before');
  assert.equal(trustProxy('1'), 1);
  assert.equal(trustProxy('2'), 2);
  assert.deepEqual(trustProxy('10.0.0.0/8, 192.168.1.5,2001:db8::/32 , ::1'), ['10.0.0.0/8', '192.168.1.5', '2001:db8::/32', '::1']);
  assert.deepEqual(trustProxy('loopback,uniquelocal'), ['loopback', 'uniquelocal']);
  assert.deepEqual(trustProxy('10.0.0.0/255.0.0.0'), ['10.0.0.0/255.0.0.0']);
});

test('refused values name the option', () => {
  for (const value of ['yes', '-1', '1.5', '10.0.0.0/33', '2001:db8::/129', '300.1.1.1', 'proxy.example.com', ',', '10.0.0.0/8/8', '99']) {
    assert.throws(
      () => trustProxy(value),
      (error: unknown) => error instanceof ConfigError && /GATEHOUSE_TRUST_PROXY/.test(error.message),
      `${value} is refused`,
    );
  }
});
