-- migrate:up
-- Everything eligibility weighs, for several providers, in one statement: the provider, its
-- exclusions, its accreditations (in category $2, or all of them when $2 is null) and its latest
-- performance rating, as rows of the tables themselves (asyncpg decodes them into records).
--
-- A function, for its SET clause: with `= ANY($1)` PostgreSQL prefers a custom plan on every
-- call (it knows the array's length only then), and planning cost more than executing (about
-- 80-190 us against 60 us). force_generic_plan here applies to this statement only, plans it
-- once per connection, and leaves no session state behind.
CREATE FUNCTION eligibility_facts(ids uuid[], category text)
RETURNS TABLE (
    id text,
    legal_name text,
    status text,
    exclusions exclusions[],
    accreditations accreditations[],
    rating track_ratings
)
LANGUAGE sql STABLE
SET plan_cache_mode = force_generic_plan
AS $$
SELECT p.id::text, p.legal_name, p.status,
       ARRAY(SELECT e FROM exclusions e
             WHERE e.provider_id = p.id ORDER BY e.starts_on, e.id),
       ARRAY(SELECT a FROM accreditations a
             WHERE a.provider_id = p.id AND ($2 IS NULL OR a.category = $2)
             ORDER BY a.valid_from, a.id),
       (SELECT r FROM track_ratings r
        WHERE r.provider_id = p.id::text ORDER BY r.rated_at DESC, r.kpi_id LIMIT 1)
FROM providers p
WHERE p.id = ANY ($1)
$$;

-- migrate:down
DROP FUNCTION eligibility_facts(uuid[], text);
