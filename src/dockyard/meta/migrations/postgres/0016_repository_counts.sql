-- The number of repositories, as sqlite/0016_repository_counts.sql: COUNT(*) reads every row (10 ms
-- for 100,000 repositories), and the web UI shows the total above every page. In 16 slots by the
-- repository's id, so that repositories created at once (ids in sequence) mostly update different
-- rows rather than queueing on one; the total is their sum.
-- depends: 0015_link_reviews

CREATE TABLE repository_counts (
    slot  INTEGER PRIMARY KEY,
    total BIGINT NOT NULL
);
INSERT INTO repository_counts (slot, total) SELECT id % 16, COUNT(*) FROM repositories GROUP BY id % 16;

CREATE FUNCTION counts_repository_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO repository_counts (slot, total) VALUES (NEW.id % 16, 1)
    ON CONFLICT (slot) DO UPDATE SET total = repository_counts.total + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER counts_repository_added AFTER INSERT ON repositories
    FOR EACH ROW EXECUTE FUNCTION counts_repository_added();

CREATE FUNCTION counts_repository_removed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE repository_counts SET total = total - 1 WHERE slot = OLD.id % 16;
    RETURN NULL;
END $$;
CREATE TRIGGER counts_repository_removed AFTER DELETE ON repositories
    FOR EACH ROW EXECUTE FUNCTION counts_repository_removed();
