-- Many workers on one store. Each runtime takes a slot, a number no other
-- runtime got, and numbers what it writes under it (outbox entries,
-- records, merges), so that workers never write the same key. People are
-- locked while a worker decides for them: session advisory locks on a
-- hash of each identifier and person, taken all or none.
CREATE SEQUENCE waymark_slot START 1;

CREATE FUNCTION waymark_try_lock(keys bigint[]) RETURNS boolean AS $$
DECLARE
    k bigint;
    got bigint[] := '{}';
BEGIN
    FOREACH k IN ARRAY keys LOOP
        IF NOT pg_try_advisory_lock(k) THEN
            PERFORM pg_advisory_unlock(g) FROM unnest(got) AS g;
            RETURN false;
        END IF;
        got := got || k;
    END LOOP;
    RETURN true;
END
$$ LANGUAGE plpgsql;
