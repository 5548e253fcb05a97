-- The number of repositories, kept by triggers in the writer's own transaction: the web UI shows
-- it above every page of repositories, and counting would read every row (100,000 names cost
-- milliseconds per page). Kept in slots by the repository's id, as postgres/0016_repository_counts.sql,
-- where concurrent creations of repositories would otherwise take turns on one row; the total is
-- their sum.
-- depends: 0015_link_reviews

CREATE TABLE repository_counts (
    slot  INTEGER PRIMARY KEY,
    total INTEGER NOT NULL
);
INSERT INTO repository_counts (slot, total) SELECT id % 16, COUNT(*) FROM repositories GROUP BY id % 16;

CREATE TRIGGER counts_repository_added AFTER INSERT ON repositories BEGIN
    INSERT INTO repository_counts (slot, total) VALUES (NEW.id % 16, 1)
    ON CONFLICT (slot) DO UPDATE SET total = total + 1;
END;

CREATE TRIGGER counts_repository_removed AFTER DELETE ON repositories BEGIN
    UPDATE repository_counts SET total = total - 1 WHERE slot = OLD.id % 16;
END;
