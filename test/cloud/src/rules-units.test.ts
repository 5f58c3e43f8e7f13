/**
 * The cloud plugin's trust rules in the test process: recipients are public age keys only (a secret key, a key
 * of another kind or a typo is named in German), what "eingerichtet" needs, and retention, which never deletes
 * the newest copy or the newest verified one. Real keys (age-encryption). The copy checks: verify-units.test.ts.
 */
import { expect } from 'chai';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { parseRecipients, recipientProblem, splitRecipients, missingSettings, type CloudSettings } from '../../../plugins/cloud/dist/src/settings.js';
import { selectForDeletion } from '../../../plugins/cloud/dist/src/retention.js';

describe('cloud: recipients are public age keys only (in-process)', () => {
  it('splits on commas, semicolons, spaces and line breaks; empty entries vanish', () => {
    expect(splitRecipients(' a, b;c\n d\r\n\te ,, ;')).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
    expect(splitRecipients('')).to.deep.equal([]);
  });

  it('names a secret key, a key of another kind and a typo, each with what to do; a good key has no problem', async () => {
    const id = await generateX25519Identity();
    const pub = await identityToRecipient(id);
    expect(recipientProblem(pub)).to.equal(undefined);
    const secret = 'Das ist ein geheimer age-Schlüssel (AGE-SECRET-KEY-…). Hier gehört nur der öffentliche Schlüssel (age1…) hin; der geheime Schlüssel darf nicht auf dem Kassenserver liegen.';
    expect(recipientProblem(id)).to.equal(secret);
    expect(recipientProblem(id.toLowerCase())).to.equal(secret);
    expect(recipientProblem('x' + id)).to.match(/ist kein öffentlicher age-Schlüssel/);
    expect(recipientProblem('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5')).to.equal('„ssh-ed25519 AAAAC3Nz…“ ist kein öffentlicher age-Schlüssel (er beginnt mit „age1“).');
    expect(recipientProblem('AGE1' + pub.slice(4))).to.equal(`„${('AGE1' + pub.slice(4)).slice(0, 20)}…“ ist kein öffentlicher age-Schlüssel (er beginnt mit „age1“).`);
    const typo = pub.slice(0, -1) + (pub.endsWith('q') ? 'p' : 'q');
    expect(recipientProblem(typo)).to.equal(`Der öffentliche age-Schlüssel „${pub.slice(0, 12)}…“ ist unvollständig oder vertippt (Prüfsumme stimmt nicht).`);
    expect(recipientProblem(pub.slice(0, -3))).to.match(/unvollständig oder vertippt/);
    expect(recipientProblem('age1')).to.match(/unvollständig oder vertippt/);
  });

  it('parseRecipients keeps every key and lists a problem per bad one', async () => {
    const a = await identityToRecipient(await generateX25519Identity());
    const id = await generateX25519Identity();
    const r = parseRecipients(`${a}\n${id}; x`);
    expect(r.recipients).to.deep.equal([a, id, 'x']);
    expect(r.problems).to.have.length(2);
    expect(r.problems[0]).to.contain('geheimer age-Schlüssel');
    expect(r.problems[1]).to.contain('„x…“ ist kein öffentlicher age-Schlüssel');
  });

  it('"eingerichtet" needs endpoint, bucket, both keys and a recipient', () => {
    const full = { endpoint: 'https://s3', bucket: 'b', accessKeyId: 'a', secretAccessKey: 's', recipients: ['age1x'] } as CloudSettings;
    expect(missingSettings(full)).to.deep.equal([]);
    expect(missingSettings({ ...full, endpoint: '', bucket: '', accessKeyId: '', secretAccessKey: '', recipients: [] })).to.deep.equal([
      'S3-Endpunkt', 'Bucket', 'Zugangsschlüssel (Access Key)', 'geheimer Schlüssel (Secret Key)', 'öffentlicher age-Schlüssel des Herstellers']);
    expect(missingSettings({ ...full, recipients: [] })).to.deep.equal(['öffentlicher age-Schlüssel des Herstellers']);
  });
});

describe('cloud: retention never deletes the newest copy or the newest verified one (in-process)', () => {
  const at = (d: string, t = '12:00:00') => new Date(`${d}T${t}`);
  const item = (d: string, t?: string) => ({ name: `${d}${t ? '_' + t : ''}`, createdAt: at(d, t) });

  it('keeps every copy of the newest `daily` days that have copies (both copies of a day)', () => {
    const items = [item('2026-12-01', '21:00:00'), item('2026-12-01', '07:00:00'), item('2026-11-30', '21:00:00'), item('2026-11-30', '07:00:00'),
      item('2026-11-27', '07:00:00'), item('2026-11-20', '07:00:00')];
    expect(selectForDeletion(items, { daily: 2, weekly: 0, monthly: 0 })).to.deep.equal(['2026-11-27_07:00:00', '2026-11-20_07:00:00']);
    expect(selectForDeletion(items, { daily: 3, weekly: 0, monthly: 0 })).to.deep.equal(['2026-11-20_07:00:00']);
    expect(selectForDeletion(items, { daily: 1, weekly: 0, monthly: 0 })).to.deep.equal(['2026-11-30_21:00:00', '2026-11-30_07:00:00', '2026-11-27_07:00:00', '2026-11-20_07:00:00']);
  });

  it('with everything set to 0 the newest copy still stays, and the newest verified one too', () => {
    const items = [item('2026-11-01'), item('2026-12-01'), item('2026-11-15')];
    expect(selectForDeletion(items, { daily: 0, weekly: 0, monthly: 0 })).to.deep.equal(['2026-11-15', '2026-11-01']);
    expect(selectForDeletion(items, { daily: 0, weekly: 0, monthly: 0 }, '2026-11-01')).to.deep.equal(['2026-11-15']);
    expect(selectForDeletion([], { daily: 0, weekly: 0, monthly: 0 }, 'x')).to.deep.equal([]);
    // the newest verified is kept even when newer unverified copies fill every slot
    const many = Array.from({ length: 10 }, (_, i) => item(`2026-11-${String(20 + i).padStart(2, '0')}`));
    expect(selectForDeletion(many, { daily: 3, weekly: 1, monthly: 1 }, '2026-11-20')).to.not.include('2026-11-20');
    expect(selectForDeletion(many, { daily: 3, weekly: 1, monthly: 1 }, '2026-11-20')).to.include('2026-11-21');
  });

  it('weekly: the newest copy of each ISO week, weeks running Monday to Sunday, across a year end', () => {
    // 2026-12-28 is a Monday; 2027-01-03 a Sunday (both ISO week 2026-W53); 2026-12-27 a Sunday (W52)
    const items = [item('2027-01-04'), item('2027-01-03'), item('2026-12-28'), item('2026-12-27'), item('2026-12-21'), item('2026-12-20')];
    expect(selectForDeletion(items, { daily: 0, weekly: 3, monthly: 0 })).to.deep.equal(['2026-12-28', '2026-12-21', '2026-12-20']);
    expect(selectForDeletion(items, { daily: 0, weekly: 4, monthly: 0 })).to.deep.equal(['2026-12-28', '2026-12-21']);
    // 2021-01-03 (Sunday) belongs to 2020-W53, like 2020-12-28; 2021-01-04 opens 2021-W01
    const y = [item('2021-01-04'), item('2021-01-03'), item('2020-12-28'), item('2020-12-27')];
    expect(selectForDeletion(y, { daily: 0, weekly: 2, monthly: 0 })).to.deep.equal(['2020-12-28', '2020-12-27']);
    // the same week number in two years is two weeks
    const z = [item('2026-03-02'), item('2025-03-03')];
    expect(selectForDeletion(z, { daily: 0, weekly: 2, monthly: 0 })).to.deep.equal([]);
  });

  it('monthly: the newest copy of each month, a year apart is another month', () => {
    const items = [item('2026-12-01'), item('2026-11-30'), item('2026-11-02'), item('2026-10-15'), item('2025-12-24'), item('2025-11-30')];
    expect(selectForDeletion(items, { daily: 0, weekly: 0, monthly: 3 })).to.deep.equal(['2026-11-02', '2025-12-24', '2025-11-30']);
    expect(selectForDeletion(items, { daily: 0, weekly: 0, monthly: 5 })).to.deep.equal(['2026-11-02']);
    const sameMonthNumber = [item('2026-11-05'), item('2025-11-05')];
    expect(selectForDeletion(sameMonthNumber, { daily: 0, weekly: 0, monthly: 2 })).to.deep.equal([]);
    const sameDayNumber = [item('2026-11-05'), item('2026-10-05'), item('2025-11-05')];
    expect(selectForDeletion(sameDayNumber, { daily: 3, weekly: 0, monthly: 0 })).to.deep.equal([]);
  });

  it('the rules add up (a copy kept by any rule stays), and the input order does not matter', () => {
    const items = [item('2026-11-02'), item('2026-12-01'), item('2026-11-24'), item('2026-11-30'), item('2026-10-31'), item('2026-11-25')];
    const del = selectForDeletion(items, { daily: 1, weekly: 2, monthly: 2 });
    expect(del).to.deep.equal(['2026-11-24', '2026-11-02', '2026-10-31']);
    expect(selectForDeletion([...items].reverse(), { daily: 1, weekly: 2, monthly: 2 })).to.deep.equal(del);
  });
});
