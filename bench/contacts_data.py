"""Deterministic contact CSVs for the benchmarks.

    python bench/contacts_data.py OUT.csv [--rows 1000000] [--tags-per-row 3] [--mobile-share 0.0] [--skew]

Columns: email, full_name, city, country, plan (an unknown column, so it lands in attributes), tags (distinct names
from a vocabulary of 40, comma-separated, quoted), and mobile for --mobile-share of the rows (valid +44 7xxx
numbers). Tags are drawn uniformly, or with --skew from a Zipf-like law (the first tag is on most contacts, the
last on a few percent), which is what real tag vocabularies look like.
"""

import argparse
import csv
import random
from pathlib import Path

CITIES = ["London", "Leeds", "Hyderabad", "Pune", "Lagos", "Austin", "Lyon", "Kraków", "São Paulo", "Osaka"]
COUNTRIES = ["GB", "GB", "IN", "IN", "NG", "US", "FR", "PL", "BR", "JP"]
PLANS = ["free", "pro", "team", "enterprise"]
TAGS = [f"interest-{n:02d}" for n in range(30)] + [
    "vip",
    "red sneakers",
    "newsletter",
    "wishlist",
    "churn-risk",
    "beta",
    "app-user",
    "black-friday",
    "returning",
    "referral",
]


def _draw(rng: random.Random, k: int, weights: list[float] | None) -> list[str]:
    if weights is None:
        return rng.sample(TAGS, k)
    chosen: dict[str, None] = {}
    while len(chosen) < k:
        chosen.update(dict.fromkeys(rng.choices(TAGS, weights=weights, k=k - len(chosen))))
    return list(chosen)


def write(path: Path, *, rows: int, tags_per_row: int, mobile_share: float, skew: bool = False, seed: int = 5) -> None:
    rng = random.Random(seed)
    weights = [1 / (rank + 1) for rank in range(len(TAGS))] if skew else None
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "mobile", "full_name", "city", "country", "plan", "tags"])
        for n in range(rows):
            place = rng.randrange(len(CITIES))
            mobile = f"+4479{n:08d}" if rng.random() < mobile_share else ""
            writer.writerow(
                [
                    f"user{n}@example{n % 97}.com",
                    mobile,
                    f"Person {n}",
                    CITIES[place],
                    COUNTRIES[place],
                    PLANS[n % 4],
                    ",".join(_draw(rng, tags_per_row, weights)),
                ]
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tags-per-row", type=int, default=3)
    parser.add_argument("--mobile-share", type=float, default=0.0)
    parser.add_argument("--skew", action="store_true")
    args = parser.parse_args()
    write(args.out, rows=args.rows, tags_per_row=args.tags_per_row, mobile_share=args.mobile_share, skew=args.skew)


if __name__ == "__main__":
    main()
