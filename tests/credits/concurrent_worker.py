"""A worker process for the concurrency tests: threads hammering one owner's credits.

``python -m tests.credits.concurrent_worker <debit|hold> <owner id> <threads> <attempts>
<start at (epoch seconds)>`` prints ``{"succeeded": n, "refused": m, "errors": [...]}``.
Each thread uses its own database connection, as Django gives every thread one.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from decimal import Decimal


def main() -> None:
    import django

    django.setup()
    from django.db import connection

    from quickscale.credits import ledger
    from quickscale.credits.exceptions import InsufficientCredits

    operation, owner, threads, attempts, start_at = sys.argv[1:6]
    call = {"debit": ledger.debit, "hold": ledger.hold}[operation]
    counts = {"succeeded": 0, "refused": 0}
    errors: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        time.sleep(max(0.0, float(start_at) - time.time()))
        try:
            for _ in range(int(attempts)):
                try:
                    call(int(owner), Decimal(1))
                except InsufficientCredits:
                    outcome = "refused"
                else:
                    outcome = "succeeded"
                with lock:
                    counts[outcome] += 1
        except Exception as error:  # reported to the test, which fails on it
            with lock:
                errors.append(repr(error))
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(int(threads))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({**counts, "errors": errors}))


if __name__ == "__main__":
    main()
