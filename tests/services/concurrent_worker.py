"""A worker process for the services concurrency tests: threads running one service each.

``python -m tests.services.concurrent_worker <slug> <owner id> <threads> <input json>`` sets
Django up, opens one database connection per thread, prints ``ready`` and waits for a line on
stdin; then every thread calls ``execute`` once at the same moment. It prints
``{"succeeded": n, "refused": m, "failed": k, "errors": [...]}``: ``refused`` counts
``InsufficientCredits``, ``failed`` runs that started but did not succeed, ``errors`` anything
else raised.
"""

from __future__ import annotations

import json
import sys
import threading


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from quickscale.credits.exceptions import InsufficientCredits
    from quickscale.services.execution import execute

    slug, owner, threads, payload = sys.argv[1:5]
    user = get_user_model().objects.get(pk=int(owner))
    data = json.loads(payload)
    counts: dict[str, int] = {"succeeded": 0, "refused": 0, "failed": 0}
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(int(threads) + 1)
    go = threading.Event()

    def work() -> None:
        try:
            connection.ensure_connection()
            ready.wait()
            go.wait()
            try:
                run = execute(user, slug, data)
            except InsufficientCredits:
                outcome = "refused"
            except Exception as error:  # reported to the test
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
                return
            else:
                outcome = "succeeded" if run.status == "succeeded" else "failed"
            with lock:
                counts[outcome] += 1
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(int(threads))]
    for worker in workers:
        worker.start()
    ready.wait()
    print("ready", flush=True)
    sys.stdin.readline()
    go.set()
    for worker in workers:
        worker.join()
    print(json.dumps({**counts, "errors": errors}), flush=True)


if __name__ == "__main__":
    main()
