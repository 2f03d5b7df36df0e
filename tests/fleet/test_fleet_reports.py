#!/usr/bin/env python3
"""Fleet reports (README "Fleet"): `smart-host report KIND --from postgresql://...` over three
stations shipped with `ledger ship` into a PostgreSQL server started here. The fleet due list is
the union of each station's file due list with a station column; out-of-tolerance impact names
the job another station ran with the item found out of tolerance; integrity shows each
station's head, last checkpoint and the alert for a refused forged record; a kind read for one
station from the database equals the same kind read from its ledger file; a role that is not a
fleet_reader and a bad --from URL are refused with a clear error. Every JSON form is validated
against its schema. Exit 77 (skipped) only when no PostgreSQL server binaries are installed."""
import json
import os
import shutil
import subprocess
import sys

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pg_server  # noqa: E402

HOST = os.environ['SMART_HOST']
ROOT = os.environ['SOURCE_ROOT']
ENV = dict(os.environ, SMART_MODULE_PATH=os.environ['SMART_MODULE_DIR'])
failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        failures.append(what)


def host(*args, rc=None):
    r = subprocess.run([HOST] + list(args), capture_output=True, text=True, env=ENV)
    if rc is not None and r.returncode != rc:
        raise RuntimeError('smart-host %s: exit %d: %s%s' % (' '.join(args), r.returncode,
                                                            r.stdout, r.stderr))
    return r


def schema(name):
    return json.load(open(os.path.join(ROOT, 'schemas', name)))


def section(doc, sid):
    return [s for s in doc['sections'] if s['id'] == sid][0]


def values(doc, sid):
    return [r['values'] for r in section(doc, sid)['rows']]


def station(work, node, events, keydir):
    """The MT example station as `node`, run through smart-host over `events` (a list of event
    lines), signing checkpoints; returns its ledger's path."""
    d = os.path.join(work, node)
    shutil.copytree(os.path.join(ROOT, 'examples', 'mt-station'), d,
                    ignore=shutil.ignore_patterns('var'))
    cfg = json.load(open(os.path.join(d, 'node.json')))
    cfg.update(node_id=node, signing_key=os.path.join(keydir, 'node.key'),
               checkpoint_interval_s=1)
    json.dump(cfg, open(os.path.join(d, 'node.json'), 'w'))
    path = os.path.join(d, 'events.jsonl')
    with open(path, 'w') as f:
        f.writelines(events)
    first = json.loads(events[0])['time']
    host('run', os.path.join(d, 'node.json'), '--events', path, '--clock', first, rc=0)
    return os.path.join(d, 'var', 'ledger.jsonl')


def scenario(name):
    return open(os.path.join(ROOT, 'examples', 'mt-station', 'scenarios', name + '.jsonl')
                ).readlines()


def three_stations(work, admin):
    """Three stations registered with the database at `admin` (a key each) and run on their
    scenarios: {node: ledger path}, nothing shipped yet. st-a finds MT01-BENCH-01 out of
    tolerance; st-b had the bench in its suspect window (its own jobs, renamed B-...) and no
    finding; st-c sends an item out."""
    impact = scenario('oot-impact')
    last_cal = max(i for i, x in enumerate(impact) if '"calibration.record"' in x)
    events = {'st-a': impact,
              'st-b': [x.replace('SC-2025-', 'B-SC-2025-') for x in impact[:last_cal]],
              'st-c': scenario('sent-out')}
    ledgers = {}
    for node, ev in events.items():
        keydir = os.path.join(work, 'keys-' + node)
        host('keygen', keydir, rc=0)
        host('fleet', 'register', '--db', admin, '--node', node, '--role',
             'station_' + node.replace('-', '_'), '--key', os.path.join(keydir, 'node.pub'), rc=0)
        ledgers[node] = station(work, node, ev, keydir)
    return ledgers


def main():
    return pg_server.run_test('smart-fleet-reports-', run, failures)


def run(pg, work):
    pg.psql('CREATE DATABASE fleet', db='postgres')
    admin = pg.url()
    host('fleet', 'migrate', '--db', admin, rc=0)
    pg.psql('CREATE ROLE qm LOGIN IN ROLE fleet_reader')
    pg.psql('CREATE ROLE visitor LOGIN')

    ledgers = three_stations(work, admin)
    for node, path in ledgers.items():
        host('ledger', 'ship', path, '--to', pg.url('station_' + node.replace('-', '_')),
             '--node', node, rc=0)
    # A forged record after st-c's head: refused, with its alert.
    lines = open(ledgers['st-c']).readlines()
    last = json.loads(lines[-1])
    forged = dict(last, seq=last['seq'] + 1, prev_hash=last['hash'], details='forged')
    forged_path = os.path.join(work, 'forged.jsonl')
    with open(forged_path, 'w') as f:
        f.writelines(lines)
        f.write(json.dumps(forged, separators=(',', ':')) + '\n')
    r = host('ledger', 'ship', forged_path, '--to', pg.url('station_st_c'))
    check(r.returncode == 1, 'the forged record is refused on shipping: ' + r.stderr.strip())

    url = pg.url('qm')

    def report(kind, *args, rc=0):
        r = host('report', kind, '--from', url, *args)
        if rc is not None and r.returncode != rc:
            check(False, 'report %s %s: exit %d: %s' % (kind, ' '.join(args), r.returncode,
                                                       r.stderr.strip()))
        return r

    # The fleet due list is the union of the stations' file due lists, with a station column,
    # sorted by due date.
    doc = json.loads(report('due', '--format', 'json').stdout)
    jsonschema.validate(doc, schema('fleet-due.schema.json'))
    got = values(doc, 'due_list')
    want = []
    for node, path in ledgers.items():
        one = json.loads(host('report', 'due', path, '--format', 'json', rc=0).stdout)
        want += [dict({'station': node}, **v) for v in values(one, 'due_list')]
    key = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    check(sorted(map(key, got)) == sorted(map(key, want)) and len(got) >= len(ledgers),
          'fleet due list = union of the %d stations\' file due lists (%d rows)' % (
              len(ledgers), len(got)))
    dues = [v['due_date'] for v in got]
    dated = [d for d in dues if d is not None]
    check(dated == sorted(dated) and dues[:len(dated)] == dated,
          'sorted by due date, undated last: %s' % dues)
    check({v['station'] for v in got} == set(ledgers), 'every station has rows')
    check([(v['station'], int(v['records'])) for v in values(doc, 'stations')] ==
          [(n, len(open(p).readlines())) for n, p in sorted(ledgers.items())],
          'stations section: each station\'s stored records')
    only = json.loads(report('due', '--node', 'st-b', '--format', 'json').stdout)
    jsonschema.validate(only, schema('fleet-due.schema.json'))
    check(only['fleet']['node'] == 'st-b' and
          sorted(map(key, values(only, 'due_list'))) ==
          sorted(key(v) for v in want if v['station'] == 'st-b'),
          '--node st-b: st-b\'s due list alone')
    csv = report('due', '--format', 'csv').stdout.splitlines()
    header = [x for x in csv if x.startswith('section,station,urgency,')]
    check(header and header[0].startswith('section,station,urgency,equipment_id,status,due_date')
          and sum(x.startswith('due_list,') for x in csv) == len(got),
          'csv has the station column: %s' % header)
    html = report('due').stdout
    check('Due list across stations' in html and 'st-c' in html and '</html>' in html,
          'html form')

    # Out-of-tolerance impact across stations: st-a's finding names st-b's jobs run with the
    # bench in the suspect window.
    doc = json.loads(report('oot', '--format', 'json').stdout)
    jsonschema.validate(doc, schema('fleet-oot.schema.json'))
    findings = [(v['station'], v['equipment_id']) for v in values(doc, 'oot_findings')]
    check(findings == [('st-a', 'MT01-BENCH-01')], 'one finding, st-a\'s: %s' % findings)
    across = sorted((v['finding_station'], v['station'], v['affected'], v['subject'])
                    for v in values(doc, 'oot_across') if v['affected'] == 'clientpo')
    check(across == [('st-a', 'st-b', 'clientpo', 'B-SC-2025-052-MT'),
                     ('st-a', 'st-b', 'clientpo', 'B-SC-2025-053-MT')],
          'impact across stations names st-b\'s jobs: %s' % across)
    b_ledger = [json.loads(x) for x in open(ledgers['st-b'])]
    for row in section(doc, 'oot_across')['rows']:
        cited = [x for x in b_ledger if x['seq'] in row['seqs']]
        check(len(cited) == 1 and cited[0]['action'] == 'gate.decision' and
              cited[0]['target'] == row['values']['subject'],
              'the row cites st-b\'s gate decision, seq %s' % row['seqs'])
    own = sorted(v['subject'] for v in values(doc, 'oot_affected') if v['affected'] == 'clientpo')
    check(own == ['SC-2025-052-MT', 'SC-2025-053-MT'], 'st-a\'s own impact: %s' % own)

    # Integrity per station: records, head, last checkpoint, last shipped, alerts.
    doc = json.loads(report('integrity', '--format', 'json').stdout)
    jsonschema.validate(doc, schema('fleet-integrity.schema.json'))
    rows = {v['station']: v for v in values(doc, 'integrity')}
    for node, path in ledgers.items():
        recs = [json.loads(x) for x in open(path)]
        cps = [x['metadata']['seq'] for x in recs if x['action'] == 'ledger.checkpoint']
        v = rows.get(node, {})
        check(v.get('records') == len(recs) and v.get('head_seq') == recs[-1]['seq'] and
              v.get('head_hash') == recs[-1]['hash'] and v.get('complete') is True and
              v.get('last_shipped_seq') == recs[-1]['seq'] and v.get('last_shipped_at'),
              '%s: records, head and last shipped as its ledger (%s)' % (node, v))
        check(cps and v.get('last_checkpoint_seq') == cps[-1] and
              v.get('checkpoint_verified') is True,
              '%s: last checkpoint seq %s verified' % (node, v.get('last_checkpoint_seq')))
    alerts = [(v['station'], v['seq'], v['kind']) for v in values(doc, 'alerts')]
    check(alerts == [('st-c', forged['seq'], 'forged')] and rows['st-c']['alerts'] == 1 and
          rows['st-a']['alerts'] == 0, 'the forged record\'s alert, st-c only: %s' % alerts)

    # Any other kind for one station reads the same records from the database as from its file.
    for kind in ('history', 'gate', 'audit'):
        db_doc = json.loads(report(kind, '--node', 'st-a', '--format', 'json').stdout)
        file_doc = json.loads(host('report', kind, ledgers['st-a'], '--format', 'json',
                                   rc=0).stdout)
        jsonschema.validate(db_doc, schema('report.schema.json'))
        check(db_doc['sections'][1:] == file_doc['sections'][1:] and
              db_doc['verification']['head_hash'] == file_doc['verification']['head_hash'],
              'report %s --node st-a from the database = from its ledger file' % kind)
    r = report('history', rc=None)
    check(r.returncode == 2 and '--node' in r.stderr, 'history needs --node: ' + r.stderr.strip())

    # Refusals.
    for role in ('station_st_a', 'visitor'):
        r = host('report', 'due', '--from', pg.url(role))
        check(r.returncode == 2 and 'fleet_reader' in r.stderr and 'permission denied' in
              r.stderr, 'role %s refused: %s' % (role, r.stderr.strip()))
    for bad, words in ((pg.url('qm') + '&nosuchoption=1', 'not a valid PostgreSQL connection URL'),
                       ('postgresql://qm@/fleet?host=/nonexistent-dir', 'cannot connect'),
                       ('postgresq://qm@/fleet', 'neither a date')):
        r = host('report', 'due', '--from', bad)
        check(r.returncode in (2, 4) and words in r.stderr and r.stdout == '',
              'bad --from %s: %s' % (bad, r.stderr.strip()))
    r = host('report', 'due', '--from', url, '--node', 'st-x')
    check(r.returncode == 2 and 'st-x' in r.stderr, 'unknown --node: ' + r.stderr.strip())


if __name__ == '__main__':
    sys.exit(main())
