-- name: record
INSERT INTO inbox (consumer, event_id, event_type, aggregate_id, sequence)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING

-- name: advance
-- Move the aggregate's position to $3 only if $3 is the next one. (xmax = 0) tells a first
-- insert from an update.
INSERT INTO inbox_positions (consumer, aggregate_id, last_sequence)
VALUES ($1, $2, $3)
ON CONFLICT (consumer, aggregate_id) DO UPDATE SET last_sequence = EXCLUDED.last_sequence
WHERE inbox_positions.last_sequence = EXCLUDED.last_sequence - 1
RETURNING (xmax = 0) AS inserted

-- name: position
SELECT last_sequence FROM inbox_positions WHERE consumer = $1 AND aggregate_id = $2

-- name: dead_letter
INSERT INTO dead_letters
    (consumer, stream, stream_seq, reason, deliveries, event_id, event_type, payload)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT DO NOTHING
