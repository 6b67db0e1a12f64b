-- The ops dashboard's reads (decision 14). Parameters shared by the board's queries:
-- $1 buyer (NULL: every buyer's, for an admin), $2 today (the service clock's date),
-- $3 the last day of the due-soon window, $4 provider (NULL: any), $5 contract status (NULL:
-- any). Each answers in one statement, as JSON that decodes straight into the page's Structs.

-- name: board
-- The contracts by urgency (red, amber, green, then closed; soonest due first), a page of them
-- after the cursor ($7 rank, $8 next due, $9 id), and the count of each RAG over all of them.
WITH open AS (
    SELECT m.contract_id,
           count(*) FILTER (WHERE m.due_on < $2) AS overdue,
           count(*) FILTER (WHERE m.due_on >= $2 AND m.due_on <= $3) AS due_soon,
           min(m.due_on) AS next_due
    FROM milestones m
    WHERE m.status = 'scheduled' AND ($1::text IS NULL OR m.buyer_id = $1)
    GROUP BY m.contract_id
), health AS (
    SELECT c.id, c.buyer_id, c.title, c.status, c.provider_ids, c.current_amount, c.ends_on,
           coalesce(o.overdue, 0) AS overdue,
           coalesce(o.due_soon, 0) AS due_soon,
           coalesce(o.next_due, 'infinity'::date) AS next_due,
           CASE WHEN c.status IN ('pending', 'active')
                THEN ops_rag(coalesce(o.overdue, 0), coalesce(o.due_soon, 0), NULL) END AS rag
    FROM contracts c LEFT JOIN open o ON o.contract_id = c.id
    WHERE ($1::text IS NULL OR c.buyer_id = $1)
      AND ($4::text IS NULL OR c.provider_ids @> ARRAY[$4::text])
      AND ($5::text IS NULL OR c.status = $5)
), ranked AS (
    SELECT h.*,
           CASE h.rag WHEN 'red' THEN 0 WHEN 'amber' THEN 1 WHEN 'green' THEN 2 ELSE 3 END
               AS rank
    FROM health h
    WHERE $6::text IS NULL OR h.rag = $6
), page AS (
    SELECT r.* FROM ranked r
    WHERE $7::int IS NULL OR (r.rank, r.next_due, r.id) > ($7, $8::date, $9::uuid)
    ORDER BY r.rank, r.next_due, r.id
    LIMIT $10
)
SELECT json_build_object(
    'tiles', (SELECT coalesce(json_object_agg(coalesce(t.rag, 'closed'), t.n), '{}')
              FROM (SELECT rag, count(*) AS n FROM health GROUP BY rag) t),
    'items', (SELECT coalesce(json_agg(json_build_object(
                  'id', p.id, 'buyerId', p.buyer_id, 'title', p.title, 'status', p.status,
                  'rag', p.rag, 'rank', p.rank, 'overdue', p.overdue, 'dueSoon', p.due_soon,
                  'nextDue', CASE WHEN p.next_due = 'infinity' THEN NULL ELSE p.next_due END,
                  'amount', p.current_amount, 'endsOn', p.ends_on,
                  'suppliers', (SELECT coalesce(array_agg(d.legal_name ORDER BY d.legal_name),
                                               '{}')
                                FROM provider_directory d WHERE d.id = ANY(p.provider_ids))
              ) ORDER BY p.rank, p.next_due, p.id), '[]')
              FROM page p)
)::text

-- name: due
-- Scheduled milestones of live contracts due from $2 to $3 (inclusive), soonest first, at most
-- $6 of them, and how many there are in all ($1, $4 and $5 as for the board).
SELECT json_build_object(
    'total', count(*),
    'items', coalesce(json_agg(json_build_object(
        'id', x.id, 'contractId', x.contract_id, 'contractTitle', x.contract_title,
        'title', x.title, 'kind', x.kind, 'dueOn', x.due_on
    ) ORDER BY x.due_on, x.id) FILTER (WHERE x.n <= $6), '[]')
)::text
FROM (
    SELECT m.id, m.contract_id, c.title AS contract_title, m.title, m.kind, m.due_on,
           row_number() OVER (ORDER BY m.due_on, m.id) AS n
    FROM milestones m JOIN contracts c ON c.id = m.contract_id
    WHERE m.status = 'scheduled' AND ($1::text IS NULL OR m.buyer_id = $1)
      AND m.due_on >= $2 AND m.due_on <= $3
      AND c.status IN ('pending', 'active')
      AND ($4::text IS NULL OR c.provider_ids @> ARRAY[$4::text])
      AND ($5::text IS NULL OR c.status = $5)
) x

-- name: summary
-- The counts `procure status` shows: scheduled milestones of live contracts overdue, and due
-- from today to $3.
SELECT count(*) FILTER (WHERE m.due_on < $2) AS overdue,
       count(*) FILTER (WHERE m.due_on >= $2) AS due_soon
FROM milestones m JOIN contracts c ON c.id = m.contract_id
WHERE m.status = 'scheduled' AND ($1::text IS NULL OR m.buyer_id = $1)
  AND m.due_on <= $3 AND c.status IN ('pending', 'active')

-- name: recent_events
-- The newest events the service wrote (the viewer's are picked from them).
SELECT payload FROM outbox ORDER BY position DESC LIMIT $1

-- name: buyers
SELECT coalesce(array_agg(b.buyer_id ORDER BY b.buyer_id), '{}')
FROM (SELECT DISTINCT buyer_id FROM contracts) b

-- name: providers
-- The providers a filter can name: those holding a contract the viewer can see.
SELECT coalesce(json_agg(json_build_object('id', d.id, 'name', d.legal_name)
                         ORDER BY d.legal_name), '[]')::text
FROM provider_directory d
WHERE EXISTS (SELECT 1 FROM contracts c
              WHERE c.provider_ids @> ARRAY[d.id] AND ($1::text IS NULL OR c.buyer_id = $1))
