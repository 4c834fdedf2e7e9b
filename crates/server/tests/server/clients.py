"""One application instance pushing to tally with the official Python client.

Usage: python3 clients.py <gateway host:port> <index>

Run by crates/server/tests/server/python_clients.rs, 20 at once. Each index pushes under the
grouping key {job="pyclients", instance=...} with prometheus_client's push_to_gateway (PUT),
pushadd_to_gateway (POST) and delete_from_gateway (DELETE), through several *incarnations*:
a fresh registry is a restarted process whose counters start again from zero. It retries
pushes (the same cumulative state again), and deletes its group at the end. It prints one
JSON object with exactly what it contributed: every increment of every counter, and every
observation (dyadic values, so sums are exact in any order).

The index picks one of four behaviours (index % 4), all with well-defined totals under
DESIGN.md section 4:

0. PUT, pushing process_start_time_seconds. After a restart the process works hard before
   its first push, so every counter is *higher* than before: only the changed start time
   shows the restart (rule 2). Deletes its group mid-way in the first incarnation and
   pushes again with the same start time (a tombstone resume, decision 0003).
1. POST of two registries, as an application with a separate batch registry would: the
   main one with process_start_time_seconds, and one holding only pyapp_batches_total.
   Works hard after a restart like 0, and deletes mid-way like 0.
2. PUT without process_start_time_seconds (a generic client): restarts show only by lower
   values, so no work before the first push after a restart, and no mid-way delete (without
   a start time a re-push after a delete counts again: decision 0003's stated limit).
3. POST of two registries like 1, without the hard work after a restart.
"""

import json
import sys

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)

JOB = "pyclients"
BUCKETS = (0.1, 0.5, 1.0)
OBSERVATIONS = (0.0625, 0.25, 0.75, 2.0)


def main():
    gateway, index = sys.argv[1], int(sys.argv[2])
    mode = index % 4
    post = mode in (1, 3)
    with_start_time = mode in (0, 1, 3)
    works_after_restart = mode in (0, 1)
    delete_mid_way = mode in (0, 1)
    # A '/' in a value makes the client send it as @base64.
    instance = f"pod/{index}" if index % 2 else f"py-{index}"
    key = {"instance": instance}
    totals = {"work_a": 0, "work_b": 0, "batches": 0, "observations": []}

    def push(registry):
        if post:
            pushadd_to_gateway(gateway, job=JOB, registry=registry, grouping_key=key)
        else:
            push_to_gateway(gateway, job=JOB, registry=registry, grouping_key=key)

    incarnations = 2 + index % 3
    for incarnation in range(incarnations):
        main_registry = CollectorRegistry()
        work = Counter("pyapp_work", "Work done.", ["kind"], registry=main_registry)
        latency = Histogram(
            "pyapp_latency_seconds", "Latency.", buckets=BUCKETS, registry=main_registry
        )
        if with_start_time:
            Gauge(
                "process_start_time_seconds", "Start time.", registry=main_registry
            ).set(1_700_000_000 + index * 100 + incarnation)
        batch_registry = CollectorRegistry()
        batches = Counter("pyapp_batches", "Batches.", registry=batch_registry)

        def observe(value):
            latency.observe(value)
            totals["observations"].append(value)

        if incarnation > 0 and works_after_restart:
            # Past every value of the previous incarnation, bucket by bucket.
            work.labels("a").inc(1000)
            totals["work_a"] += 1000
            for value in OBSERVATIONS * 6:
                observe(value)

        steps = 3 + (index + incarnation) % 3
        for step in range(steps):
            amount = step + 1 + index % 3
            work.labels("a").inc(amount)
            totals["work_a"] += amount
            if step % 2 == 1:
                work.labels("b").inc(2)
                totals["work_b"] += 2
            observe(OBSERVATIONS[(index + step + incarnation) % 4])
            push(main_registry)
            if step % 2 == 0:
                push(main_registry)  # a retry: the same cumulative state again
            if post:
                amount = 1 + step % 2
                batches.inc(amount)
                totals["batches"] += amount
                pushadd_to_gateway(
                    gateway, job=JOB, registry=batch_registry, grouping_key=key
                )
                if step == steps - 1:
                    pushadd_to_gateway(
                        gateway, job=JOB, registry=batch_registry, grouping_key=key
                    )
            if delete_mid_way and incarnation == 0 and step == 1:
                # The same process pushes again next step, with the same start time.
                delete_from_gateway(gateway, job=JOB, grouping_key=key)

    delete_from_gateway(gateway, job=JOB, grouping_key=key)
    print(json.dumps(totals))


if __name__ == "__main__":
    main()
