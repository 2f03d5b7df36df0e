"""A fleet generated straight into fleet.records (fleet_report_bench.py --stations N --records M):
each station's ledger is the source station's (a real ledger written by smart-host run) with the
source's node_id replaced by the station's and the chain hashed again (prev_hash the hash
before, hash the SHA-256 of the line up to the quote closing prev_hash, as ledger.h writes it),
streamed with COPY in the columns fleet.ingest fills (node_id, seq, time, action, line, and
prev_hash and hash when the schema still has them, before migration 0004). `check_ingest`
compares those rows with what fleet.ingest stored for the same lines."""
import hashlib
import multiprocessing
import os
import shutil
import subprocess
import time

SOURCE = 'source-station'
ZEROS = '0' * 64


class Source:
    """The first `records` lines of the source ledger as (seq, time, action, body), body the
    line up to the comma before "prev_hash" (the same for every station but for the node_id in
    it); read again for each station rather than held (a million lines)."""

    def __init__(self, ledger, records):
        self.ledger, self.records = ledger, records
        with open(ledger, encoding='utf-8') as f:
            have = sum(1 for _ in f)
        if have < records:
            raise RuntimeError('%s holds %d records, not %d' % (ledger, have, records))

    def __len__(self):
        return self.records

    def __iter__(self):
        with open(self.ledger, encoding='utf-8') as f:
            for n, line in enumerate(f):
                if n == self.records:
                    break
                # {"seq":N,"time":"T","node_id":...,"action":"A",... as ledger.h writes it;
                # actions are plain names (no escapes).
                seq_end = line.index(',', 7)
                when = line[seq_end + 9:line.index('"', seq_end + 9)]
                a = line.index('"action":"') + 10
                action = line[a:line.index('"', a)]
                yield int(line[7:seq_end]), when, action, line[:-1 - 75 - 79]


def station_rows(source, node, with_hashes):
    """Yields (COPY text row, hash) for each record of `node`'s ledger."""
    prev = ZEROS
    for seq, when, action, body in source:
        if node != SOURCE:
            body = body.replace(SOURCE, node)
        prefix = '%s,"prev_hash":"%s"' % (body, prev)
        h = hashlib.sha256(prefix.encode('utf-8')).hexdigest()
        line = '%s,"hash":"%s"}' % (prefix, h)
        # COPY's text format: a backslash is its escape (JSON has no tab or newline unescaped).
        text = line.replace('\\', '\\\\')
        if with_hashes:
            yield '%s\t%d\t%s\t%s\t%s\t%s\t%s\n' % (node, seq, when, action, prev, h, text), h
        else:
            yield '%s\t%d\t%s\t%s\t%s\n' % (node, seq, when, action, text), h
        prev = h


def columns(pg):
    _, rows, _ = pg.psql("SELECT count(*) FROM pg_attribute WHERE attrelid = 'fleet.records'::regclass"
                         " AND attname = 'hash' AND NOT attisdropped")
    with_hashes = rows[0][0] == '1'
    cols = 'node_id, seq, time, action, %sline' % ('prev_hash, hash, ' if with_hashes else '')
    return with_hashes, cols


def copy_station(pg, source, node, role, with_hashes, cols):
    """COPYs one station's records and registers it (its head as fleet.ingest would leave it)."""
    p = subprocess.Popen([os.path.join(pg.bin, 'psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
                          pg.url(), '-c', 'COPY fleet.records (%s) FROM STDIN' % cols],
                         stdin=subprocess.PIPE, text=True, encoding='utf-8')
    h = ZEROS
    buf = []
    for row, h in station_rows(source, node, with_hashes):
        buf.append(row)
        if len(buf) == 4096:
            p.stdin.write(''.join(buf))
            buf = []
    p.stdin.write(''.join(buf))
    p.stdin.close()
    if p.wait() != 0:
        raise RuntimeError('COPY for %s failed' % node)
    pg.psql("INSERT INTO fleet.nodes (node_id, role_name, public_key, head_seq, head_hash) "
            "VALUES ('%s', '%s', 'x', %d, '%s')" % (node, role, len(source), h))


def check_ingest(pg, source):
    """The rows COPY would store for the source station against those fleet.ingest stored for
    it (`ledger ship` of the same lines): the same bytes in every column but received_at."""
    with_hashes, cols = columns(pg)
    rows = ''.join(r for r, _ in station_rows(source, SOURCE, with_hashes))
    # One session: the temp table lives as long as it.
    r = subprocess.run([os.path.join(pg.bin, 'psql'), '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
                        pg.url(), '-c', 'CREATE TEMP TABLE x AS SELECT %s FROM fleet.records '
                        'LIMIT 0' % cols, '-c', 'COPY x FROM STDIN', '-c',
                        "SELECT (SELECT md5(string_agg(concat_ws('|', %s), E'\\n' ORDER BY seq)) "
                        "FROM x), (SELECT md5(string_agg(concat_ws('|', %s), E'\\n' ORDER BY seq))"
                        " FROM fleet.records WHERE node_id = '%s' AND seq <= %d)"
                        % (cols, cols, SOURCE, len(source))],
                       input=rows, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    mine, stored = r.stdout.split('|')
    return mine.strip() == stored.strip(), len(source)


def db_bytes(pg):
    _, rows, _ = pg.psql('SELECT pg_database_size(current_database())')
    return int(rows[0][0])


def _one(job):
    pg, source, i, with_hashes, cols = job
    copy_station(pg, source, 'st-%03d' % i, 'bench_%03d' % i, with_hashes, cols)
    return i


def generate(pg, source, stations, keep_free_gb, workers=2, log=print):
    """Stations st-000.. each of len(source) records, `workers` at once, until `stations` or
    the disk would keep less than `keep_free_gb` GB free. Returns how many stations were made."""
    with_hashes, cols = columns(pg)
    t0 = time.monotonic()
    # The month partitions, as fleet.ingest makes them before it stores a month's first record.
    for month in sorted({when[:7] for _, when, _, _ in source}):
        pg.psql("SELECT fleet.ensure_month('%s-01T00:00:00Z')" % month)
    per_station = None
    made = 0
    with multiprocessing.Pool(workers) as pool:
        while made < stations:
            free = shutil.disk_usage(pg.dir).free / 1e9
            n = min(workers, stations - made)
            if free < keep_free_gb or (per_station is not None
                                       and free - per_station * n * 1.1 < keep_free_gb):
                log('stopped at %d stations: %.1f GB free, a station takes %.2f GB, %g GB to be '
                    'kept free' % (made, free, per_station or 0, keep_free_gb))
                break
            before = db_bytes(pg)
            pool.map(_one, [(pg, source, made + k, with_hashes, cols) for k in range(n)])
            made += n
            per_station = max(per_station or 0, (db_bytes(pg) - before) / n / 1e9)
            if made % 10 < n or made == n:
                log('  %d stations generated, %.0f s, %.1f GB free' % (
                    made, time.monotonic() - t0, shutil.disk_usage(pg.dir).free / 1e9))
    return made
