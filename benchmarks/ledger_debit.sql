-- The reference debit of the ledger and API benchmarks: the least the database can do for a
-- debit of :amount credits. ONE statement: the conditional UPDATE of the account (available
-- credits, balance - held, must cover the amount; the credits join the unallocated ones, as a
-- debit of ledger.debit does) and the INSERT of its ledger entry, joined in a data-modifying
-- WITH, atomic on its own (autocommit, no BEGIN/COMMIT).
--
-- pgbench runs this file as it is (the benchmark passes -D first_owner=N -D last_owner=M):
--
--   pgbench -n -M prepared -f benchmarks/ledger_debit.sql -D first_owner=1 -D last_owner=1 \
--       -c 16 -j 2 -T 4 <database>
--
-- and bench_ledger.baseline_debit() sends the same statement from Django, as a prepared
-- statement (the :name variables become its parameters, in the same order).
\set owner random(:first_owner, :last_owner)
\set amount 1
WITH a AS (
    UPDATE quickscale_credits_creditaccount
    SET balance = balance - :amount, unallocated = unallocated + :amount, updated_at = now()
    WHERE owner_id = :owner AND balance - held >= :amount
    RETURNING id, balance, held
), e AS (
    INSERT INTO quickscale_credits_credittransaction (
        account_id, kind, amount, held_delta, balance_after, held_after, allocations, reason,
        reference, metadata, request_digest, created_at
    )
    SELECT id, 'debit', - CAST(:amount AS numeric), 0, balance, held, '[]', '', '', '{}', '',
        now()
    FROM a
    RETURNING id
)
SELECT a.balance, e.id FROM a, e;
