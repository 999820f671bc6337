-- Who owns each partition of the input, and since which claim: a worker
-- takes a partition by raising its epoch, and every commit it makes for
-- the partition checks the epoch is still the one it took (fencing a
-- worker that lost the partition and does not know it yet).
CREATE TABLE waymark_owners (
    partition text PRIMARY KEY,
    owner text NOT NULL,
    epoch bigint NOT NULL
);
