-- name: facts
-- Everything eligibility weighs, for several providers, in one round trip: the provider, its
-- exclusions, its accreditations in category $2, and its latest performance rating.
SELECT p.id::text AS id, p.legal_name, p.status,
       ARRAY(SELECT row_to_json(e)::jsonb FROM exclusions e
             WHERE e.provider_id = p.id ORDER BY e.starts_on, e.id) AS exclusions,
       ARRAY(SELECT row_to_json(a)::jsonb FROM accreditations a
             WHERE a.provider_id = p.id AND a.category = $2
             ORDER BY a.valid_from, a.id) AS accreditations,
       (SELECT row_to_json(r)::jsonb FROM track_ratings r
        WHERE r.provider_id = p.id::text ORDER BY r.rated_at DESC, r.kpi_id LIMIT 1) AS rating
FROM providers p
WHERE p.id = ANY ($1::uuid[])
