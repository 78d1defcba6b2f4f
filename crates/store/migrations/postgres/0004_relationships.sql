-- Friends, friend requests and blocks: one row per direction, `kind` being
-- Discord's relationship type as its owner sees it (1 friend, 2 blocked,
-- 3 incoming request, 4 outgoing request).
CREATE TABLE relationships (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    other_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind BIGINT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (user_id, other_id)
);
