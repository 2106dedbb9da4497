'use strict';
// Pre-verify a double vote before paying for its transaction. Run from the repository root,
// after module/js/build.sh:  node module/js/example.js
const fs = require('node:fs');
const path = require('node:path');
const warden = require('./pkg/warden_module.js');

// A genesis and a double vote from the fixture vectors (any borsh Genesis and SignedMessages do).
const file = path.join(__dirname, '..', '..', 'fixtures', 'vectors', 'double_vote.json');
const vector = JSON.parse(fs.readFileSync(file, 'utf8')).vectors[0];
const genesis = warden.decode_kind('Genesis', Buffer.from(vector.genesis, 'hex'));
const { first, second } = warden.decode_msg(Buffer.from(vector.tx.tx, 'hex')).SubmitEvidence.DoubleVote;

// Two signed messages, as a relayer observed them on the consensus network.
const evidence = warden.build_evidence(first, second);
const context = {
  chain_id: genesis.chain_id,
  set: { epoch: genesis.epoch, validators: genesis.validators },
  reputation: genesis.config.reputation.baseline,
};
try {
  const offence = warden.pre_verify_evidence(evidence, context);
  const payload = warden.evidence_tx(evidence);
  console.log('accepted:', offence, 'id', warden.offence_id(offence));
  console.log('payload:', Buffer.from(payload).toString('hex').slice(0, 32) + '...');
} catch (e) {
  console.log('the chain would refuse it:', e.name, e.message);
}

// A forged signature is refused with the chain's own error.
const forged = { ...second, signature: '00'.repeat(64) };
try {
  warden.pre_verify_evidence(warden.build_evidence(first, forged), context);
} catch (e) {
  console.log('refused:', e.name, `(code ${e.code}):`, e.message);
}

// The leader of views 0..9 in the genesis epoch.
const candidates = genesis.validators.map((v) => ({
  operator: v.operator,
  effective_power: v.power,
  reputation: genesis.config.reputation.baseline,
}));
const leaders = [];
for (let view = 0; view < 10; view++) {
  leaders.push(warden.leader_of_view(genesis.chain_id, genesis.epoch, candidates, view));
}
console.log('leaders:', leaders.join(' '));
