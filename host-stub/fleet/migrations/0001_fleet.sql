-- 0001: the fleet's schema. Applied once by `smart-host fleet migrate` (fleet_migrate.c), in one
-- transaction with its row in fleet.schema_version. The checks live here, in the one function
-- a station may call (fleet.ingest), so no writer can skip them: a station's role has no
-- privilege on any table, only EXECUTE on fleet.ingest and fleet.my_node, and the node it writes
-- for is taken from the session's role, never from what it sends.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleet_station') THEN
        CREATE ROLE fleet_station NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fleet_reader') THEN
        CREATE ROLE fleet_reader NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA fleet FROM PUBLIC;
GRANT USAGE ON SCHEMA fleet TO fleet_station, fleet_reader;

-- One row a station: its login role, its registered public key (minisign's .pub text) and the
-- head of its chain as stored (seq 0 and 64 zeros before its first record).
CREATE TABLE fleet.nodes (
    node_id       text PRIMARY KEY,
    role_name     name NOT NULL UNIQUE,
    public_key    text NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    head_seq      bigint NOT NULL DEFAULT 0,
    head_hash     text NOT NULL DEFAULT repeat('0', 64)
);

-- Every record as the station wrote it (`line`, the exact bytes its hash covers plus the
-- hash), with the fields reports select by. Partitioned by the month of the record's time
-- (UTC); fleet.ingest creates a month's partition the first time a record needs it.
-- (node_id, seq) is unique because fleet.ingest stores seq = head + 1 only, under the node's
-- row lock; the key has to name the partition column as well.
-- node_id has no foreign key: fleet.ingest takes it from fleet.nodes itself (a per-row check
-- would only repeat that on every record).
CREATE TABLE fleet.records (
    node_id     text NOT NULL,
    seq         bigint NOT NULL,
    time        timestamptz NOT NULL,
    action      text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL,
    line        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, seq, time)
) PARTITION BY RANGE (time);

-- Checkpoints as carried by the ledger's own `ledger.checkpoint` records (the record at seq
-- record_seq holds the claim "the chain had head_hash at seq"). fleet.ingest stores one only
-- when its claim matches the chain stored; the minisign signature is checked by the shipper
-- against the key in fleet.nodes before it sends (PostgreSQL has no Ed25519 built in).
CREATE TABLE fleet.checkpoints (
    node_id    text NOT NULL REFERENCES fleet.nodes,
    seq        bigint NOT NULL,
    head_hash  text NOT NULL,
    record_seq bigint NOT NULL,
    key_id     text,
    signed_at  text,
    entry      jsonb NOT NULL,
    PRIMARY KEY (node_id, seq)
);

-- What the database refused, naming node and seq.
CREATE TABLE fleet.alerts (
    id        bigserial PRIMARY KEY,
    node_id   text NOT NULL,
    seq       bigint,
    kind      text NOT NULL CHECK (kind IN ('gap', 'fork', 'rewritten', 'forged', 'wrong_node',
                                             'malformed', 'checkpoint')),
    detail    text NOT NULL,
    raised_by name NOT NULL DEFAULT session_user,
    raised_at timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON ALL TABLES IN SCHEMA fleet FROM PUBLIC;
GRANT SELECT ON fleet.nodes, fleet.records, fleet.checkpoints, fleet.alerts TO fleet_reader;

-- Register (or re-key) a station: its login role is created when missing and made a
-- fleet_station. For the fleet's administrator only.
CREATE FUNCTION fleet.register_node(p_node text, p_role name, p_public_key text)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, fleet AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_role) THEN
        EXECUTE format('CREATE ROLE %I LOGIN', p_role);
    END IF;
    EXECUTE format('GRANT fleet_station TO %I', p_role);
    INSERT INTO fleet.nodes (node_id, role_name, public_key) VALUES (p_node, p_role, p_public_key)
    ON CONFLICT (node_id) DO UPDATE SET public_key = EXCLUDED.public_key
        WHERE fleet.nodes.role_name = EXCLUDED.role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'node % is registered to another role', p_node USING ERRCODE = '42501';
    END IF;
END
$$;

-- The calling station's node, its stored head and its registered key.
CREATE FUNCTION fleet.my_node()
RETURNS TABLE (node_id text, head_seq bigint, head_hash text, public_key text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, fleet AS $$
    SELECT n.node_id, n.head_seq, n.head_hash, n.public_key FROM fleet.nodes n
    WHERE n.role_name = session_user
$$;

-- A record's hash as the host computes it (ledger.h): SHA-256 of the line from `{` up to and
-- including the quote closing prev_hash's value, that is all but its last 75 bytes
-- (,"hash":"<64 hex>"}), which are ASCII, so characters and bytes agree there.
CREATE FUNCTION fleet.line_hash(line text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(left(line, -75), 'UTF8')), 'hex')
$$;

-- The partition of fleet.records for the month starting at month0 (UTC), created when missing.
-- Stations ship at once: when another transaction created it first, that is not an error.
CREATE FUNCTION fleet.ensure_month(month0 timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, fleet AS $$
DECLARE
    part text := 'records_' || to_char(month0 AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
    IF to_regclass('fleet.' || part) IS NOT NULL THEN
        RETURN;
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE fleet.%I PARTITION OF fleet.records '
                       'FOR VALUES FROM (%L) TO (%L)', part, month0, month0 + interval '1 month');
    EXCEPTION WHEN duplicate_table THEN
        NULL;
    END;
END
$$;

-- Store the calling station's records: `lines` is ledger lines joined by '\n', in seq order.
-- A line is stored only when it continues the node's stored chain: its seq is head + 1, its
-- prev_hash is the head's hash, its hash is right for its bytes, its node_id is the station's.
-- A line already stored byte for byte is skipped (a shipper resending after a restart); any
-- other line refused stops the batch and raises an alert row naming node and seq. The lines
-- before it are kept (they are good), and the caller learns the refusal from the result.
CREATE FUNCTION fleet.ingest(lines text)
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
    prevs     text[] := '{}';
    hashes    text[] := '{}';
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
                        SELECT r.hash INTO cp_hash FROM fleet.records r
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
        prevs := prevs || n.head_hash;
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
    INSERT INTO fleet.records (node_id, seq, time, action, prev_hash, hash, line)
    SELECT n.node_id, u.* FROM unnest(seqs, times, actions, prevs, hashes, texts) AS u;
    UPDATE fleet.nodes SET head_seq = n.head_seq, head_hash = n.head_hash
    WHERE node_id = n.node_id;
    head_seq := n.head_seq;
    head_hash := n.head_hash;
    RETURN NEXT;
END
$$;

-- Every stored chain checked again from its genesis: seqs 1..n without a hole, each hash right
-- for its bytes, each prev_hash the hash before it, the head in fleet.nodes the last record.
CREATE FUNCTION fleet.verify_chains()
RETURNS TABLE (node_id text, records bigint, ok boolean, first_bad_seq bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, fleet AS $$
    WITH checked AS (
        SELECT r.node_id, r.seq, r.hash,
               r.seq = row_number() OVER w
               AND r.hash = fleet.line_hash(r.line)
               AND right(r.line, 75) = ',"hash":"' || r.hash || '"}'
               AND right(left(r.line, -75), 79) =
                   ',"prev_hash":"' || coalesce(lag(r.hash) OVER w, repeat('0', 64)) || '"'
                   AS good
        FROM fleet.records r
        WINDOW w AS (PARTITION BY r.node_id ORDER BY r.seq)
    )
    SELECT n.node_id, count(c.seq),
           bool_and(coalesce(c.good, true)) AND coalesce(max(c.seq), 0) = n.head_seq
               AND coalesce((SELECT c2.hash FROM checked c2 WHERE c2.node_id = n.node_id
                             ORDER BY c2.seq DESC LIMIT 1), repeat('0', 64)) = n.head_hash,
           min(c.seq) FILTER (WHERE NOT c.good)
    FROM fleet.nodes n LEFT JOIN checked c ON c.node_id = n.node_id
    GROUP BY n.node_id, n.head_seq, n.head_hash
    ORDER BY n.node_id
$$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA fleet FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.ingest(text), fleet.my_node() TO fleet_station;
GRANT EXECUTE ON FUNCTION fleet.verify_chains(), fleet.line_hash(text) TO fleet_reader;
