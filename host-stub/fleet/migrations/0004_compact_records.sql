-- 0004: a stored record takes less room (issue 17: 100 stations x 1 million records measured
-- 982 bytes a record with its indexes, so 100 GB, more than the machine that measured it had).
-- - hash and prev_hash are no longer columns: `line` ends with both (its last 75 bytes are
--   ,"hash":"<64 hex>"}, the 79 before them ,"prev_hash":"<64 hex>"), fleet.ingest stores a
--   line only when those are right, and fleet.line_stored_hash reads the hash back (a row's
--   130 bytes; the lines stored before this migration keep theirs on disk until the table is
--   rewritten, e.g. by VACUUM FULL fleet.records).
-- - The (node_id, action, seq) index of 0002 leaves out gate decisions: they are most of a
--   ledger, and a report that reads them reads most of a station's records, which the primary
--   key's index gives in seq order. The due list, out-of-tolerance impact and trend read none
--   and find their few records in an index a twentieth of the size (107 bytes a record before).
-- Compressing `line` (lz4, a low toast_tuple_target) was measured and does nothing: PostgreSQL
-- tries to compress only a row over about 2 kB, and a record's is under 1 kB.

-- The hash a stored line carries (the 64 hex digits before its closing "}).
CREATE FUNCTION fleet.line_stored_hash(line text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT left(right(line, 66), 64)
$$;

ALTER TABLE fleet.records DROP COLUMN prev_hash, DROP COLUMN hash;

DROP INDEX fleet.records_node_action_seq;
CREATE INDEX records_node_action_seq ON fleet.records (node_id, action, seq)
    WHERE action <> 'gate.decision';

-- fleet.ingest as in 0001, storing no hash columns (the checks are the same).
-- Store the calling station's records: `lines` is ledger lines joined by '\n', in seq order.
-- A line is stored only when it continues the node's stored chain: its seq is head + 1, its
-- prev_hash is the head's hash, its hash is right for its bytes, its node_id is the station's.
-- A line already stored byte for byte is skipped (a shipper resending after a restart); any
-- other line refused stops the batch and raises an alert row naming node and seq. The lines
-- before it are kept (they are good), and the caller learns the refusal from the result.
CREATE OR REPLACE FUNCTION fleet.ingest(lines text)
RETURNS TABLE (stored bigint, head_seq bigint, head_hash text, refused_seq bigint,
               refused_kind text, refused_why text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, fleet AS $$
DECLARE
    n         fleet.nodes%ROWTYPE;
    line      text;
    prefix    text;
    rec       jsonb;
    s         bigint;
    h         text;
    t         timestamptz;
    old_line  text;
    part      text;
    have_part text := '';
    month0    timestamptz;
    cp        jsonb;
    cp_hash   text;
    kind      text;
    why       text;
    -- The records accepted, inserted together at the end: one INSERT a record would route
    -- each through the partitions on its own, most of the ingest time.
    first_new bigint;
    seqs      bigint[] := '{}';
    times     timestamptz[] := '{}';
    actions   text[] := '{}';
    hashes    text[] := '{}'; -- for a checkpoint's claim on a record of this batch
    texts     text[] := '{}';
BEGIN
    SELECT * INTO n FROM fleet.nodes WHERE role_name = session_user FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % is not a registered station', session_user USING ERRCODE = '42501';
    END IF;
    stored := 0;
    -- The months the batch needs are created before its first insert: creating a partition
    -- locks fleet.records against every writer, so a station that did it while holding its own
    -- inserts could deadlock with another doing the same. (The loop still makes sure of the
    -- month of each record's parsed time.)
    FOR month0 IN
        SELECT DISTINCT (m[1] || '-01T00:00:00Z')::timestamptz
        FROM string_to_table(lines, E'\n') AS x,
             regexp_match(x, '^\{"seq":[0-9]+,"time":"([0-9]{4}-(0[1-9]|1[0-2]))-') AS m
        WHERE m IS NOT NULL
        ORDER BY 1
    LOOP
        PERFORM fleet.ensure_month(month0);
    END LOOP;
    FOR line IN SELECT x FROM string_to_table(lines, E'\n') AS x WHERE x <> '' LOOP
        kind := NULL;
        s := NULL;
        cp := NULL;
        -- The shape checked on the ends only (a regular expression over the whole line costs
        -- more than all the rest): the hash and prev_hash checks below compare those ends
        -- exactly, and the cast to jsonb refuses the batch if the middle is not JSON.
        s := substring(left(line, 28) FROM '^\{"seq":([1-9][0-9]{0,17}),')::bigint;
        IF s IS NULL OR length(line) < 162
           OR right(line, 75) !~ '^,"hash":"[0-9a-f]{64}"\}$'
           OR right(left(line, -75), 79) !~ '^,"prev_hash":"[0-9a-f]{64}"$' THEN
            kind := 'malformed';
            why := 'not a ledger record line';
        ELSE
            rec := line::jsonb;
            prefix := left(line, -75);
            h := fleet.line_hash(line);
            IF rec->>'node_id' IS DISTINCT FROM n.node_id THEN
                kind := 'wrong_node';
                why := format('record names node %s, the role %s writes for node %s',
                              rec->>'node_id', session_user, n.node_id);
            ELSIF s <= n.head_seq THEN
                IF s >= first_new THEN
                    old_line := texts[s - first_new + 1];
                ELSE
                    SELECT r.line INTO old_line FROM fleet.records r
                    WHERE r.node_id = n.node_id AND r.seq = s;
                END IF;
                IF old_line IS DISTINCT FROM line THEN
                    kind := 'rewritten';
                    why := format('seq %s is stored with other bytes', s);
                ELSE
                    CONTINUE; -- already stored: a resend
                END IF;
            ELSIF s > n.head_seq + 1 THEN
                kind := 'gap';
                why := format('seq %s follows stored head seq %s', s, n.head_seq);
            ELSIF right(line, 75) <> ',"hash":"' || h || '"}' THEN
                kind := 'forged';
                why := format('hash does not match the record''s bytes (they hash to %s)', h);
            ELSIF right(prefix, 79) <> ',"prev_hash":"' || n.head_hash || '"' THEN
                kind := 'fork';
                why := format('prev_hash is not the hash of stored seq %s (%s)', n.head_seq,
                              n.head_hash);
            ELSE
                t := (rec->>'time')::timestamptz;
                IF rec->>'action' = 'ledger.checkpoint' THEN
                    cp := rec->'metadata';
                    IF (cp->>'seq')::bigint = n.head_seq THEN
                        cp_hash := n.head_hash;
                    ELSIF (cp->>'seq')::bigint >= first_new THEN
                        cp_hash := hashes[(cp->>'seq')::bigint - first_new + 1];
                    ELSE
                        SELECT fleet.line_stored_hash(r.line) INTO cp_hash
                        FROM fleet.records r
                        WHERE r.node_id = n.node_id AND r.seq = (cp->>'seq')::bigint;
                    END IF;
                    IF cp->>'node_id' IS DISTINCT FROM n.node_id
                       OR cp_hash IS DISTINCT FROM cp->>'head_hash' THEN
                        kind := 'checkpoint';
                        why := format('checkpoint claims seq %s has hash %s; stored: %s',
                                      cp->>'seq', cp->>'head_hash', coalesce(cp_hash, 'none'));
                    END IF;
                END IF;
            END IF;
        END IF;
        IF kind IS NOT NULL THEN
            INSERT INTO fleet.alerts (node_id, seq, kind, detail) VALUES (n.node_id, s, kind, why);
            refused_seq := s;
            refused_kind := kind;
            refused_why := why;
            EXIT;
        END IF;
        month0 := date_trunc('month', t, 'UTC');
        part := 'records_' || to_char(month0 AT TIME ZONE 'UTC', 'YYYYMM');
        IF part <> have_part THEN
            PERFORM fleet.ensure_month(month0); -- normally done before the loop, see above
            have_part := part;
        END IF;
        first_new := coalesce(first_new, s);
        seqs := seqs || s;
        times := times || t;
        actions := actions || (rec->>'action');
        hashes := hashes || h;
        texts := texts || line;
        IF cp IS NOT NULL AND rec->>'action' = 'ledger.checkpoint' THEN
            INSERT INTO fleet.checkpoints (node_id, seq, head_hash, record_seq, key_id, signed_at,
                                           entry)
            VALUES (n.node_id, (cp->>'seq')::bigint, cp->>'head_hash', s, cp->>'key_id',
                    cp->>'time', cp)
            ON CONFLICT DO NOTHING;
        END IF;
        n.head_seq := s;
        n.head_hash := h;
        stored := stored + 1;
    END LOOP;
    INSERT INTO fleet.records (node_id, seq, time, action, line)
    SELECT n.node_id, u.* FROM unnest(seqs, times, actions, texts) AS u;
    UPDATE fleet.nodes SET head_seq = n.head_seq, head_hash = n.head_hash
    WHERE node_id = n.node_id;
    head_seq := n.head_seq;
    head_hash := n.head_hash;
    RETURN NEXT;
END
$$;

-- A chain checked as in 0003, each record's hash read from its line: its last 75 bytes are
-- ,"hash":"<the hash of its bytes>"}, the 79 before them name the hash before it.
CREATE OR REPLACE FUNCTION fleet.verify_chains(node text)
RETURNS TABLE (node_id text, records bigint, ok boolean, first_bad_seq bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, fleet AS $$
    WITH checked AS (
        SELECT r.seq, fleet.line_stored_hash(r.line) AS hash,
               r.seq = row_number() OVER w
               AND right(r.line, 75) = ',"hash":"' || fleet.line_hash(r.line) || '"}'
               AND right(left(r.line, -75), 79) =
                   ',"prev_hash":"' || coalesce(lag(fleet.line_stored_hash(r.line)) OVER w,
                                                repeat('0', 64)) || '"'
                   AS good
        FROM fleet.records r
        WHERE r.node_id = verify_chains.node
        WINDOW w AS (ORDER BY r.seq)
    )
    SELECT n.node_id, count(c.seq),
           bool_and(coalesce(c.good, true)) AND coalesce(max(c.seq), 0) = n.head_seq
               AND coalesce((SELECT c2.hash FROM checked c2 ORDER BY c2.seq DESC LIMIT 1),
                            repeat('0', 64)) = n.head_hash,
           min(c.seq) FILTER (WHERE NOT c.good)
    FROM fleet.nodes n LEFT JOIN checked c ON true
    WHERE n.node_id = verify_chains.node
    GROUP BY n.node_id, n.head_seq, n.head_hash
$$;

-- Every chain: each node's as above (the same rows as 0001's, one station's records at a time).
CREATE OR REPLACE FUNCTION fleet.verify_chains()
RETURNS TABLE (node_id text, records bigint, ok boolean, first_bad_seq bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, fleet AS $$
    SELECT v.* FROM fleet.nodes n CROSS JOIN LATERAL fleet.verify_chains(n.node_id) v
    ORDER BY n.node_id
$$;

REVOKE EXECUTE ON FUNCTION fleet.line_stored_hash(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.line_stored_hash(text) TO fleet_reader;
