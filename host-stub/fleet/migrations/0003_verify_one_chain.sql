-- 0003: one station's chain checked again from its genesis, as fleet.verify_chains() checks
-- every chain, reading only that station's records (the primary key's index, a month
-- partition each) instead of re-hashing the whole fleet to keep one row. No row when the node
-- is not registered.
CREATE FUNCTION fleet.verify_chains(node text)
RETURNS TABLE (node_id text, records bigint, ok boolean, first_bad_seq bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, fleet AS $$
    WITH checked AS (
        SELECT r.seq, r.hash,
               r.seq = row_number() OVER w
               AND r.hash = fleet.line_hash(r.line)
               AND right(r.line, 75) = ',"hash":"' || r.hash || '"}'
               AND right(left(r.line, -75), 79) =
                   ',"prev_hash":"' || coalesce(lag(r.hash) OVER w, repeat('0', 64)) || '"'
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

-- A function is callable by PUBLIC unless revoked: only readers may re-hash a chain.
REVOKE EXECUTE ON FUNCTION fleet.verify_chains(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION fleet.verify_chains(text) TO fleet_reader;
