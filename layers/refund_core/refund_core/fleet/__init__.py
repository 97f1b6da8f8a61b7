"""The fleet (contract section 8): refunds polled in batches, not one execution each.

A watched refund's record carries its place in its account's queue: `due_queue`
(`<provider>#<account>`) and `due_at_ms`, the sort key of the sparse `due` index. A batch
takes one account's due refunds oldest first and checks them concurrently with the poller's
own check (`refund_core.poller.check.run_check`), at most at the account's rate: one queue per
account means the index partition of a queue takes at most that rate's writes, and the oldest
due refund of a busy account is always the next one checked.

- `registry`: registering a refund, reading a queue, moving or retiring a refund in it;
- `batch`: one account's batch, and what each check's outcome does to the refund's place.
"""
