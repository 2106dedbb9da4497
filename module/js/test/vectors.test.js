'use strict';
// Checks the package against the fixture vectors and values computed in Rust.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const warden = require('../pkg/warden_module.js');

const dir = path.join(__dirname, '..', '..', '..', 'fixtures', 'vectors');
const vectors = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .flatMap((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).vectors);
const hex = (s) => Buffer.from(s, 'hex');

// Outcomes that depend only on the transaction and the genesis set, not on the chain's state.
const STATELESS = new Set([
  'ok', 'Decode', 'TooLarge', 'NotConflicting', 'ViewMismatch', 'EpochMismatch',
  'SignerMismatch', 'UnknownValidator', 'BadSignature', 'ViolationNotProven',
]);

function isEvidenceTx(bytes) {
  // Msg::SubmitEvidence is tag 0; a payload the module cannot decode counts too.
  return bytes.length > 0 && bytes[0] === 0;
}

test('Tier 1 evidence: pre-verification gives the chain\'s outcome', () => {
  let checked = 0;
  for (const v of vectors) {
    const tx = hex(v.tx.tx);
    if (v.setup.length > 0 || !isEvidenceTx(tx) || !STATELESS.has(v.expected)) continue;
    const genesis = hex(v.genesis);
    if (v.expected === 'ok') {
      const offence = warden.pre_verify_tx_at_genesis(genesis, tx);
      assert.equal(typeof offence.operator, 'number', v.name);
    } else {
      assert.throws(
        () => warden.pre_verify_tx_at_genesis(genesis, tx),
        (e) => e.name === v.expected && e.message === v.expected_error,
        v.name,
      );
    }
    checked += 1;
  }
  assert.ok(checked >= 50, `only ${checked} vectors checked`);
});

test('every transaction round-trips byte for byte', () => {
  let checked = 0;
  for (const v of vectors) {
    const txs = v.setup.map((s) => s.tx).concat(v.expected === 'Decode' || v.expected === 'TooLarge' ? [] : [v.tx.tx]);
    for (const t of txs) {
      const bytes = hex(t);
      const msg = warden.decode_msg(bytes);
      assert.deepEqual(Buffer.from(warden.encode_msg(msg)), bytes, v.name);
      checked += 1;
    }
    const genesis = hex(v.genesis);
    assert.deepEqual(Buffer.from(warden.encode_kind('Genesis', warden.decode_kind('Genesis', genesis))), genesis);
  }
  assert.ok(checked > 0);
});

test('undecodable transactions throw Decode or TooLarge', () => {
  for (const v of vectors.filter((v) => v.expected === 'Decode' || v.expected === 'TooLarge')) {
    assert.throws(() => warden.decode_msg(hex(v.tx.tx)), (e) => e.name === v.expected && e.code > 0, v.name);
  }
});

test('evidence rebuilt from its two messages is the same evidence', () => {
  let checked = 0;
  for (const v of vectors) {
    if (v.expected !== 'ok' || v.setup.length > 0 || !isEvidenceTx(hex(v.tx.tx))) continue;
    const evidence = warden.decode_msg(hex(v.tx.tx)).SubmitEvidence;
    const [kind] = Object.keys(evidence);
    if (kind === 'InvalidProposal') continue;
    const [a, b] = Object.values(evidence[kind]);
    const built = warden.build_evidence(a, b);
    assert.deepEqual(built, evidence, v.name);
    assert.deepEqual(Buffer.from(warden.evidence_tx(built)), hex(v.tx.tx), v.name);
    assert.deepEqual(warden.build_evidence(b, a)[kind] !== undefined, true, v.name);
    checked += 1;
  }
  assert.ok(checked >= 5);
});

test('pre_verify_evidence with an explicit context matches the genesis shortcut', () => {
  const v = vectors.find((v) => v.name === 'double_vote_phase1_accepted');
  const genesis = warden.decode_kind('Genesis', hex(v.genesis));
  const evidence = warden.decode_msg(hex(v.tx.tx)).SubmitEvidence;
  const ctx = { chain_id: genesis.chain_id, set: { epoch: genesis.epoch, validators: genesis.validators } };
  const offence = warden.pre_verify_evidence(evidence, ctx);
  assert.deepEqual(offence, warden.pre_verify_tx_at_genesis(hex(v.genesis), hex(v.tx.tx)));
  assert.match(warden.offence_id(offence), /^[0-9a-f]{64}$/);
  assert.throws(
    () => warden.pre_verify_evidence(evidence, { ...ctx, chain_id: genesis.chain_id + 1 }),
    (e) => e.name === 'BadSignature' && e.code === 9,
  );
  assert.throws(
    () => warden.pre_verify_evidence(evidence, { ...ctx, set: { epoch: genesis.epoch + 1, validators: genesis.validators } }),
    (e) => e.name === 'UnknownEpoch',
  );
  assert.throws(() => warden.pre_verify_evidence({ Nonsense: 1 }, ctx), (e) => e.name === 'InvalidInput');
});

test('leaders of views 0..50 equal the Rust ones', () => {
  const cases = JSON.parse(fs.readFileSync(path.join(__dirname, 'leaders.json'), 'utf8'));
  for (const c of cases) {
    const leaders = [];
    for (let view = 0; view < 50; view++) leaders.push(warden.leader_of_view(c.chain_id, c.epoch, c.candidates, view));
    assert.deepEqual(leaders, c.leaders);
    const schedule = warden.leader_schedule(c.chain_id, c.epoch, c.candidates);
    assert.equal(warden.leader_from_schedule(schedule, 7), c.leaders[7]);
  }
});

test('the README example runs', () => {
  const { execFileSync } = require('node:child_process');
  const out = execFileSync(process.execPath, [path.join(__dirname, '..', 'example.js')], { encoding: 'utf8' });
  assert.match(out, /^accepted: /m);
  assert.match(out, /^refused: BadSignature \(code 9\)/m);
});
