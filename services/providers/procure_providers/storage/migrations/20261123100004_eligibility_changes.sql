-- migrate:up
-- Every change to what eligibility weighs names the provider on the channel
-- procure_eligibility, at commit: the eligibility responder's in-process index forgets that
-- provider (storage/eligibility_index.py). A TRUNCATE names no one: '*' means all.
CREATE FUNCTION eligibility_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('procure_eligibility', '*');
    ELSIF TG_TABLE_NAME = 'providers' THEN
        PERFORM pg_notify('procure_eligibility', (CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
        IF TG_OP = 'UPDATE' AND OLD.id <> NEW.id THEN
            PERFORM pg_notify('procure_eligibility', OLD.id::text);
        END IF;
    ELSE
        PERFORM pg_notify('procure_eligibility', (CASE WHEN TG_OP = 'DELETE' THEN OLD.provider_id ELSE NEW.provider_id END)::text);
        IF TG_OP = 'UPDATE' AND OLD.provider_id <> NEW.provider_id THEN
            PERFORM pg_notify('procure_eligibility', OLD.provider_id::text);
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER providers_eligibility AFTER INSERT OR UPDATE OR DELETE ON providers
    FOR EACH ROW EXECUTE FUNCTION eligibility_changed();
CREATE TRIGGER exclusions_eligibility AFTER INSERT OR UPDATE OR DELETE ON exclusions
    FOR EACH ROW EXECUTE FUNCTION eligibility_changed();
CREATE TRIGGER accreditations_eligibility AFTER INSERT OR UPDATE OR DELETE ON accreditations
    FOR EACH ROW EXECUTE FUNCTION eligibility_changed();
CREATE TRIGGER track_ratings_eligibility AFTER INSERT OR UPDATE OR DELETE ON track_ratings
    FOR EACH ROW EXECUTE FUNCTION eligibility_changed();
CREATE TRIGGER providers_eligibility_truncate AFTER TRUNCATE ON providers
    FOR EACH STATEMENT EXECUTE FUNCTION eligibility_changed();
CREATE TRIGGER exclusions_eligibility_truncate AFTER TRUNCATE ON exclusions
    FOR EACH STATEMENT EXECUTE FUNCTION eligibility_changed();
CREATE TRIGGER accreditations_eligibility_truncate AFTER TRUNCATE ON accreditations
    FOR EACH STATEMENT EXECUTE FUNCTION eligibility_changed();
CREATE TRIGGER track_ratings_eligibility_truncate AFTER TRUNCATE ON track_ratings
    FOR EACH STATEMENT EXECUTE FUNCTION eligibility_changed();

-- migrate:down
DROP TRIGGER track_ratings_eligibility_truncate ON track_ratings;
DROP TRIGGER accreditations_eligibility_truncate ON accreditations;
DROP TRIGGER exclusions_eligibility_truncate ON exclusions;
DROP TRIGGER providers_eligibility_truncate ON providers;
DROP TRIGGER track_ratings_eligibility ON track_ratings;
DROP TRIGGER accreditations_eligibility ON accreditations;
DROP TRIGGER exclusions_eligibility ON exclusions;
DROP TRIGGER providers_eligibility ON providers;
DROP FUNCTION eligibility_changed();
