-- The ops dashboard's reads (decision 14). Parameters shared by the board's queries:
-- $1 buyer (NULL: every buyer's, for an admin), $2 today (the service clock's date),
-- $3 the last day of the due-soon window, $4 provider (NULL: any), $5 contract status (NULL:
-- any). Each answers in one statement, as JSON that decodes straight into the page's Structs.

-- name: board
-- The contracts by urgency (red, amber, green, then closed; red and amber ones by their earliest
-- milestone due up to the window's end, the rest by id), a page of them after the cursor ($7
-- rank, $8 that date ('infinity' for none), $9 id) of at most $10, optionally of one RAG ($6),
-- and how many of each RAG there are. Only scheduled milestones due up to the window's end
-- count (a short range of the partial index), so only the red and amber contracts are read
-- one by one; green and closed ones are counted from an index and paged by id.
WITH due AS (
    SELECT m.contract_id,
           count(*) FILTER (WHERE m.due_on < $2) AS overdue,
           count(*) FILTER (WHERE m.due_on >= $2) AS due_soon,
           min(m.due_on) AS first_due
    FROM milestones m
    WHERE m.status = 'scheduled' AND ($1::text IS NULL OR m.buyer_id = $1) AND m.due_on <= $3
    GROUP BY m.contract_id
), rated AS (
    -- The contracts whose worst current KPI rating makes them red or amber (a partial index
    -- holds only those KPIs), with that rating.
    SELECT k.contract_id,
           (array_agg(k.rating ORDER BY k.rating = 'inadequate' DESC,
                                        k.rating = 'requires_improvement' DESC))[1] AS worst
    FROM kpis k
    WHERE k.rating IN ('inadequate', 'requires_improvement', 'approaching_target')
      AND ($1::text IS NULL OR k.buyer_id = $1)
    GROUP BY k.contract_id
), flags AS (
    SELECT coalesce(d.contract_id, r.contract_id) AS contract_id,
           coalesce(d.overdue, 0) AS overdue, coalesce(d.due_soon, 0) AS due_soon,
           coalesce(d.first_due, 'infinity'::date) AS first_due, r.worst
    FROM due d FULL JOIN rated r ON r.contract_id = d.contract_id
), flagged AS (
    SELECT d.contract_id AS id, c.status, d.overdue, d.due_soon, d.first_due,
           ops_rag(d.overdue, d.due_soon, d.worst) AS rag
    FROM flags d JOIN contracts c ON c.id = d.contract_id
    WHERE c.status IN ('pending', 'active') AND ($1::text IS NULL OR c.buyer_id = $1)
      AND ($4::text IS NULL OR c.provider_ids @> ARRAY[$4::text])
      AND ($5::text IS NULL OR c.status = $5)
), ranked AS (
    SELECT f.*, CASE f.rag WHEN 'red' THEN 0 ELSE 1 END AS rank FROM flagged f
), counts AS (
    SELECT count(*) FILTER (WHERE c.status IN ('pending', 'active')) AS live,
           count(*) FILTER (WHERE c.status NOT IN ('pending', 'active')) AS closed
    FROM contracts c
    WHERE ($1::text IS NULL OR c.buyer_id = $1)
      AND ($4::text IS NULL OR c.provider_ids @> ARRAY[$4::text])
      AND ($5::text IS NULL OR c.status = $5)
), page AS (
    SELECT * FROM (
        (SELECT r.id, r.status, r.overdue, r.due_soon, r.first_due, r.rag, r.rank
         FROM ranked r
         WHERE ($6::text IS NULL OR r.rag = $6)
           AND ($7::int IS NULL OR (r.rank, r.first_due, r.id) > ($7, $8::date, $9::uuid))
         ORDER BY r.rank, r.first_due, r.id LIMIT $10)
        UNION ALL
        (SELECT c.id, c.status, 0, 0, 'infinity'::date, 'green', 2
         FROM contracts c
         WHERE ($6::text IS NULL OR $6 = 'green')
           AND ($1::text IS NULL OR c.buyer_id = $1)
           AND ($4::text IS NULL OR c.provider_ids @> ARRAY[$4::text])
           AND ($5::text IS NULL OR c.status = $5)
           AND c.status IN ('pending', 'active')
           AND NOT EXISTS (SELECT 1 FROM flagged f WHERE f.id = c.id)
           AND ($7::int IS NULL OR $7 < 2 OR ($7 = 2 AND c.id > $9::uuid))
         ORDER BY c.id LIMIT $10)
        UNION ALL
        (SELECT c.id, c.status, 0, 0, 'infinity'::date, NULL, 3
         FROM contracts c
         WHERE $6::text IS NULL
           AND ($1::text IS NULL OR c.buyer_id = $1)
           AND ($4::text IS NULL OR c.provider_ids @> ARRAY[$4::text])
           AND ($5::text IS NULL OR c.status = $5)
           AND c.status NOT IN ('pending', 'active')
           AND ($7::int IS NULL OR $7 < 3 OR c.id > $9::uuid)
         ORDER BY c.id LIMIT $10)
    ) u
    ORDER BY u.rank, u.first_due, u.id
    LIMIT $10
)
SELECT json_build_object(
    'tiles', (SELECT json_build_object(
                  'red', count(*) FILTER (WHERE f.rag = 'red'),
                  'amber', count(*) FILTER (WHERE f.rag = 'amber'),
                  'green', (SELECT live FROM counts) - count(*),
                  'closed', (SELECT closed FROM counts))
              FROM flagged f),
    'items', (SELECT coalesce(json_agg(json_build_object(
                  'id', p.id, 'buyerId', c.buyer_id, 'title', c.title, 'status', p.status,
                  'rag', p.rag, 'rank', p.rank, 'overdue', p.overdue, 'dueSoon', p.due_soon,
                  'firstDue', CASE WHEN p.first_due <> 'infinity' THEN p.first_due END,
                  'nextDue', (SELECT min(m.due_on) FROM milestones m
                              WHERE m.contract_id = p.id AND m.status = 'scheduled'),
                  'amount', c.current_amount, 'endsOn', c.ends_on,
                  'suppliers', (SELECT coalesce(array_agg(d.legal_name ORDER BY d.legal_name),
                                               '{}')
                                FROM provider_directory d WHERE d.id = ANY(c.provider_ids))
              ) ORDER BY p.rank, p.first_due, p.id), '[]')
              FROM page p JOIN contracts c ON c.id = p.id)
)::text

-- name: due
-- Scheduled milestones due from $2 to $3 (inclusive), soonest first, at most $6 of them, and
-- how many there are in all ($1, $4 and $5 as for the board). Whatever became of the contract,
-- as the monitor reports them (a completed contract's final report can slip). The range is
-- read from the partial index alone; only the page's milestones are read whole.
WITH open AS (
    SELECT m.id, m.contract_id, m.due_on
    FROM milestones m
    WHERE m.status = 'scheduled' AND ($1::text IS NULL OR m.buyer_id = $1)
      AND m.due_on >= $2 AND m.due_on <= $3
), live AS (
    SELECT o.id, o.contract_id, o.due_on
    FROM open o JOIN contracts c ON c.id = o.contract_id
    WHERE ($1::text IS NULL OR c.buyer_id = $1)
      AND ($4::text IS NULL OR c.provider_ids @> ARRAY[$4::text])
      AND ($5::text IS NULL OR c.status = $5)
)
SELECT json_build_object(
    'total', (SELECT count(*) FROM live),
    'items', (SELECT coalesce(json_agg(json_build_object(
                  'id', p.id, 'contractId', p.contract_id, 'contractTitle', c.title,
                  'title', m.title, 'kind', m.kind, 'dueOn', p.due_on
              ) ORDER BY p.due_on, p.id), '[]')
              FROM (SELECT * FROM live ORDER BY due_on, id LIMIT $6) p
              JOIN milestones m ON m.id = p.id JOIN contracts c ON c.id = p.contract_id)
)::text

-- name: kpi_ratings
-- The current ratings of the KPIs of the buyer's contracts ($1; $2 provider, $3 contract
-- status), worst first (then the oldest KPI first), at most $4, with their explanation. The
-- order is an index's (kpis_worst_first), so only the KPIs shown are read whole.
SELECT coalesce(json_agg(json_build_object(
           'contractId', r.contract_id, 'contractTitle', r.title, 'kpi', r.name,
           'rating', r.rating, 'explanation', k.doc -> 'rating' ->> 'explanation',
           'ratedOn', (k.doc ->> 'ratedAt')::timestamptz::date
       ) ORDER BY r.worst, r.created_at, r.id), '[]')::text
FROM (SELECT k.id, k.contract_id, c.title, k.name, k.rating, k.created_at,
             array_position(ARRAY['inadequate', 'requires_improvement', 'approaching_target',
                                  'other', 'good']::text[], k.rating) AS worst
      FROM kpis k JOIN contracts c ON c.id = k.contract_id
      WHERE ($1::text IS NULL OR k.buyer_id = $1)
        AND ($2::text IS NULL OR c.provider_ids @> ARRAY[$2::text])
        AND ($3::text IS NULL OR c.status = $3)
      ORDER BY array_position(ARRAY['inadequate', 'requires_improvement', 'approaching_target',
                                    'other', 'good']::text[], k.rating), k.created_at, k.id
      LIMIT $4) AS r
JOIN kpis k ON k.id = r.id

-- name: recent_events
-- The newest events the service wrote (the viewer's are picked from them).
SELECT payload FROM outbox ORDER BY position DESC LIMIT $1

-- name: buyers
SELECT coalesce(array_agg(b.buyer_id ORDER BY b.buyer_id), '{}')
FROM (SELECT DISTINCT buyer_id FROM contracts) b

-- name: providers
-- The providers a filter can name: the registry's, as the provider directory holds it (finding
-- only those with a contract of the viewer's buyer costs a pass over all its contracts).
SELECT coalesce(json_agg(json_build_object('id', d.id, 'name', d.legal_name)
                         ORDER BY d.legal_name), '[]')::text
FROM (SELECT id, legal_name FROM provider_directory ORDER BY legal_name LIMIT $1) d
