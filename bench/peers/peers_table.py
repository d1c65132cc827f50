"""Prints bench/peers.sh's figures from its results file, whose lines are
``<round> <who> <figure> <jobs> <jobs/s>`` (who: ``timehook``, the peer's name, or ``disk`` for
the fdatasync floor measured beside them).

    python peers_table.py <results> <round>   that round's rows
    python peers_table.py <results>           each row's median over the rounds, with the runs

The ratio is timehook ÷ peer, jobs/s over jobs/s: above 1, timehook stores faster. Against
the peer `Rust` (the same call from Rust) it is the binding's share of the core's speed (goal: 0.85x
or more, within 15 %).
"""

import statistics
import sys
from collections import defaultdict
from pathlib import Path

# (row, timehook's figure, the peer, the peer's figure). The Rust figures are named for their job
# count, the same as the binding's: `{n}` stands for it.
ROWS = [
    ("Python: schedule_many vs add_job", "python_many", "APScheduler", "python_add_job"),
    ("Python: schedule_many vs the same in Rust", "python_many", "Rust", "rust_many_{n}"),
    ("Python: single schedule() vs add_job", "python_single", "APScheduler", "python_add_job"),
    ("Node: scheduleMany vs addBulk", "node_many", "BullMQ", "node_many"),
    ("Node: scheduleMany vs the same in Rust", "node_many", "Rust", "rust_many_{n}"),
    ("Node: 64 concurrent schedule vs add", "node_concurrent", "BullMQ", "node_concurrent"),
    ("Node: sequential schedule vs add", "node_sequential", "BullMQ", "node_sequential"),
    (
        "Node: sequential, durability normal vs add",
        "node_sequential_normal",
        "BullMQ",
        "node_sequential",
    ),
]


def thousands(n: float) -> str:
    return f"{n / 1000:g}k" if n >= 1000 else f"{n:g}"


def main() -> None:
    only = sys.argv[2] if len(sys.argv) > 2 else None
    rates = defaultdict(list)
    jobs = {}
    rounds = set()
    for line in Path(sys.argv[1]).read_text().splitlines():
        round_, who, figure, n, rate = line.split()
        if only is None or round_ == only:
            rounds.add(round_)
            rates[who, figure].append(int(rate))
            jobs[who, figure] = int(n)

    def cell(who: str, figure: str) -> str:
        runs = rates[who, figure]
        unit = "calls" if who == "disk" else "jobs"
        text = f"{statistics.median(runs):,.0f}/s ({thousands(jobs[who, figure])} {unit})"
        return text if only else f"{text}, runs {', '.join(f'{r:,}' for r in runs)}"

    print(f"round {only}:" if only else f"medians of {len(rounds)} round{'s' * (len(rounds) > 1)}:")
    width = max(len(row) for row, *_ in ROWS)
    if rates["disk", "fdatasync"]:
        print(f"  {'fdatasync of a 4 KB block, rewritten':<{width}}  {cell('disk', 'fdatasync')}")
    for row, mine, peer, theirs in ROWS:
        if not rates["timehook", mine]:
            continue
        theirs = theirs.format(n=jobs["timehook", mine])
        if not rates[peer, theirs]:
            continue
        ratio = statistics.median(rates["timehook", mine]) / statistics.median(rates[peer, theirs])
        print(
            f"  {row:<{width}}  timehook {cell('timehook', mine)}; "
            f"{peer} {cell(peer, theirs)}; timehook ÷ {peer} {ratio:.{2 if ratio < 10 else 0}f}x"
        )


if __name__ == "__main__":
    main()
